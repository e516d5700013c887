"""LeNet-5 training epochs three ways in one process; prints seconds per epoch and the ratios.

- pipeline: ``train.run_epoch``, the pipeline's own epoch (uint8 dataset in memory, batches
  indexed out of it and normalised on the fly);
- baseline: torchvision's ``MNIST`` dataset class and a ``torch.utils.data.DataLoader`` applying
  ``ToTensor`` and ``Normalize`` per sample (the usual tutorial loop);
- limit:    forward and backward over batches built beforehand: no data handling at all.

All three train the same model (same init) with the same SGD settings on MNIST-format data of the
real size (60,000 synthetic 28x28 images: speed does not depend on pixel values, and this machine
cannot download MNIST).

    python benchmarks/train_speed.py [--batch-size 128] [--epochs 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torchvision import datasets, transforms

from rankgap import cpu_speed, data, models, train  # noqa: E402
from rankgap.settings import default_settings  # noqa: E402

SETTINGS = default_settings(
    model="lenet5", variant="bn", dataset="mnist", batch_size=128, seed=0, epochs=1, weight_decay=0.0
)


def write_raw_mnist(folder: Path) -> None:
    """The four MNIST files torchvision's class reads, uncompressed and gzipped (for our parser)."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (60000, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 60000, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (10000, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 10000, dtype=np.uint8),
    }
    folder.mkdir(parents=True)
    for name, array in arrays.items():
        raw = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, dtype=">i4").tobytes() + array.tobytes()
        (folder / name).write_bytes(raw)
        with gzip.open(folder / f"{name}.gz", "wb", compresslevel=1) as f:
            f.write(raw)


def fresh_model_and_optimizer():
    torch.manual_seed(0)
    model = models.from_settings(SETTINGS)
    return model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)


def timed_steps(batches) -> float:
    """Seconds to train a fresh model over ``batches`` (any iterable of (images, labels))."""
    model, optimizer = fresh_model_and_optimizer()
    model.train()
    tic = time.perf_counter()
    for x, y in batches:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - tic


def pipeline_epoch(splits, batch_size: int) -> float:
    model, optimizer = fresh_model_and_optimizer()
    tic = time.perf_counter()
    train.run_epoch(
        model, optimizer, splits["x_train"], splits["y_train"], dataclasses.replace(SETTINGS, batch_size=batch_size), 0
    )
    return time.perf_counter() - tic


def dataloader_epoch(root: Path, batch_size: int) -> float:
    mean, std = data.NORMALIZATION["mnist"]
    dataset = datasets.MNIST(
        str(root),
        train=True,
        download=False,
        transform=transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)]),
    )
    return timed_steps(torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True))


def limit_epoch(splits, batch_size: int) -> float:
    x = data.normalize(splits["x_train"], data.NORMALIZATION["mnist"])
    return timed_steps(
        [
            (x[i : i + batch_size].contiguous(), splits["y_train"][i : i + batch_size])
            for i in range(0, len(x), batch_size)
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per way (the best is reported)")
    args = parser.parse_args()
    cpu_speed.keep_freed_memory()  # as train.train does on the CPU; the baseline and the limit gain from it too
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "MNIST" / "raw"
        write_raw_mnist(raw)
        data.prepare(
            "mnist",
            Path(tmp) / "mnist.safetensors",
            raw,
            sources={
                "mnist": data.Source(
                    (), tuple((f.name, data._md5(f)) for f in sorted(raw.glob("*.gz"))), data.SOURCES["mnist"].parse
                )
            },
        )
        splits = data.load(Path(tmp) / "mnist.safetensors")
        times = {"pipeline": [], "baseline": [], "limit": []}
        for _ in range(args.epochs):  # interleaved, so drifting machine load hits all three alike
            times["pipeline"].append(pipeline_epoch(splits, args.batch_size))
            times["baseline"].append(dataloader_epoch(Path(tmp), args.batch_size))
            times["limit"].append(limit_epoch(splits, args.batch_size))
    best = {way: min(t) for way, t in times.items()}
    print(
        f"LeNet-5, 60,000 MNIST-sized images, batch {args.batch_size}, {torch.get_num_threads()} threads, "
        f"best of {args.epochs} epochs"
    )
    for way, seconds in best.items():
        print(f"{way:9s} {seconds:7.2f} s/epoch  {60000 / seconds:8.0f} images/s")
    print(
        f"baseline / pipeline = {best['baseline'] / best['pipeline']:.2f}   "
        f"pipeline / limit = {best['pipeline'] / best['limit']:.2f}"
    )


if __name__ == "__main__":
    main()
