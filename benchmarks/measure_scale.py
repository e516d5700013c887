"""rankgap.measure on large models, against the limit: time and peak memory.

torchvision's ResNet-50 on 64 images of 224 x 224 and ViT-B/16 on 32 (random weights, eval mode):
two fresh processes run on the same batch: the **limit**, a float64 forward pass whose hooks take
the singular values of every mode-n unfolding of the same layers' outputs (``torch.linalg.svdvals``
of ``tensorly.unfold``, nothing else), and **measure**, the API itself. Goals: measure's time at
most 1.3x the limit's, its peak at most 1.5x the limit's (which holds the forward pass, one layer's
output and its SVD's workspace, and nothing of the other layers).

Hugging Face transformers built from their configs with random weights (``gpt2``: GPT-2 124M and
``bert``: BERT-base, on 16 sequences of 256 tokens, a quarter of each of the last 8 padded; ``vit``:
ViT-B/16 on 16 images), in ``--dtype`` (default bfloat16): the **limit** is the bare forward pass
in that dtype returning the hidden states, and **measure** is ``rankgap.measure(model, batch,
layers="hidden_states", precision="model")`` (no copy, each hidden state cast to float64 for its
SVD). Goal: measure's peak at most 1.5x the limit's; its time is the limit's plus the SVDs.

Each process reports its wall time and its peak resident memory above what it held before the
measurement (VmHWM minus VmRSS: the user's model and batch are already there). The largest
selected layer's float64 output is printed beside them.

    python benchmarks/measure_scale.py                  # ResNet-50 and ViT-B/16 (about 15 minutes on 2 cores)
    python benchmarks/measure_scale.py --models gpt2 bert vit  # transformers (pip install transformers)
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
BATCH = {"resnet50": 64, "vit_b_16": 32, "gpt2": 16, "bert": 16, "vit": 16}
TRANSFORMERS = {"gpt2": "GPT2", "bert": "Bert", "vit": "ViT"}  # the library's class prefixes
TOKENS = 256

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


HUGGING_FACE = """
import json, sys, time
sys.path.insert(0, {workflow!r})
import torch, transformers
from rankgap import api

def memory(field):
    line = next(l for l in open("/proc/self/status") if l.startswith(field))
    return int(line.split()[1]) * 1024

torch.manual_seed(0)
device, dtype = torch.device({device!r}), getattr(torch, {dtype!r})
prefix = {prefix!r}
config = getattr(transformers, prefix + "Config")()
model = getattr(transformers, prefix + "Model")(config).eval().to(device=device, dtype=dtype)
if prefix == "ViT":
    batch = {{"pixel_values": torch.randn({batch}, 3, 224, 224, device=device, dtype=dtype)}}
else:
    ids = torch.randint(1, config.vocab_size, ({batch}, {tokens}), device=device)
    mask = torch.ones_like(ids)
    mask[{batch} // 2 :, 3 * {tokens} // 4 :] = 0  # the last half of the batch: a quarter of padding
    batch = {{"input_ids": ids, "attention_mask": mask}}
before = memory("VmRSS:")
tic = time.perf_counter()
if {kind!r} == "limit":
    with torch.no_grad():
        states = model(**batch, output_hidden_states=True).hidden_states
    layers, largest = len(states), max(s.numel() for s in states) * 8
else:
    result = api.measure(model, batch, layers="hidden_states", precision="model")
    layers = result.modes["layer"].nunique()
    largest = int((result.modes.drop_duplicates("layer").eval("dim * rest") * 8).max())
if device.type == "cuda":
    torch.cuda.synchronize()
print(json.dumps({{"seconds": time.perf_counter() - tic, "peak": memory("VmHWM:") - before, "largest": largest,
                   "layers": layers, "torch": torch.__version__,
                   "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None}}))
"""


def run(kind: str, model: str, device: str, batch: int, workflow: Path = WORKFLOW, dtype: str = "bfloat16") -> dict:
    if model in TRANSFORMERS:
        code = HUGGING_FACE.format(
            workflow=str(workflow),
            device=device,
            prefix=TRANSFORMERS[model],
            batch=batch,
            tokens=TOKENS,
            kind=kind,
            dtype=dtype,
        )
    else:
        code = CHILD.format(workflow=str(workflow), device=device, model=model, batch=batch, kind=kind)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["resnet50", "vit_b_16"], choices=list(BATCH))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, help="images per batch (default: the model's above)")
    parser.add_argument("--only", choices=["measure"], help="measure alone (e.g. another checkout's, --workflow)")
    parser.add_argument("--workflow", type=Path, default=WORKFLOW, help="the workflow/ folder whose rankgap runs")
    parser.add_argument("--dtype", default="bfloat16", help="the transformers' own dtype (default: %(default)s)")
    args = parser.parse_args()
    gib = 2**30
    for model in args.models:
        batch = args.batch or BATCH[model]
        measured = run("measure", model, args.device, batch, args.workflow, args.dtype)
        limit = None if args.only else run("limit", model, args.device, batch, args.workflow, args.dtype)
        where = measured["gpu"] or f"cpu, torch {measured['torch']}"
        shape = f"{batch} x {TOKENS} tokens" if model in ("gpt2", "bert") else f"{batch} x 3 x 224 x 224"
        precision = f", {args.dtype}" if model in TRANSFORMERS else ""
        print(f"{model}, batch {shape}{precision}, {measured['layers']} layers, on {where}:")
        print(f"  largest layer's float64 output {measured['largest'] / gib:.2f} GiB")
        for name, r in (("limit", limit), ("measure", measured)):
            if r:
                print(f"  {name:8s} {r['seconds']:7.1f} s   peak above the start {r['peak'] / gib:6.2f} GiB")
        if limit:
            time_ratio, memory_ratio = measured["seconds"] / limit["seconds"], measured["peak"] / limit["peak"]
            time_goal = "" if model in TRANSFORMERS else " (goal <= 1.3)"  # against a bare forward pass: none
            print(
                f"  measure / limit: time {time_ratio:.2f}x{time_goal}, peak memory {memory_ratio:.2f}x (goal <= 1.5)"
            )


if __name__ == "__main__":
    main()
