"""Training: SGD with momentum on a dataset held in device memory.

The whole canonical dataset (uint8) sits on the device; each step indexes a batch out of it,
normalises and augments it there.  Every epoch ends with an atomic checkpoint, so a killed or
preempted run resumes where it stopped.  The batch order, augmentation and activation noise of epoch
``e`` come from a generator seeded by (seed, e), so a resumed run draws exactly what an uninterrupted
one would.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import sys
import time
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from . import data, models, status
from .atomic import written
from .cpu_speed import keep_freed_memory
from .provenance import git_state, machine, nvidia_driver, run_code, sha256
from .settings import RunSettings

log = logging.getLogger(__name__)

EVAL_CHUNK = 4096  # images per forward pass when evaluating whole splits; does not change results


def learning_rate(settings: RunSettings, epoch: int) -> float:
    """lr_start at the first epoch, lr_end at the last, following ``schedule``; times
    ``lr_factor`` (1 unless the run scales the learning rate with its batch size)."""
    progress = epoch / max(settings.epochs - 1, 1)
    if settings.schedule == "cosine":
        scheduled = settings.lr_end + (settings.lr_start - settings.lr_end) * (1 + math.cos(math.pi * progress)) / 2
    else:
        scheduled = (
            settings.lr_start * (settings.lr_end / settings.lr_start) ** progress
        )  # exponential: a straight line on a log scale
    return scheduled * lr_factor(settings, epoch)


def lr_factor(settings: RunSettings, epoch: int) -> float:
    """The remedy lr_scaling (Goyal et al. 2017): k = batch size / base batch size (linear) or
    sqrt(k) (sqrt), reached after a warm-up that rises linearly from 1 at epoch 0 to the full
    factor at epoch ``warmup_epochs``.  1 without the remedy."""
    if settings.lr_scaling == "none":
        return 1.0
    k = batch_size(settings, epoch) / settings.base_batch_size
    factor = k if settings.lr_scaling == "linear" else math.sqrt(k)
    if epoch < settings.warmup_epochs:
        return 1 + (factor - 1) * epoch / settings.warmup_epochs
    return factor


def batch_size(settings: RunSettings, epoch: int) -> int:
    """The run's batch size, or the switch batch size from the switch epoch on (Table 11)."""
    if settings.switch and epoch >= settings.switch["epoch"]:
        return settings.switch["batch_size"]
    return settings.batch_size


def crop_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random 4-pixel-padded crop and horizontal flip, per image, on x's device."""
    n, c, h, w = x.shape
    padded = F.pad(x, (4, 4, 4, 4))
    dy = torch.randint(0, 9, (n, 1, 1, 1), generator=generator, device=x.device)
    dx = torch.randint(0, 9, (n, 1, 1, 1), generator=generator, device=x.device)
    rows = (dy + torch.arange(h, device=x.device).view(1, 1, h, 1)).expand(n, c, h, w + 8)
    crops = padded.gather(2, rows)
    cols = (dx + torch.arange(w, device=x.device).view(1, 1, 1, w)).expand(n, c, h, w)
    crops = crops.gather(3, cols)
    flip = torch.rand(n, 1, 1, 1, generator=generator, device=x.device) < 0.5
    return torch.where(flip, crops.flip(3), crops)


@torch.no_grad()
def evaluate(model, x_uint8, labels, normalization, memory_format) -> tuple[float, float]:
    """Mean cross-entropy and error rate (%) over a whole split, in eval mode; ``normalization``:
    the dataset's (``data.normalization``)."""
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=labels.device)
    wrong = torch.zeros((), dtype=torch.int64, device=labels.device)
    for i in range(0, len(labels), EVAL_CHUNK):
        x = data.normalize(x_uint8[i : i + EVAL_CHUNK], normalization).contiguous(memory_format=memory_format)
        y = labels[i : i + EVAL_CHUNK]
        logits = model(x).float()
        loss_sum += F.cross_entropy(logits, y, reduction="sum").double()
        wrong += (logits.argmax(1) != y).sum()
    return loss_sum.item() / len(labels), 100.0 * wrong.item() / len(labels)


