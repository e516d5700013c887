"""Training speed of the pipeline's trainer per model and batch size (run it on a GPU machine).

Datasets are synthetic (random uint8 images of the real sizes): speed does not depend on pixel
values, and GPU machines often cannot download.  Each configuration trains ``--epochs`` epochs;
the last epoch (the first one pays for cuDNN autotuning and compilation) is reported, in the
pipeline's own per-epoch metrics: images/s and seconds, test-set evaluation included.

    python benchmarks/gpu_training.py                 # LeNet-5, ResNet-56, VGG-16 at 128 and 2048
    python benchmarks/gpu_training.py --quick         # tiny check on a CPU
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from safetensors.torch import save_file

from rankgap import train  # noqa: E402
from rankgap.registry import SHAPES  # noqa: E402
from rankgap.settings import default_settings  # noqa: E402

GRID = [("lenet5", "mnist", "none"), ("resnet56", "cifar10", "crop_flip"), ("vgg16", "cifar10", "crop_flip")]


def synthetic_dataset(name: str, folder: Path, scale: float) -> Path:
    shape = SHAPES[name]
    n_train, n_test = int(shape.train * scale), int(shape.test * scale)
    g = torch.Generator().manual_seed(0)
    size = (shape.channels, shape.size, shape.size)
    tensors = {
        "x_train": torch.randint(0, 256, (n_train, *size), generator=g, dtype=torch.uint8),
        "y_train": torch.randint(0, shape.classes, (n_train,), generator=g),
        "x_test": torch.randint(0, 256, (n_test, *size), generator=g, dtype=torch.uint8),
        "y_test": torch.randint(0, shape.classes, (n_test,), generator=g),
    }
    path = folder / f"{name}.safetensors"
    save_file(tensors, str(path))
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="1%% of the data, LeNet-5 only (a CPU check)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 2048])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--models", nargs="+", default=[m for m, _, _ in GRID])
    parser.add_argument("--compile", nargs="+", default=["off"], choices=["off", "on"])
    parser.add_argument("--channels-last", nargs="+", default=["on"], choices=["off", "on"])
    parser.add_argument("--csv", type=Path, help="also write the results here")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    card = torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu"
    grid = GRID[:1] if args.quick else [g for g in GRID if g[0] in args.models]
    options = [(p, c == "on", cl == "on") for p in args.precisions for c in args.compile for cl in args.channels_last]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for model, dataset, augment in grid:
            path = synthetic_dataset(dataset, tmp, 0.01 if args.quick else 1.0)
            for bs in args.batch_sizes:
                for precision, compiled, channels_last in options:
                    run = default_settings(
                        model=model,
                        variant="bn",
                        dataset=dataset,
                        batch_size=bs,
                        seed=0,
                        epochs=args.epochs,
                        weight_decay=5e-4,
                        augment=augment,
                        precision=precision,
                        compile=compiled,
                        channels_last=channels_last,
                    )
                    out = tmp / f"{model}-{bs}-{precision}-{compiled}-{channels_last}"
                    out.mkdir()
                    tic = time.time()
                    train.train(run, path, out / "w.pt", out / "m.csv", out / "s.json", out / "c.pt", {}, device)
                    last = pd.read_csv(out / "m.csv").iloc[-1]
                    rows.append(
                        {
                            "card": card,
                            "model": model,
                            "dataset": dataset,
                            "batch_size": bs,
                            "precision": precision,
                            "compile": compiled,
                            "channels_last": channels_last,
                            "epoch_seconds": round(last["seconds"], 2),
                            "images_per_second": round(last["images_per_second"]),
                            "total_seconds": round(time.time() - tic, 1),
                        }
                    )
                    print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    print(table.to_markdown(index=False))
    if args.csv:
        table.to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
