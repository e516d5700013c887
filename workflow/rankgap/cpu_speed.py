"""CPU speed tricks: the same results as PyTorch's, faster on a CPU (docs/speed.md,
benchmarks/train_speed.py).  Nothing here changes what a model computes or how it is trained.
"""

from __future__ import annotations

import ctypes

import torch
from torch import nn

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def keep_freed_memory() -> None:
    """Have glibc keep freed blocks for reuse rather than hand them back to the kernel.

    By default glibc gives blocks of a few MiB (a batch's activations) their own memory mapping and
    unmaps them when they are freed, so each CPU training step page-faults its activations in anew:
    about a tenth of a LeNet-5 step here (docs/speed.md).  A training process allocates the same sizes at
    every step, so keeping them costs no more memory than its peak.  A no-op without glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(M_MMAP_THRESHOLD, 32 << 20)  # blocks up to 32 MiB (glibc's ceiling) come from the heap
    libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)  # whose free top is kept up to 1 GiB


class _MaxPool2x2OnCPU(torch.autograd.Function):
    """max_pool2d(x, 2) as the maximum of each window's four corners, taken over strided views."""

    @staticmethod
    def forward(ctx, x):
        h, w = x.shape[-2:]
        top_left, top_right = x[..., 0 : h - 1 : 2, 0 : w - 1 : 2], x[..., 0 : h - 1 : 2, 1::2]
        bottom_left, bottom_right = x[..., 1::2, 0 : w - 1 : 2], x[..., 1::2, 1::2]
        top, bottom = torch.maximum(top_left, top_right), torch.maximum(bottom_left, bottom_right)
        if ctx.needs_input_grad[0]:  # training, not evaluation or activation dumps
            # max_pool2d's own indices: the flat position of each window's first maximum in raster
            # order (strict comparisons leave ties to the earlier corner), so its backward applies
            lower, right_top, right_bottom = bottom > top, top_right > top_left, bottom_right > bottom_left
            right = right_top ^ (lower & (right_top ^ right_bottom))
            corner = torch.arange(0, h - 1, 2).view(-1, 1) * w + torch.arange(0, w - 1, 2)
            ctx.save_for_backward(x, torch.add(corner, lower, alpha=w).add_(right))
        return torch.maximum(top, bottom)

    @staticmethod
    def backward(ctx, grad):
        x, index = ctx.saved_tensors
        return torch.ops.aten.max_pool2d_with_indices_backward(grad, x, [2, 2], [2, 2], [0, 0], [1, 1], False, index)


class MaxPool2x2(nn.MaxPool2d):
    """nn.MaxPool2d(2), with its own CPU kernel: same outputs and gradients (ties included), faster.

    PyTorch's CPU max pooling walks an NCHW tensor one window at a time, which took a fifth of a
    LeNet-5 training step on our CPU; the maximum over strided views is vectorised (measured:
    docs/speed.md, benchmarks/train_speed.py).  Other devices use PyTorch's kernel.
    """

    def __init__(self):
        super().__init__(2)

    def forward(self, x):
        return _MaxPool2x2OnCPU.apply(x) if x.device.type == "cpu" else super().forward(x)