@torch.no_grad()
def weight_penalty(model, weight_decay: float) -> float:
    """lambda/2 times the sum of squared parameters: the term whose gradient SGD's
    ``weight_decay=lambda`` adds, and PyTorch adds it for every parameter (conv and linear weights
    and biases, batch norm's weights and biases).  Cross-entropy plus this is the objective SGD
    minimises; the paper's training losses (0.0733 at 0.00% training error, Table 5) look like it."""
    return weight_decay / 2 * sum(p.double().pow(2).sum() for p in model.parameters()).item()


def losses(train_cross_entropy: float, test_cross_entropy: float, penalty: float) -> dict[str, float]:
    """Both losses a run records, for train and test: the cross-entropy and the objective (the
    cross-entropy plus the weight penalty).  Which one a table calls its loss is the config's
    ``reported_loss`` (tables.read_summaries)."""
    return {
        "train_cross_entropy": train_cross_entropy,
        "test_cross_entropy": test_cross_entropy,
        "weight_penalty": penalty,
        "train_objective": train_cross_entropy + penalty,
        "test_objective": test_cross_entropy + penalty,
    }


def _save(obj, path: Path) -> None:
    with written(path) as partial:
        torch.save(obj, partial)


HISTORY_COLUMNS = [
    "epoch",
    "lr",
    "batch_size",
    "train_cross_entropy",
    "train_error",
    "test_cross_entropy",
    "test_error",
    "weight_penalty",
    "train_objective",
    "test_objective",
    "seconds",
    "images_per_second",
]


def _write_metrics(history: list[dict], path: Path) -> None:
    with written(path) as partial:
        pd.DataFrame(history, columns=HISTORY_COLUMNS).to_csv(partial, index=False)


EPOCH_LINE = (
    "epoch {epoch:3d}  lr {lr:.2e}  bs {batch_size:5d}  "
    "train cross-entropy {train_cross_entropy:.4f}  err {train_error:6.2f}%  "
    "test cross-entropy {test_cross_entropy:.4f}  err {test_error:6.2f}%  {images_per_second:8.0f} img/s"
)


def _where_and_how(model, device: torch.device) -> dict:
    """What a summary records beside the settings and results: the machine and the libraries."""
    return {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "host": socket.gethostname(),
        "machine": machine(torch.cuda.get_device_name(device) if device.type == "cuda" else None),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "threads": torch.get_num_threads(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "versions": _library_versions(device),
    }


def _library_versions(device: torch.device) -> dict:
    import numpy
    import torchvision

    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
        "cuda": torch.version.cuda,
        "nvidia_driver": nvidia_driver() if device.type == "cuda" else None,
    }


