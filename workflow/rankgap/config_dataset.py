"""The config's own datasets (its ``datasets`` section, rule config_dataset): a local file (``.npz``
or ``.safetensors``), a folder of images per class or a torchvision dataset class, never from the
network.  ``shape`` reads what the config check needs (image shape, classes, split sizes) and
``prepare`` converts one into the canonical file that data.py loads, as the built-in datasets are.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file
from torchvision.datasets.folder import IMG_EXTENSIONS

from .data import Splits, save
from .registry import Shape

SPLIT_KEYS = ("x_train", "y_train", "x_test", "y_test")


class DatasetError(ValueError):
    """One of the config's own datasets cannot be read as it is: the message names it and what is wrong."""


def _file_splits(name: str, path: Path) -> Splits:
    """The four arrays of a .npz or .safetensors file, as stored."""
    where = f"datasets.{name}.file {path}"
    if not path.is_file():
        raise DatasetError(f"{where} does not exist")
    if path.suffix == ".npz":
        with np.load(path) as arrays:
            stored = {key: torch.from_numpy(arrays[key]) for key in arrays.keys()}
    elif path.suffix == ".safetensors":
        stored = load_file(str(path))
    else:
        raise DatasetError(f"{where}: expected a .npz or .safetensors file")
    missing = [key for key in SPLIT_KEYS if key not in stored]
    if missing:
        raise DatasetError(
            f"{where} has no {', '.join(missing)}; it has {', '.join(stored) or 'nothing'}. "
            f"Expected {', '.join(SPLIT_KEYS)}"
        )
    return {key: stored[key] for key in SPLIT_KEYS}


def _image_folders(name: str, root: Path) -> tuple[list[str], dict[str, list[tuple[Path, int]]]]:
    """The classes (train/'s folders, sorted) and per split the image files with their class."""
    where = f"datasets.{name}.folder {root}"
    classes = sorted(p.name for p in (root / "train").iterdir() if p.is_dir()) if (root / "train").is_dir() else []
    if not classes:
        raise DatasetError(f"{where}: expected train/ and test/, each with a folder of images per class")
    files = {}
    for split in ("train", "test"):
        folders = sorted(p for p in (root / split).glob("*") if p.is_dir())
        unknown = [f.name for f in folders if f.name not in classes]
        if unknown:
            raise DatasetError(f"{where}: {split}/ has classes train/ has not: {', '.join(unknown)}")
        files[split] = [
            (path, classes.index(folder.name))
            for folder in folders
            for path in sorted(folder.iterdir())
            if path.suffix.lower() in IMG_EXTENSIONS
        ]
        if not files[split]:
            raise DatasetError(f"{where}: no images in {split}/ (files ending in {', '.join(IMG_EXTENSIONS)})")
    return classes, files


def _image_array(image, channels: int, where: str) -> np.ndarray:
    """A PIL image as uint8 C x H x W with ``channels`` (1: grayscale, 3: RGB)."""
    if not isinstance(image, Image.Image):
        raise DatasetError(f"{where} is a {type(image).__name__}, not a PIL image")
    array = np.asarray(image.convert("L" if channels == 1 else "RGB"))
    return array[None] if channels == 1 else array.transpose(2, 0, 1)


def _channels(image) -> int:
    """Grayscale images give one channel, any other mode three (RGB)."""
    return 1 if isinstance(image, Image.Image) and image.mode in ("1", "L") else 3


