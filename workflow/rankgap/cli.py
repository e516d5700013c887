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

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from torch import nn

from . import data, models, probe, status, user_code
from .api import HIDDEN_STATES, MODES, PRECISIONS, THRESHOLDS, InputError, default_device, describe_layers, measure
from .settings import RunSettings

IMAGE_KEYS = ("x_train", "x")  # the array a dataset file's batch is drawn from, the first one present
# the file arguments: (argparse's name, what the file is, how a message names the argument)
FILES = (("model", "model file", "the first argument, MODEL"), ("data", "data file", "the second argument, DATA"))
KWARGS_EXAMPLE = """--factory-kwargs '{"num_classes": 10}'"""  # its syntax, as a shell takes it

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


def _is_state_dict(saved) -> bool:
    return isinstance(saved, dict) and bool(saved) and all(isinstance(v, torch.Tensor) for v in saved.values())


def load_model(path: Path, factory: str | None = None, factory_kwargs: str = "{}") -> nn.Module:
    """The model saved in ``path``: a pipeline run's weights, a whole pickled module, or a state dict
    that the function ``factory`` names builds the model for."""
    if not path.is_file():
        raise InputError(f"model file {path} does not exist")
    try:
        kwargs = json.loads(factory_kwargs)
    except json.JSONDecodeError as error:
        raise InputError(f"--factory-kwargs {factory_kwargs}: not JSON ({error}); e.g. {KWARGS_EXAMPLE}") from error
    if not isinstance(kwargs, dict):
        raise InputError(f"--factory-kwargs {factory_kwargs}: expected a JSON object, e.g. {KWARGS_EXAMPLE}")
    try:
        if path.suffix == ".safetensors" and factory:  # a bare state dict, as safetensors.torch.save_file writes it
            saved = load_file(str(path))
        elif path.suffix == ".safetensors":  # a published run's weights (models.save_safetensors)
            saved = models.read_safetensors(path)
        else:
            saved = torch.load(path, map_location="cpu", weights_only=False, pickle_module=user_code)
    except models.NoSettingsError as error:  # a bare state dict in safetensors
        raise InputError(
            f"{path} holds a state dict without a pipeline run's settings: name the function that builds "
            "its model with --factory MODULE:FUNCTION (and --factory-kwargs)"
        ) from error
    except Exception as error:  # not a torch file, or a pickled class that cannot be imported here
        raise InputError(
            f"cannot load {path}: {error}. A whole model saved with torch.save(model) needs its "
            "class importable: installed, or its module in the current folder"
        ) from error
    if factory:
        if not _is_state_dict(saved):
            raise InputError(
                f"{path} holds a {type(saved).__name__}, not a state dict: --factory goes with a file "
                "saved with torch.save(model.state_dict())"
            )
        try:
            model = user_code.import_function(factory)(**kwargs)
        except (ImportError, ValueError) as error:
            raise InputError(f"--factory {factory}: {error}") from error
        state = saved
    elif isinstance(saved, nn.Module):
        return saved
    elif isinstance(saved, dict) and {"settings", "state"} <= saved.keys():  # a pipeline run's weights.pt
        if status.of(saved) != status.OK:
            raise InputError(f"{path}: the run did not finish (status {saved['status']}); its weights hold NaN")
        model = models.from_settings(RunSettings.from_dict(saved["settings"]))
        state = saved["state"]
    elif _is_state_dict(saved):
        raise InputError(
            f"{path} holds a state dict: name the function that builds its model with "
            "--factory MODULE:FUNCTION (and --factory-kwargs)"
        )
    else:
        raise InputError(
            f"{path} holds a {type(saved).__name__}: expected a pipeline run's weights.pt, a model "
            "saved with torch.save(model), or a state dict with --factory"
        )
    try:
        model.load_state_dict(state)
    except RuntimeError as error:  # missing or unexpected keys, other shapes
        if factory and "size mismatch" in str(error):  # most often the factory's arguments: num_classes, width...
            built = f"--factory-kwargs '{factory_kwargs}'" if kwargs else "no --factory-kwargs"
            raise InputError(
                f"the state dict in {path} does not fit the model that --factory {factory} builds with {built}: "
                "sizes differ. Give the factory the keyword arguments the saved model was built with, as a "
                f"JSON object, e.g. {KWARGS_EXAMPLE}. torch's message: {error}"
            ) from error
        raise InputError(f"the state dict in {path} does not fit the model: {error}") from error
    return model


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


