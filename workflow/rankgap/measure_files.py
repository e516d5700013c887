"""What ``rankgap-measure`` (cli.py) reads: a model (a pipeline run's weights, a pickled module, a
state dict with its factory, a Hugging Face model folder) and a batch (a dataset file's images,
standardised as the pipeline does, or texts), each refused with a message that names the file and
what would be right."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from torch import nn

from . import data, models, status, user_code
from .measure_inputs import InputError
from .settings import RunSettings

IMAGE_KEYS = ("x_train", "x")  # the array a dataset file's batch is drawn from, the first one present
KWARGS_EXAMPLE = """--factory-kwargs '{"num_classes": 10}'"""  # its syntax, as a shell takes it


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
