"""rankgap.measure on large models, against the limit: time and peak memory.

For each model (torchvision's ResNet-50 on 64 images of 224 x 224, ViT-B/16 on 32, random weights,
eval mode) two fresh processes run on the same batch: the **limit**, a float64 forward pass whose
hooks take the singular values of every mode-n unfolding of the same layers' outputs
(``torch.linalg.svdvals`` of ``tensorly.unfold``, nothing else), and **measure**, the API itself.
Each process reports its wall time and its peak resident memory above what it held before the
forward pass (VmHWM minus VmRSS: the user's model and batch are already there; both make a float64
copy of the model, as measure must to leave the user's as it was). The largest selected
layer's float64 output is printed beside them. Goals: measure's time at most 1.3x the limit's, its
peak at most 1.5x the limit's (which holds the forward pass, one layer's output and its SVD's
workspace, and nothing of the other layers).

    python benchmarks/measure_scale.py                  # both models (about 15 minutes on 2 cores)
    python benchmarks/measure_scale.py --models vit_b_16 --device cuda
    python benchmarks/measure_scale.py --models resnet50 --only measure --workflow OTHER/workflow  # another checkout
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

WORKFLOW = Path(__file__).resolve().parents[1] / "workflow"
BATCH = {"resnet50": 64, "vit_b_16": 32}

CHILD = """
import copy, json, sys, time
sys.path.insert(0, {workflow!r})
import tensorly as tl
import torch, torchvision
tl.set_backend("pytorch")
from rankgap import api, models, probe

def memory(field):
    line = next(l for l in open("/proc/self/status") if l.startswith(field))
    return int(line.split()[1]) * 1024

torch.manual_seed(0)
device = torch.device({device!r})
model = getattr(torchvision.models, {model!r})().eval()
x = torch.randn({batch}, 3, 224, 224)
names = [name for name, _ in models.select_layers(model)]
largest = 0
if {kind!r} == "limit":

    def svds(name, out):
        global largest
        largest = max(largest, out.numel() * out.element_size())
        for mode in range(out.ndim if out.ndim > 2 else 1):
            torch.linalg.svdvals(tl.unfold(out, mode))

before = memory("VmRSS:")
tic = time.perf_counter()
if {kind!r} == "limit":  # as measure, a float64 copy of the model on the device, the user's left as it was
    probed = copy.deepcopy(model).to(device=device, dtype=torch.float64)
    modules = dict(probed.named_modules())
    probe.capture(probed, x.to(device, torch.float64), [(n, modules[n]) for n in names], keep=svds)
else:
    result = api.measure(model, x, device=device)
    largest = int((result.modes.drop_duplicates("layer").eval("dim * rest") * 8).max())
if device.type == "cuda":
    torch.cuda.synchronize()
print(json.dumps({{"seconds": time.perf_counter() - tic, "peak": memory("VmHWM:") - before, "largest": largest,
                   "layers": len(names), "torch": torch.__version__,
                   "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None}}))
"""


def run(kind: str, model: str, device: str, batch: int, workflow: Path = WORKFLOW) -> dict:
    code = CHILD.format(workflow=str(workflow), device=device, model=model, batch=batch, kind=kind)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(BATCH), choices=list(BATCH))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, help="images per batch (default: the model's above)")
    parser.add_argument("--only", choices=["measure"], help="measure alone (e.g. another checkout's, --workflow)")
    parser.add_argument("--workflow", type=Path, default=WORKFLOW, help="the workflow/ folder whose rankgap runs")
    args = parser.parse_args()
    gib = 2**30
    for model in args.models:
        batch = args.batch or BATCH[model]
        measured = run("measure", model, args.device, batch, args.workflow)
        limit = None if args.only else run("limit", model, args.device, batch, args.workflow)
        where = measured["gpu"] or f"cpu, torch {measured['torch']}"
        print(f"{model}, batch {batch} x 3 x 224 x 224, {measured['layers']} layers, on {where}:")
        print(f"  largest layer's float64 output {measured['largest'] / gib:.2f} GiB")
        for name, r in (("limit", limit), ("measure", measured)):
            if r:
                print(f"  {name:8s} {r['seconds']:7.1f} s   peak above the start {r['peak'] / gib:6.2f} GiB")
        if limit:
            time_ratio, memory_ratio = measured["seconds"] / limit["seconds"], measured["peak"] / limit["peak"]
            print(
                f"  measure / limit: time {time_ratio:.2f}x (goal <= 1.3), "
                f"peak memory {memory_ratio:.2f}x (goal <= 1.5)"
            )


if __name__ == "__main__":
    main()
