"""Datasets: download with checksums, convert once to a compact canonical file, load into memory.

The canonical file of a dataset is one safetensors file holding uint8 images (N, C, H, W) and int64
labels for the train and test splits.  It loads straight onto a device, so training never goes
through a per-sample DataLoader.

Raw files come from the official locations that torchvision lists (with torchvision's MD5s), or
from a mirror: a base URL (``https://``, ``http://``, ``file://`` or a local folder) under which each dataset's
files sit as ``{mirror}/{dataset}/{filename}``.  Files already present and intact in
the raw folder (``{data_dir}/raw/{dataset}/`` in the pipeline) are not downloaded again, so pre-downloaded files work offline.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import shutil
import tarfile
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torchvision.datasets as tvd
from safetensors.torch import load_file, save_file
from torchvision.datasets.utils import download_url

from .settings import SHAPES


# Per-channel mean and std of the training images (in [0, 1]); the usual published values.
NORMALIZATION = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashion_mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "digits": ((0.1556,), (0.2771,)),  # measured on our 28x28 framing
}

Splits = dict[str, torch.Tensor]  # x_train, y_train, x_test, y_test


class ChecksumError(RuntimeError):
    pass


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_idx(path: Path) -> np.ndarray:
    """IDX format (MNIST family): big-endian magic, dims, then uint8 data."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _parse_mnist(raw: Path) -> Splits:
    def images(name):
        return torch.from_numpy(_read_idx(raw / name).copy()).unsqueeze(1)

    def labels(name):
        return torch.from_numpy(_read_idx(raw / name).astype(np.int64))

    return {
        "x_train": images("train-images-idx3-ubyte.gz"),
        "y_train": labels("train-labels-idx1-ubyte.gz"),
        "x_test": images("t10k-images-idx3-ubyte.gz"),
        "y_test": labels("t10k-labels-idx1-ubyte.gz"),
    }


def _cifar_parser(folder: str, train: list[str], test: list[str], label_key: str):
    """CIFAR python pickles: rows of 3072 uint8 (RGB planes), labels under ``label_key``."""

    def parse(raw: Path) -> Splits:
        archive = next(raw.glob("*.tar.gz"))
        with tarfile.open(archive) as tar:
            tar.extractall(raw, filter="data")

        def split(names):
            xs, ys = [], []
            for name in names:
                with open(raw / folder / name, "rb") as f:
                    batch = pickle.load(f, encoding="latin1")
                xs.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
                ys.append(np.asarray(batch[label_key], dtype=np.int64))
            return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))

        x_train, y_train = split(train)
        x_test, y_test = split(test)
        return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}

    return parse


def _digits() -> Splits:
    """scikit-learn's bundled 8x8 handwritten digits (values 0-16), framed like MNIST:
    scaled to 20x20 and centred in 28x28, so the MNIST-family models take them unchanged."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) * (255 / 16)
    x = torch.nn.functional.interpolate(x, size=20, mode="bilinear", align_corners=False)
    x = torch.nn.functional.pad(x, (4, 4, 4, 4)).round().clamp(0, 255).to(torch.uint8)
    y = torch.tensor(bunch.target, dtype=torch.int64)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    n_train = SHAPES["digits"].train
    train, test = order[:n_train], order[n_train:]
    return {"x_train": x[train], "y_train": y[train], "x_test": x[test], "y_test": y[test]}


@dataclass(frozen=True)
class Source:
    """Where a dataset's raw files live and how to turn them into splits."""

    urls: tuple[str, ...]  # official base URLs, tried in order
    files: tuple[tuple[str, str], ...]  # (filename, md5)
    parse: Callable[[Path], Splits]


def _cifar_source(cls, label_key: str) -> Source:
    return Source(
        (cls.url.rsplit("/", 1)[0] + "/",),
        ((cls.filename, cls.tgz_md5),),
        _cifar_parser(cls.base_folder, [n for n, _ in cls.train_list], [n for n, _ in cls.test_list], label_key),
    )