def run_epoch(
    step,
    optimizer,
    x_train,
    y_train,
    settings: RunSettings,
    epoch: int,
    memory_format=torch.contiguous_format,
    progress: bool = False,
    normalization=None,
) -> tuple[float, float, int]:
    """One epoch of SGD over uint8 training images already on the device: one pass over them, or
    with regime adaptation several (``RunSettings.passes_per_epoch``), each in its own order.
    ``normalization``: the dataset's (default: ``data.normalization`` of its name and ``x_train``).

    Returns the mean training loss, the training error (%) and the number of images seen.  The
    batch order, augmentation and activation noise come from a generator seeded by (seed, epoch).
    """
    device = x_train.device
    if normalization is None:
        normalization = data.normalization(settings.dataset, x_train)
    bs = batch_size(settings, epoch)
    generator = torch.Generator(device).manual_seed(settings.seed * 1_000_003 + epoch)
    orders = [
        torch.randperm(len(y_train), generator=generator, device=device) for _ in range(settings.passes_per_epoch(bs))
    ]
    stop = len(y_train) - len(y_train) % bs if settings.drop_last else len(y_train)
    for activation in models.noisy_activations(step):
        activation.generator = generator
    step.train()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    wrong = torch.zeros((), dtype=torch.int64, device=device)
    batches = [order[i : i + bs] for order in orders for i in range(0, stop, bs)]
    if progress:
        from tqdm import tqdm

        batches = tqdm(batches, desc=f"epoch {epoch + 1}/{settings.epochs}", leave=False)
    for index in batches:
        x = data.normalize(x_train[index], normalization)
        if settings.augment == "crop_flip":
            x = crop_flip(x, generator)
        x = x.contiguous(memory_format=memory_format)
        y = y_train[index]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=settings.precision == "bf16"):
            logits = step(x)
        loss = F.cross_entropy(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach().double() * len(y)  # summed on the device: no synchronisation per step
        wrong += (logits.detach().argmax(1) != y).sum()
    seen = stop * len(orders)
    return loss_sum.item() / seen, 100.0 * wrong.item() / seen, seen


def compiled(model, settings: RunSettings, device: torch.device):
    """The modules the training steps and the evaluation call.

    ``cuda_graphs`` compiles the model in torch.compile's reduce-overhead mode, which records each
    step's kernels once as a CUDA graph and then replays it in one launch: small batches are
    launch-bound on GPUs (docs/gpus.md).  A CPU launches nothing, so there it is a no-op.
    ``compile`` alone compiles the training steps in the default mode, and evaluation stays eager.
    """
    if settings.cuda_graphs and device.type == "cuda":
        graphed = torch.compile(model, mode="reduce-overhead")
        return graphed, graphed
    if settings.cuda_graphs:
        log.info("cuda_graphs is a no-op on the CPU")
    return (torch.compile(model) if settings.compile else model), model


def _configure(settings: RunSettings, device: torch.device) -> None:
    """Deterministic kernels when the run asks for them, and the CPU's allocator kept warm."""
    if settings.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = True
    if device.type == "cpu":
        keep_freed_memory()


def _resume(
    checkpoint: Path, settings: RunSettings, model, optimizer, device: torch.device, code: dict
) -> tuple[list[dict], int, dict, dict]:
    """The metrics so far, the epochs done, the code the run started with and the snapshots taken
    (weights files by epoch), from the checkpoint of an interrupted run with the same settings (its
    model and optimizer loaded); for a new run none, and ``code``, the checkout's state now."""
    if not checkpoint.exists():
        return [], 0, code, {}
    state = torch.load(checkpoint, map_location=device, weights_only=False)
    if state["settings"] != settings.as_dict():
        log.info("ignoring %s: it was written with other settings", checkpoint)
        return [], 0, code, {}
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    log.info("resumed from %s after epoch %d", checkpoint, state["epoch"])
    return state["history"], state["epoch"], state.get("code_start", code), state.get("snapshots", {})


def _train_epoch(
    settings, epoch, model, step, optimizer, splits, evaluate_split, memory_format, normalization
) -> dict | None:
    """One epoch at its learning rate and batch size, then the test set: the epoch's row of metrics,
    or None when the training loss stopped being finite (the run diverged)."""
    tic = time.time()
    lr, bs = learning_rate(settings, epoch), batch_size(settings, epoch)
    for group in optimizer.param_groups:
        group["lr"] = lr
    progress = sys.stderr.isatty()
    train_cross_entropy, train_error, seen = run_epoch(
        step, optimizer, splits["x_train"], splits["y_train"], settings, epoch, memory_format, progress, normalization
    )
    if not math.isfinite(train_cross_entropy):
        log.warning(
            "epoch %d: training loss is %s; stopping (status '%s')", epoch + 1, train_cross_entropy, status.DIVERGED
        )
        return None
    test_cross_entropy, test_error = evaluate_split(splits["x_test"], splits["y_test"])
    seconds = time.time() - tic
    # the epoch's running training loss (train mode, weights moving) and the penalty at its end
    return {
        "epoch": epoch + 1,
        "lr": lr,
        "batch_size": bs,
        "train_error": train_error,
        "test_error": test_error,
        **losses(train_cross_entropy, test_cross_entropy, weight_penalty(model, settings.weight_decay)),
        "seconds": seconds,
        "images_per_second": seen / seconds,
    }


def train(
    settings: RunSettings,
    dataset_path: Path,
    weights: Path,
    metrics: Path,
    summary: Path,
    checkpoint: Path,
    snapshots: dict[int, Path],
    device: torch.device,
    checkout: Path | None = None,
    published: Path | None = None,
) -> dict:
    """Train one run; write final weights, per-epoch metrics (CSV) and a summary (JSON).

    The summary records the git state of the checkout holding ``checkout`` (default: this package's)
    when the run started and when it ended, leaving out the publication folder ``published``, and
    the SHA-256 of the dataset file: not part of the settings (a new commit retrains nothing)."""
    started = time.time()
    checkout = Path(__file__).parent if checkout is None else checkout
    code_now = git_state(checkout, exclude=published)
    dataset_sha256 = sha256(dataset_path)
    _configure(settings, device)
    splits = data.load(dataset_path, device)
    x_train, y_train, x_test, y_test = splits["x_train"], splits["y_train"], splits["x_test"], splits["y_test"]
    normalization = data.normalization(settings.dataset, x_train)
    # channels-last speeds up GPU convolutions but slows CPU ones (measured: docs/speed.md), so CPUs skip it
    channels_last = settings.channels_last and device.type == "cuda"
    memory_format = torch.channels_last if channels_last else torch.contiguous_format

    torch.manual_seed(settings.seed)
    model = models.from_settings(settings).to(device, memory_format=memory_format)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=settings.lr_start, momentum=settings.momentum, weight_decay=settings.weight_decay
    )
    step, evaluator = compiled(model, settings, device)

    def evaluate_split(x, y):
        return evaluate(evaluator, x, y, normalization, memory_format)

    # the untrained network, written before any resume: Snakemake removes an incomplete job's outputs
    # before it reruns, and the seed rebuilds these weights exactly (a resumed run once got its final
    # weights here instead)
    if 0 in snapshots and not snapshots[0].exists():
        _save(weights_file(model, settings), snapshots[0])
    history, first_epoch, code_start, taken = _resume(checkpoint, settings, model, optimizer, device, code_now)
    for epoch, weights_then in taken.items():  # the snapshots before the resume, from the checkpoint
        if epoch in snapshots and not snapshots[epoch].exists():
            _save(weights_then, snapshots[epoch])

    outcome = status.OK
    for epoch in range(first_epoch, settings.epochs):
        row = _train_epoch(
            settings, epoch, model, step, optimizer, splits, evaluate_split, memory_format, normalization
        )
        if row is None:
            outcome = status.DIVERGED
            break
        history.append(row)
        log.info(EPOCH_LINE.format(**row))
        if epoch + 1 in snapshots:
            taken[epoch + 1] = weights_file(model, settings)
            _save(taken[epoch + 1], snapshots[epoch + 1])
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "history": history}
        state.update(epoch=epoch + 1, code_start=code_start, snapshots=taken)
        _save({"settings": settings.as_dict(), **state}, checkpoint)
        _write_metrics(history, metrics)  # every epoch, so that a running job can be followed and plotted

    final = {"train_error": math.nan, "test_error": math.nan, **losses(math.nan, math.nan, math.nan)}
    if outcome == status.OK:  # on the whole splits, in eval mode
        train_cross_entropy, final["train_error"] = evaluate_split(x_train, y_train)
        test_cross_entropy, final["test_error"] = evaluate_split(x_test, y_test)
        final.update(losses(train_cross_entropy, test_cross_entropy, weight_penalty(model, settings.weight_decay)))
    for path in snapshots.values():  # a diverged run has no weights for the epochs it never reached
        if not path.exists():
            _save(weights_file(model, settings, outcome), path)
    _save(weights_file(model, settings, outcome), weights)
    _write_metrics(history, metrics)
    result = {
        "status": outcome,
        **settings.as_dict(),
        "epochs_completed": len(history),
        **final,
        "wall_seconds": time.time() - started,
        **_where_and_how(model, device),
        "git": run_code(code_start, git_state(checkout, exclude=published)),
        "dataset_sha256": dataset_sha256,
    }
    Path(summary).write_text(json.dumps(result, indent=2, allow_nan=True))
    checkpoint.unlink(missing_ok=True)
    log.info("done: %s", {k: result[k] for k in ("status", *final)})
    return result


def weights_file(model, settings: RunSettings, outcome: str = status.OK) -> dict:
    """What a weights file holds: the settings that rebuild the model (``models.from_weights``), the
    run's status and the state dict."""
    return {
        "settings": settings.as_dict(),
        "status": outcome,
        # a copy (.cpu() of a CPU tensor is the tensor itself): the checkpoint keeps snapshots as training goes on
        "state": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
    }
