"""Near-rank-loss analysis of one run, three ways, in one process; prints times, ratios and counts.

- pipeline: ``svd.analyse`` on the dump (reads it layer by layer, tall orientation, streaming QR);
- baseline: ``tensorly.decomposition.tucker`` at full multilinear rank with its defaults (HOSVD
  initialisation, then HOOI iterations until converged, two here), mode-n singular values read off
  the core (the norms of its slices, by the HOSVD's all-orthogonality);
- limit:    ``torch.linalg.svdvals`` of each unfolding alone, built beforehand in tall orientation.

The run is a LeNet-5 (batch norm) probed at batch 8192 in float64 on MNIST-sized images (digits,
resampled with random shifts: the sizes are what matters for speed).

    python benchmarks/rank_analysis.py [--batch-size 8192] [--model lenet5] [--skip-baseline]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorly as tl
import torch
from safetensors.torch import save_file
from tensorly.decomposition import tucker

from rankgap import data, models, probe, registry, svd  # noqa: E402
from rankgap.settings import default_settings  # noqa: E402

THRESHOLDS = (1e-4, 1e-5)


def probe_batch(batch_size: int, channels: int, size: int) -> torch.Tensor:
    """Digits resampled with random shifts (or random images for 3-channel inputs)."""
    g = torch.Generator().manual_seed(0)
    if channels == 1 and size == 28:
        digits = data._digits()["x_train"]
        x = digits[torch.randint(0, len(digits), (batch_size,), generator=g)]
        shifts = torch.randint(-3, 4, (batch_size, 2), generator=g)
        return torch.stack([torch.roll(img, tuple(s.tolist()), dims=(1, 2)) for img, s in zip(x, shifts)])
    return torch.randint(0, 256, (batch_size, channels, size, size), generator=g, dtype=torch.uint8)


def tucker_spectra(x: torch.Tensor) -> list[np.ndarray]:
    dims = [min(x.shape[n], x.numel() // x.shape[n]) for n in range(x.ndim)]
    core, _ = tucker(x, rank=dims)  # as a user would call it: HOSVD init, HOOI until converged
    return [  # a matrix's two modes share one spectrum: count it once, as the pipeline does
        torch.sort(torch.linalg.vector_norm(tl.unfold(core, n), dim=1), descending=True).values.cpu().numpy()
        for n in range(len(svd.mode_names(x.ndim)))
    ]


def counts(spectra: list[np.ndarray]) -> dict:
    return {t: int(sum((s <= t).sum() for s in spectra)) for t in THRESHOLDS}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=8192)
    parser.add_argument("--model", default="lenet5", choices=list(registry.MODELS))
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--skip-baseline", action="store_true", help="tucker is slow on big models")
    parser.add_argument("--device", default="cpu", help="cpu or cuda: where all three compute")
    args = parser.parse_args()
    tl.set_backend("pytorch")
    shape = data.SHAPES[args.dataset]
    run = default_settings(
        model=args.model, variant="bn", dataset=args.dataset, batch_size=1, seed=0, epochs=1, weight_decay=0
    )
    torch.manual_seed(0)
    weights = {"settings": run.as_dict(), "state": models.from_settings(run).state_dict()}
    batch = probe_batch(args.batch_size, shape.channels, shape.size).to(args.device)
    outputs = {name: x.cpu() for name, x in probe.activations(weights, batch, data.NORMALIZATION[args.dataset]).items()}
    largest = max(x.numel() * 8 for x in outputs.values()) / 2**30
    where = torch.cuda.get_device_name() if args.device == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(
        f"{args.model} at batch {args.batch_size}: {len(outputs)} layers, largest {largest:.2f} GiB in float64, {where}"
    )

    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "activations.safetensors"
        save_file(outputs, str(dump), metadata={"layers": __import__("json").dumps(list(outputs))})
        tic = time.perf_counter()
        spectra, _ = svd.analyse(dump, args.device)
        pipeline = time.perf_counter() - tic
    pipeline_counts = {t: int((spectra["sigma"] <= t).sum()) for t in THRESHOLDS}

    outputs = {name: x.to(args.device) for name, x in outputs.items()}
    unfoldings = []
    for x in outputs.values():
        for n in range(len(svd.mode_names(x.ndim))):
            u = tl.unfold(x, n)
            unfoldings.append((u if u.shape[0] >= u.shape[1] else u.T).contiguous())
    tic = time.perf_counter()
    limit_spectra = [torch.linalg.svdvals(u).cpu().numpy() for u in unfoldings]
    limit = time.perf_counter() - tic
    del unfoldings

    print(f"pipeline  {pipeline:8.2f} s  counts {pipeline_counts}")
    print(f"limit     {limit:8.2f} s  counts {counts(limit_spectra)}   pipeline / limit = {pipeline / limit:.2f}")
    if not args.skip_baseline:
        tic = time.perf_counter()
        baseline_spectra = [s for x in outputs.values() for s in tucker_spectra(x)]
        baseline = time.perf_counter() - tic
        print(
            f"baseline  {baseline:8.2f} s  counts {counts(baseline_spectra)}   baseline / pipeline = "
            f"{baseline / pipeline:.1f}"
        )


if __name__ == "__main__":
    main()