def _stack(name: str, items, channels: int, where) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and labels of (image, label) pairs, every image with ``channels`` and the first one's
    size; ``where(i)`` names item i in messages."""
    arrays, labels = [], []
    for i, (image, label) in enumerate(items):
        array = _image_array(image, channels, where(i))
        if arrays and array.shape != arrays[0].shape:
            raise DatasetError(
                f"datasets.{name}: {where(i)} is {array.shape[2]}x{array.shape[1]}, the first image "
                f"{arrays[0].shape[2]}x{arrays[0].shape[1]}: every image must have the same size"
            )
        arrays.append(array)
        labels.append(int(label))
    return torch.from_numpy(np.stack(arrays)), torch.tensor(labels)


def _opened(pairs: list[tuple[Path, int]]):
    """(image, label) of (path, label) pairs, each image read when its turn comes."""
    for path, label in pairs:
        with Image.open(path) as image:
            image.load()
            yield image, label


def _folder_splits(name: str, root: Path) -> Splits:
    _, files = _image_folders(name, root)
    with Image.open(files["train"][0][0]) as first:  # the first training image decides the channels
        channels = _channels(first)
    splits = {}
    for split, pairs in files.items():
        splits[f"x_{split}"], splits[f"y_{split}"] = _stack(name, _opened(pairs), channels, lambda i, p=pairs: p[i][0])
    return splits


def _torchvision_dataset(name: str, spec: dict, split: str):
    """One split of a torchvision dataset class, from files already under its root: never downloaded."""
    import torchvision.datasets

    class_name = spec["class"].removeprefix("torchvision.datasets.")
    cls = getattr(torchvision.datasets, class_name, None)
    if not isinstance(cls, type):
        raise DatasetError(f"datasets.{name}.torchvision.class: torchvision.datasets has no dataset class {class_name}")
    arguments = {**spec["options"], **spec[split]}
    if "root" in spec:
        arguments["root"] = spec["root"]
    if "download" in inspect.signature(cls).parameters:
        arguments["download"] = False
    try:
        return cls(**arguments)
    except Exception as error:  # missing files, unknown arguments: the class says which
        raise DatasetError(
            f"datasets.{name}: torchvision.datasets.{class_name}({arguments}) failed: {error}"
        ) from error


def _torchvision_splits(name: str, spec: dict) -> Splits:
    datasets = {split: _torchvision_dataset(name, spec, split) for split in ("train", "test")}
    channels = _channels(datasets["train"][0][0])  # the first training image decides
    splits = {}
    for split, dataset in datasets.items():
        items = (dataset[i] for i in range(len(dataset)))
        splits[f"x_{split}"], splits[f"y_{split}"] = _stack(name, items, channels, lambda i, s=split: f"{s} item {i}")
    return splits


def read_splits(name: str, spec: dict) -> Splits:
    """The splits of one of the config's own datasets (``spec``: its entry, with the schema's
    defaults), as stored: check them with ``checked_shape``."""
    if "file" in spec:
        return _file_splits(name, Path(spec["file"]))
    if "folder" in spec:
        return _folder_splits(name, Path(spec["folder"]))
    return _torchvision_splits(name, spec["torchvision"])


def checked_shape(name: str, splits: Splits) -> Shape:
    """What the models and the config check need to know of the splits, which must be uint8
    square images (N x C x H x W, or N x H x W for one channel; made N x 1 x H x W in place) and
    integer labels from 0, one per image.  The number of classes is the largest label plus one."""
    for split in ("train", "test"):
        x, y = splits[f"x_{split}"], splits[f"y_{split}"]
        where = f"datasets.{name}: x_{split}"
        if x.dtype != torch.uint8:
            raise DatasetError(f"{where} is {x.dtype}; expected uint8 images (0 to 255)")
        if x.ndim == 3:
            x = splits[f"x_{split}"] = x.unsqueeze(1)
        if x.ndim != 4 or x.shape[2] != x.shape[3] or not len(x):
            raise DatasetError(
                f"{where} has shape {tuple(x.shape)}; expected one or more square images, "
                f"N x C x H x W (H = W) or N x H x W"
            )
        if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool or y.shape != (len(x),):
            raise DatasetError(
                f"datasets.{name}: y_{split} is {y.dtype} of shape {tuple(y.shape)}; expected "
                f"{len(x)} integer labels, one per image"
            )
        splits[f"y_{split}"] = y.to(torch.int64)
        if y.min() < 0:
            raise DatasetError(f"datasets.{name}: y_{split} has label {y.min().item()}; labels are classes 0, 1, 2...")
    if splits["x_train"].shape[1:] != splits["x_test"].shape[1:]:
        raise DatasetError(
            f"datasets.{name}: training images are {tuple(splits['x_train'].shape[1:])}, test images "
            f"{tuple(splits['x_test'].shape[1:])}; both splits need the same shape"
        )
    _, channels, size, _ = splits["x_train"].shape
    classes = int(torch.cat([splits["y_train"], splits["y_test"]]).max()) + 1
    return Shape(channels, size, classes, len(splits["y_train"]), len(splits["y_test"]))


def shape(name: str, spec: dict) -> Shape:
    """The shape of one of the config's own datasets, for the config check: a file or torchvision
    dataset read whole; a folder from its file list and its first image (``prepare`` reads
    every image, and stops at one of another size)."""
    if "folder" not in spec:
        return checked_shape(name, read_splits(name, spec))
    classes, files = _image_folders(name, Path(spec["folder"]))
    with Image.open(files["train"][0][0]) as image:
        if image.width != image.height:
            raise DatasetError(
                f"datasets.{name}: {files['train'][0][0]} is {image.width}x{image.height}; expected square images"
            )
        return Shape(_channels(image), image.width, len(classes), len(files["train"]), len(files["test"]))


def prepare(name: str, spec: dict, out: Path) -> None:
    """Convert one of the config's own datasets into the canonical file ``out`` (atomically)."""
    splits = read_splits(name, spec)
    checked_shape(name, splits)
    save(name, splits, Path(out))