SOURCES = {
    "mnist": Source(tuple(tvd.MNIST.mirrors), tuple(tvd.MNIST.resources), _parse_mnist),
    "fashion_mnist": Source(tuple(tvd.FashionMNIST.mirrors), tuple(tvd.FashionMNIST.resources), _parse_mnist),
    "cifar10": _cifar_source(tvd.CIFAR10, "labels"),
    "cifar100": _cifar_source(tvd.CIFAR100, "fine_labels"),
}


def _fetch(url: str, raw: Path, filename: str, md5: str) -> None:
    """One file from one location; a local mirror (file:// or a plain path) is copied."""
    if "://" not in url or url.startswith("file://"):
        local = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path)) if "://" in url else Path(url)
        shutil.copyfile(local, raw / filename)
        if _md5(raw / filename) != md5:
            raise ChecksumError("wrong MD5")
    else:
        download_url(url, str(raw), filename, md5)


def _download(dataset: str, filename: str, md5: str, urls: list[str], raw: Path) -> None:
    path = raw / filename
    if path.exists() and _md5(path) == md5:
        return
    errors = []
    for url in urls:
        try:
            _fetch(url, raw, filename, md5)
            return
        except Exception as error:  # network errors, missing files, wrong checksums
            got = _md5(path) if path.exists() else None
            path.unlink(missing_ok=True)  # never leave a corrupt file to be trusted later
            reason = f"MD5 {got}, expected {md5} (corrupt or truncated file)" if got else str(error)
            errors.append(f"  {url}: {reason}")
    raise ChecksumError(
        f"could not get {filename} for dataset '{dataset}' with MD5 {md5}:\n" + "\n".join(errors)
        + f"\nPlace the file in {raw}/ by hand, or set `mirror` in the config to a base URL "
        f"holding {{mirror}}/{dataset}/{filename}."
    )


def prepare(dataset: str, out: Path, raw: Path, mirror: str | None = None, sources=SOURCES) -> None:
    """Download into ``raw`` (unless intact files are there already), verify and convert ``dataset``
    into the canonical file ``out``.

    ``out`` is written atomically: a failed download or parse leaves no canonical file behind.
    """
    out = Path(out)
    if dataset == "digits":
        splits = _digits()
    else:
        source = sources[dataset]
        raw = Path(raw)
        raw.mkdir(parents=True, exist_ok=True)
        for filename, md5 in source.files:
            urls = [f"{mirror.rstrip('/')}/{dataset}/{filename}"] if mirror else [u + filename for u in source.urls]
            _download(dataset, filename, md5, urls, raw)
        splits = source.parse(raw)
    check(dataset, splits)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    save_file({k: v.contiguous() for k, v in splits.items()}, str(partial), metadata={"dataset": dataset})
    os.replace(partial, out)


def check(dataset: str, splits: Splits) -> None:
    """The parsed arrays must match what the config validation assumed about the dataset."""
    shape = SHAPES[dataset]
    expected = {
        "x_train": (shape.train, shape.channels, shape.size, shape.size),
        "x_test": (shape.test, shape.channels, shape.size, shape.size),
        "y_train": (shape.train,),
        "y_test": (shape.test,),
    }
    for key, dims in expected.items():
        if tuple(splits[key].shape) != dims:
            raise ValueError(f"dataset '{dataset}': {key} has shape {tuple(splits[key].shape)}, expected {dims}")
    labels = torch.cat([splits["y_train"], splits["y_test"]])
    if labels.min() < 0 or labels.max() >= shape.classes:
        raise ValueError(f"dataset '{dataset}': labels outside 0..{shape.classes - 1}")


def load(path: Path, device: str | torch.device = "cpu") -> Splits:
    """The canonical file, straight onto ``device``."""
    return load_file(str(path), device=str(device))


def normalize(x_uint8: torch.Tensor, dataset: str, dtype=torch.float32) -> torch.Tensor:
    """uint8 images to normalised floats, on whatever device they are."""
    mean, std = NORMALIZATION[dataset]
    mean = torch.tensor(mean, dtype=dtype, device=x_uint8.device).view(1, -1, 1, 1)
    std = torch.tensor(std, dtype=dtype, device=x_uint8.device).view(1, -1, 1, 1)
    return (x_uint8.to(dtype) / 255 - mean) / std