def is_model_folder(path: Path) -> bool:
    """A Hugging Face model folder, as save_pretrained writes it: config.json beside the weights."""
    return path.is_dir() and (path / "config.json").is_file()


def load_pretrained(folder: Path):
    """(model, tokenizer) of a model folder, from the folder alone (no network)."""
    try:
        import transformers
    except ImportError:
        raise InputError(
            f"{folder} is a Hugging Face model folder: opening it needs the transformers library "
            "(pip install transformers)"
        ) from None
    try:
        model = transformers.AutoModel.from_pretrained(folder, local_files_only=True)
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as error:
        raise InputError(f"cannot open the model folder {folder} offline: {error}") from error
    if tokenizer.pad_token is None:  # GPT-2's, among others: padded positions are masked out anyway
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return model, tokenizer


def load_texts(path: Path) -> list[str]:
    if path.suffix != ".txt":
        raise InputError(f"data file {path}: a model folder measures texts: give a .txt file, one text per line")
    texts = [line for line in path.read_text().splitlines() if line.strip()]
    if not texts:
        raise InputError(f"data file {path} holds no text: one text per line")
    return texts


def load_images(path: Path, array: str | None = None) -> tuple[torch.Tensor, str, str | None]:
    """(images, the array's name, the pipeline dataset the file holds or None) of a dataset file:
    its ``array``, by default the first of IMAGE_KEYS it has."""
    if not path.is_file():
        raise InputError(f"data file {path} does not exist")
    wanted = (array,) if array else IMAGE_KEYS
    if path.suffix == ".safetensors":
        with safe_open(str(path), "pt") as f:
            keys, dataset = list(f.keys()), (f.metadata() or {}).get("dataset")
            key = next((k for k in wanted if k in keys), None)
            images = f.get_tensor(key) if key else None
    elif path.suffix == ".npz":
        with np.load(path) as arrays:
            keys, dataset = list(arrays.keys()), None
            key = next((k for k in wanted if k in keys), None)
            images = torch.from_numpy(arrays[key]) if key else None
    else:
        raise InputError(f"data file {path}: expected a .safetensors or .npz file")
    if key is None:
        raise InputError(f"data file {path} has no array {' or '.join(wanted)}; it has: {', '.join(keys)}")
    return images, key, dataset


def standardised(batch: torch.Tensor, images: torch.Tensor, dataset: str | None) -> tuple[torch.Tensor, str]:
    """The batch as the model takes it, and how it was made: uint8 images scaled to [0, 1] and
    standardised per channel as the pipeline does (``data.normalization``: its published values
    for a built-in dataset, else the mean and std of all ``images``); floats as they are."""
    if batch.dtype != torch.uint8:  # floats, or token ids
        return batch, "as stored"
    if images.ndim != 4:
        raise InputError(
            f"uint8 images of shape {tuple(images.shape)}: expected N x C x H x W, or floats as the model takes them"
        )
    statistics = data.normalization(dataset, images)
    x = data.normalize(batch, statistics, dtype=torch.float64)
    if dataset in data.NORMALIZATION:
        return x, f"the pipeline's normalisation of {dataset}"

    def listed(values: tuple[float, ...]) -> str:
        return ", ".join(f"{v:.4f}" for v in values)

    mean, std = statistics
    return x, f"standardised with the file's per-channel mean ({listed(mean)}) and std ({listed(std)})"


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
