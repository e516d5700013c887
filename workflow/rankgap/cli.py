"""``rankgap-measure``: near-rank loss of a saved model's layers on a batch from a dataset file.

A command line over ``api.measure``: it loads the model and the images, takes the batch as the
pipeline's probe does, measures, and writes the tables and a figure.  ``rankgap-measure --help``
says how; ``python -m rankgap.cli`` is the same command.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

from . import probe
from .api import HIDDEN_STATES, MODES, PRECISIONS, THRESHOLDS, InputError, describe_layers, measure
from .measure_files import (
    is_model_folder,
    load_images,
    load_model,
    load_pretrained,
    load_texts,
    standardised,
)
from .measure_inputs import default_device

# the file arguments: (argparse's name, what the file is, how a message names the argument)
FILES = (("model", "model file", "the first argument, MODEL"), ("data", "data file", "the second argument, DATA"))

EXAMPLES = """\
examples:
  # a pipeline run's weights on the pipeline's dataset file: the pipeline's own probe batch
  rankgap-measure results/runs/demo_bn/digits/bs256-seed0/weights.pt data/digits.safetensors --batch-size 256

  # a whole model saved with torch.save(model), on images in a .npz file, the last block only
  rankgap-measure model.pt images.npz --layers 'layer4.*' --out measured/

  # a state dict, and the function that builds its model (keyword arguments as JSON)
  rankgap-measure state.pt images.npz --factory torchvision.models:resnet18 --factory-kwargs '{"num_classes": 10}'

  # a transformer on token ids (an .npz whose x_train is N x tokens, int64), each encoder layer's
  # output (batch x tokens x hidden), its modes named
  rankgap-measure encoder.pt tokens.npz --layers 'encoder.layers.?' --axes token hidden

  # a Hugging Face model folder (config.json, model.safetensors and its tokenizer, as save_pretrained
  # writes them; opened offline) on a text file, one text per line: its hidden states, padding left out
  rankgap-measure my-model/ texts.txt --batch-size 16 --max-tokens 256 --precision model

  # the names --layers matches against
  rankgap-measure model.pt --list-layers

