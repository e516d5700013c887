"""Peak memory of the near-rank-loss analysis of one run, against its largest layer.

Probes a (randomly initialised) model at a batch size in float64, writes the dump, then analyses
it in a fresh process and prints that process's peak resident memory (VmHWM, which, unlike
ru_maxrss, does not carry the parent's peak over the fork) beside the largest layer's float64
size.  The goal: the analysis streams layer by layer, so its peak (above what the imports take)
stays within about twice the largest layer.

    python benchmarks/rank_memory.py                       # VGG-16, CIFAR-10 shapes, batch 2048
    python benchmarks/rank_memory.py --model lenet5 --dataset mnist --batch-size 8192
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

WORKFLOW = Path(__file__).resolve().parents[1] / "workflow"
from rankgap import data, models, probe, registry  # noqa: E402
from rankgap.settings import default_settings  # noqa: E402

ANALYSE = """
import json, resource, sys, time
sys.path.insert(0, {workflow!r})
from rankgap import svd

def kib(field):  # VmRSS: resident now; VmHWM: this program's peak (reset by exec, unlike ru_maxrss)
    line = next(l for l in open("/proc/self/status") if l.startswith(field))
    return int(line.split()[1]) * 1024

before = kib("VmRSS:")
tic = time.perf_counter()
spectra, modes = svd.analyse({dump!r})
print(json.dumps({{"imports": before, "peak": kib("VmHWM:"), "seconds": time.perf_counter() - tic,
                  "values": len(spectra)}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="vgg16", choices=list(registry.MODELS))
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--dir", type=Path, default=None, help="where to write the dump (several GB for VGG-16)")
    args = parser.parse_args()
    shape = registry.SHAPES[args.dataset]
    run = default_settings(
        model=args.model, variant="bn", dataset=args.dataset, batch_size=1, seed=0, epochs=1, weight_decay=0
    )
    torch.manual_seed(0)
    weights = {"settings": run.as_dict(), "state": models.from_settings(run).state_dict()}
    images = torch.randint(0, 256, (args.batch_size, shape.channels, shape.size, shape.size), dtype=torch.uint8)
    outputs = probe.activations(weights, images, data.NORMALIZATION[args.dataset])
    largest = max(x.numel() * 8 for x in outputs.values())
    total = sum(x.numel() * 8 for x in outputs.values())
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        dump = str(Path(tmp) / "activations.safetensors")
        save_file(outputs, dump, metadata={"layers": json.dumps(list(outputs))})
        del outputs
        result = json.loads(
            subprocess.run(
                [sys.executable, "-c", ANALYSE.format(workflow=str(WORKFLOW), dump=dump)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
    gib = 2**30
    above = result["peak"] - result["imports"]
    print(f"{args.model} at batch {args.batch_size}: dump {total / gib:.2f} GiB, largest layer {largest / gib:.2f} GiB")
    print(
        f"analysis: {result['seconds']:.1f} s, peak {result['peak'] / gib:.2f} GiB "
        f"({result['imports'] / gib:.2f} GiB after imports): {above / gib:.2f} GiB for the analysis = "
        f"{above / largest:.2f} x the largest layer"
    )


if __name__ == "__main__":
    main()