It writes into --out: spectra.csv (every singular value), modes.csv (per layer and mode: shape,
deficit, all-zero rows and columns, tolerance, sigma_max...), counts.csv (per layer, mode and
threshold: the count and its parts: dead_zeros + other_zeros + genuine = count, the deficit beside
it, not in it), components.pdf/.png (the count and its parts per layer) and measurement.json (what
was measured).  The columns are the pipeline's: see docs/rank_analysis.md in the repository.
"""


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rankgap-measure",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EXAMPLES,
        description="Count the small singular values (near-rank loss) of a model's layer outputs on a batch of "
        "images or sequences, per layer and HOSVD mode, in float64.",
    )
    p.add_argument(
        "model",
        type=Path,
        help="a saved model: a Hugging Face model folder (config.json and its weights, with its tokenizer: "
        "what save_pretrained writes; opened offline, with the transformers library); a pipeline run's "
        "weights.pt, or a published run's weights (.safetensors); a whole "
        "model saved with torch.save(model) "
        "(its class must be importable: installed, or in the current folder); or a state dict "
        "saved with torch.save(model.state_dict()) or as a bare .safetensors file, with --factory. "
        "Loading runs the file's "
        "pickled code: load only files you trust",
    )
    p.add_argument(
        "data",
        type=Path,
        nargs="?",
        help="the inputs: for a model folder, a text file (.txt, one text per line, tokenized by the "
        "folder's tokenizer with padding); else a .safetensors file (the pipeline's "
        "data/DATASET.safetensors) or a .npz file, holding an array x_train or x, batch first "
        "(N x C x H x W for images, N x tokens for "
        "token ids, N x tokens x features for sequences of vectors). uint8 images are scaled to "
        "[0, 1] and standardised per channel with the mean and std of all the file's images (the "
        "pipeline's values for its own datasets); other integers (token ids) and floats are taken "
        "as they are: save what your model takes",
    )
    p.add_argument(
        "--factory",
        metavar="MODULE:FUNCTION",
        help="the function that builds the model a state dict belongs to, e.g. torchvision.models:resnet18",
    )
    p.add_argument(
        "--factory-kwargs",
        metavar="JSON",
        default="{}",
        help="its keyword arguments, as a JSON object, e.g. '{\"num_classes\": 10}'",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=256,
        help="images in the batch (default: %(default)s); at most the file's",
    )
    p.add_argument(
        "--max-tokens",
        type=positive_int,
        default=512,
        help="a model folder's texts: tokens per text at most, longer ones truncated (default: %(default)s)",
    )
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="float64",
        help="float64: a float64 copy of the model runs (the paper's exact counts); model: the model runs in its "
        "own dtype, each output cast to float64 for its SVD (docs/measure.md: which thresholds that resolves) "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--array",
        metavar="NAME",
        help="the array of the data file the batch is drawn from, e.g. x_test (the pipeline's fixed test "
        "probe); default: x_train, or x",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="the batch is the first BATCH_SIZE images of a permutation seeded by SEED, as in the "
        "pipeline's probe: a smaller batch is part of a larger one (default: %(default)s)",
    )
    p.add_argument(
        "--thresholds",
        type=float,
        nargs="+",
        default=list(THRESHOLDS),
        metavar="T",
        help="count singular values at or below each (default: the paper's %(default)s)",
    )
    p.add_argument(
        "--relative",
        action="store_true",
        help="count singular values at or below T times the largest of each unfolding instead",
    )
    p.add_argument(
        "--layers",
        nargs="+",
        metavar="PATTERN",
        help="the modules to measure, by name: fnmatch patterns such as 'layer4.*' or 'features.?' "
        "(see --list-layers), or hidden_states (a Hugging Face model's); default: a model folder's hidden "
        "states, else every activation module (ReLU, GELU, SiLU, LeakyReLU, Tanh, the pipeline's identity "
        "activation, transformers' own)",
    )
    p.add_argument(
        "--select",
        metavar="INDEX_OR_KEY",
        help="for layers that return a tuple or a dict (attention blocks, most transformer layers): the "
        "index or key of the tensor to measure",
    )
    p.add_argument(
        "--axes",
        nargs="+",
        metavar="NAME",
        help="names of the modes after the batch's, for outputs of that many dimensions plus one, e.g. "
        "token hidden (default: channel height width for images, axis1 axis2... otherwise)",
    )
    p.add_argument("--list-layers", action="store_true", help="print the model's layers (name and type) and stop")
    p.add_argument(
        "--mode",
        choices=MODES,
        default="eval",
        help="eval: batch norm uses its running statistics, dropout is off; train: batch norm uses the "
        "batch's own statistics (default: %(default)s)",
    )
    p.add_argument(
        "--device",
        help="where the forward pass and the SVDs run: cpu, cuda, cuda:1... (default: cuda when there is a GPU)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("measurement"),
        help="folder for the tables and the figure (default: %(default)s)",
    )
    return p


def check_files(args: argparse.Namespace) -> None:
    """Every file argument there and readable, before anything is loaded: a message that names the
    file and the argument it came from."""
    for name, what, argument in FILES:
        path = getattr(args, name)
        if path is None:
            continue
        if not path.exists():
            raise InputError(f"{what} {path} ({argument}) does not exist")
        if name == "model" and is_model_folder(path):
            continue
        if not path.is_file():
            raise InputError(
                f"{what} {path} ({argument}) is a folder, not a file"
                + (" (a model folder holds config.json: this one does not)" if name == "model" else "")
            )
        try:
            path.open("rb").close()
        except OSError as error:
            raise InputError(f"{what} {path} ({argument}) cannot be read: {error.strerror}") from error


def check_batch_size(args: argparse.Namespace, available: int, what: str) -> None:
    if args.batch_size > available:
        raise InputError(
            f"--batch-size {args.batch_size} is larger than the {available} {what}; use at most {available}"
        )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return measure_command(args)
    except InputError as error:
        print(f"rankgap-measure: error: {error}", file=sys.stderr)
        return 2


def measure_command(args: argparse.Namespace) -> int:
    check_files(args)
    if args.list_layers:
        folder = is_model_folder(args.model)
        model = load_pretrained(args.model)[0] if folder else load_model(args.model, args.factory, args.factory_kwargs)
        print(describe_layers(model))
        return 0
    if args.data is None:
        raise InputError("no data file: give the images to measure on after the model (or --list-layers)")
    if args.out.exists() and not args.out.is_dir():
        raise InputError(f"--out {args.out} is a file: name a folder for the tables and the figure")
    if is_model_folder(args.model):
        model, tokenizer = load_pretrained(args.model)
        texts, key = load_texts(args.data), "lines"
        check_batch_size(args, len(texts), "texts")
        chosen = [texts[i] for i in probe.batch_indices(len(texts), args.batch_size, args.seed)]
        batch = tokenizer(chosen, padding=True, truncation=True, max_length=args.max_tokens, return_tensors="pt")
        preparation = f"tokenized by the folder's tokenizer, padded (masked out), at most {args.max_tokens} tokens"
        layers = args.layers or HIDDEN_STATES
    else:
        model = load_model(args.model, args.factory, args.factory_kwargs)
        images, key, dataset = load_images(args.data, args.array)
        check_batch_size(args, len(images), f"images in {args.data} ({key})")
        batch, preparation = standardised(
            images[probe.batch_indices(len(images), args.batch_size, args.seed)], images, dataset
        )
        del images
        layers = args.layers
    if layers == [HIDDEN_STATES]:
        layers = HIDDEN_STATES
    select = int(args.select) if args.select is not None and args.select.lstrip("-").isdigit() else args.select
    result = measure(
        model,
        batch,
        layers,
        args.thresholds,
        args.mode,
        args.device,
        args.relative,
        select=select,
        axes=tuple(args.axes) if args.axes else None,
        precision=args.precision,
    )
    paths = result.save(args.out)
    description = (
        f"{args.model.name} on {args.batch_size} samples of {args.data.name} ({args.mode} mode"
        + (", thresholds relative to sigma_max" if args.relative else "")
        + ")"
    )
    drawn = draw_components(result, description, args.out)
    settings = {
        "model": str(args.model),
        "factory": args.factory,
        "factory_kwargs": json.loads(args.factory_kwargs),
        "data": str(args.data),
        "array": key,
        "input": preparation,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "thresholds": args.thresholds,
        "relative": args.relative,
        "layers": layers,
        "max_tokens": args.max_tokens if is_model_folder(args.model) else None,
        "precision": args.precision,
        "select": select,
        "axes": args.axes,
        "mode": args.mode,
        "device": str(args.device or default_device()),
        "measured": list(result.modes["layer"].unique()),
    }
    (args.out / "measurement.json").write_text(json.dumps(settings, indent=2))
    print(f"{description}: {len(settings['measured'])} layers, input {preparation}")
    print(result.totals().to_string())  # per threshold: the count and its parts, the deficit apart
    print("wrote " + ", ".join(str(p) for p in [*paths, *drawn, args.out / "measurement.json"]))
    if not drawn:
        print("components.pdf/.png not drawn: plotting is in the pipeline extra (pip install 'rankgap[pipeline]')")
    return 0


def draw_components(result, description: str, out: Path) -> list[Path]:
    """The figure of the count and its parts per layer, where seaborn is installed (the pipeline
    extra; a lean install measures without it): its paths, none when not drawn."""
    if importlib.util.find_spec("seaborn") is None:
        return []
    from . import figures

    paths = [out / "components.pdf", out / "components.png"]
    figures.layer_components(result.counts, description, *paths)
    return paths


if __name__ == "__main__":
    sys.exit(main())
