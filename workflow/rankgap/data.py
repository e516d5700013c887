"""Datasets: download with checksums, convert once to a compact canonical file, load into memory.

The canonical file of a dataset is one safetensors file holding uint8 images (N, C, H, W) and int64
labels for the train and test splits.  It loads straight onto a device, so training never goes
through a per-sample DataLoader.

The config's own datasets (its ``datasets`` section) are config_dataset.py's; their normalisation
is measured on their training images (``normalization``).

Each raw file of a built-in dataset is looked for, in order: intact in the raw folder
(``{data_dir}/raw/{dataset}/`` in the pipeline), so pre-downloaded files work offline; in a folder
the config names for the dataset (``sources``) under its upstream name; in the folders where a
distribution's package installs the dataset (``SYSTEM_FOLDERS``, used without configuration); then
at a mirror, a base URL (``https://``, ``http://``, ``file://`` or a local folder) holding
``{mirror}/{dataset}/{filename}``, or else at the official locations that torchvision lists. A file
is accepted when its MD5 is torchvision's, or, for a .gz file, when the MD5 of its decompressed
content is known (``Source.content_md5s``): a distribution may recompress the originals. Files from
a folder or mirror are verified, then copied into the raw folder, so the conversion always reads the
same files in the same place.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import pickle
import shutil
import tarfile
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torchvision.datasets as tvd
from safetensors.torch import load_file, save_file
from torchvision.datasets.utils import download_url

from .atomic import written
from .registry import NORMALIZATION, SHAPES

log = logging.getLogger(__name__)

Splits = dict[str, torch.Tensor]  # x_train, y_train, x_test, y_test


class ChecksumError(RuntimeError):
    pass


def _md5(path: Path, decompress: bool = False) -> str:
    """MD5 of a file, or of its gzip-decompressed content."""
    digest = hashlib.md5()
    with (gzip.open if decompress else open)(path, "rb") as f:
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
    """Where a dataset's raw files live, how to recognise them and how to turn them into splits."""

    urls: tuple[str, ...]  # official base URLs, tried in order
    files: tuple[tuple[str, str], ...]  # (filename, MD5 of the file as torchvision lists it)
    parse: Callable[[Path], Splits]
    # filename -> MD5 of a .gz file's decompressed content.  A copy that was recompressed (another
    # gzip level or timestamp, as a distribution's package may ship it) has another archive MD5 but
    # the original content.
    content_md5s: Mapping[str, str] = field(default_factory=dict)


def _cifar_source(cls, label_key: str) -> Source:
    return Source(
        (cls.url.rsplit("/", 1)[0] + "/",),
        ((cls.filename, cls.tgz_md5),),
        _cifar_parser(cls.base_folder, [n for n, _ in cls.train_list], [n for n, _ in cls.test_list], label_key),
    )


SOURCES = {
    "mnist": Source(tuple(tvd.MNIST.mirrors), tuple(tvd.MNIST.resources), _parse_mnist),
    "fashion_mnist": Source(
        tuple(tvd.FashionMNIST.mirrors),
        tuple(tvd.FashionMNIST.resources),
        _parse_mnist,
        # the originals' content; Debian's package dataset-fashion-mnist ships it recompressed
        content_md5s={
            "train-images-idx3-ubyte.gz": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
            "train-labels-idx1-ubyte.gz": "9018921c3c673c538a1fc5bad174d6f9",
            "t10k-images-idx3-ubyte.gz": "8181f5470baa50b63fa0f6fddb340f0a",
            "t10k-labels-idx1-ubyte.gz": "15d484375f8d13e6eb1aabb0c3f46965",
        },
    ),
    "cifar10": _cifar_source(tvd.CIFAR10, "labels"),
    "cifar100": _cifar_source(tvd.CIFAR100, "fine_labels"),
}

BUILT_LOCALLY = {"digits": _digits}  # no download: scikit-learn ships it

# Folders where a distribution's package installs a dataset's raw files under their upstream names;
# looked in without any configuration when they exist.  Only locations known to exist are listed.
SYSTEM_FOLDERS = {
    "fashion_mnist": (Path("/usr/share/datasets/fashion-mnist"),),  # Debian: apt install dataset-fashion-mnist
}


def _expected(md5: str, content_md5: str | None) -> str:
    return f"archive MD5 {md5}" + (f" or decompressed MD5 {content_md5}" if content_md5 else "")


def _mismatch(path: Path, md5: str, content_md5: str | None) -> str | None:
    """None when ``path`` is the right file: its MD5 is ``md5``, or it is gzip-compressed and its
    decompressed content has the MD5 ``content_md5``.  Otherwise what is wrong, with both MD5s."""
    archive = _md5(path)
    if archive == md5:
        return None
    if ".gz" not in path.suffixes:  # also "x.gz.partial", a copy not yet verified
        return f"MD5 {archive}, expected {md5} (corrupt, truncated or another file)"
    try:
        content = _md5(path, decompress=True)
    except (OSError, EOFError, zlib.error) as error:  # not gzip, truncated, corrupt
        content = f"unreadable ({error})"
    if content == content_md5:
        return None
    return (
        f"archive MD5 {archive}, decompressed MD5 {content}; expected {_expected(md5, content_md5)} "
        f"(corrupt, truncated or another file)"
    )


def _local_folder(mirror: str) -> Path | None:
    """The folder a mirror names when it is a file:// URL or a plain path; None for a remote one."""
    if mirror.startswith("file://"):
        return Path(urllib.request.url2pathname(urllib.parse.urlparse(mirror).path))
    return None if "://" in mirror else Path(mirror)


def _locations(dataset: str, filename: str, source: Source, mirror: str | None, folder: str | None) -> list[Path | str]:
    """Where to look for one raw file, in order: the configured folder, the system folders that
    exist, then the mirror or else the official URLs.  Local files are Paths, remote ones URLs."""
    folders = [Path(folder).expanduser()] if folder else []
    folders += [f for f in SYSTEM_FOLDERS.get(dataset, ()) if f.is_dir()]
    locations: list[Path | str] = [f / filename for f in folders]
    if mirror:
        local = _local_folder(mirror)
        locations.append(local / dataset / filename if local else f"{mirror.rstrip('/')}/{dataset}/{filename}")
    else:
        locations += [url + filename for url in source.urls]
    return locations


def _fetch(location: Path | str, dest: Path) -> None:
    """Copy a local file, or download a URL, to ``dest``."""
    if isinstance(location, Path):
        shutil.copyfile(location, dest)
    else:
        download_url(location, str(dest.parent), dest.name)


def _obtain(
    dataset: str, filename: str, md5: str, content_md5: str | None, locations: list[Path | str], raw: Path
) -> None:
    """Make ``raw/filename`` the right file: kept when it already is, else the first location's copy
    that verifies.  Copies land in a ``.partial`` file renamed only once verified, so a failure
    leaves no raw file that could be trusted later."""
    path = raw / filename
    problems = []
    if path.exists():
        problem = _mismatch(path, md5, content_md5)
        if problem is None:
            return
        problems.append(f"  {path} (already there): {problem}")
    partial = path.with_name(filename + ".partial")
    partial.unlink(missing_ok=True)  # left by a killed run; download_url would take it as downloaded
    for location in locations:
        try:
            _fetch(location, partial)
            problem = _mismatch(partial, md5, content_md5)
            if problem is None:
                os.replace(partial, path)
                log.info("%s: %s from %s", dataset, filename, location)
                return
        except Exception as error:  # network errors, missing files
            problem = str(error)
        finally:
            partial.unlink(missing_ok=True)
        log.warning("%s: %s not taken from %s: %s", dataset, filename, location, problem)
        problems.append(f"  {location}: {problem}")
    raise ChecksumError(
        f"could not get {filename} for dataset '{dataset}' with {_expected(md5, content_md5)}:\n"
        + "\n".join(problems)
        + f"\nPlace the file in {raw}/ by hand, set `sources: {{{dataset}: FOLDER}}` in the config to a folder "
        f"holding {filename}, or set `mirror` to a base URL holding {{mirror}}/{dataset}/{filename}."
    )


def prepare(
    dataset: str, out: Path, raw: Path, mirror: str | None = None, folder: str | None = None, sources=SOURCES
) -> None:
    """Get ``dataset``'s raw files into ``raw`` (unless intact files are there already), verified,
    and convert them into the canonical file ``out``.  ``folder`` holds the raw files under their
    upstream names (the config's ``sources``); ``mirror`` replaces the official URLs.

    ``out`` is written atomically: a failed download or parse leaves no canonical file behind.
    """
    out = Path(out)
    if dataset in BUILT_LOCALLY:
        splits = BUILT_LOCALLY[dataset]()
    else:
        source = sources[dataset]
        raw = Path(raw)
        raw.mkdir(parents=True, exist_ok=True)
        for filename, md5 in source.files:
            locations = _locations(dataset, filename, source, mirror, folder)
            _obtain(dataset, filename, md5, source.content_md5s.get(filename), locations, raw)
        splits = source.parse(raw)
    check(dataset, splits)
    save(dataset, splits, out)


def save(dataset: str, splits: Splits, out: Path) -> None:
    """Write the canonical file atomically: a failure leaves none behind."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with written(out) as partial:
        save_file({k: v.contiguous() for k, v in splits.items()}, str(partial), metadata={"dataset": dataset})


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


Normalization = tuple[tuple[float, ...], tuple[float, ...]]  # per-channel mean and std, in [0, 1]


def channel_statistics(images: torch.Tensor) -> Normalization:
    """Per-channel mean and std of uint8 images N x C x H x W, scaled to [0, 1]: exact, from a
    histogram of the 256 values (no float copy of every image)."""
    values = torch.arange(256, dtype=torch.float64) / 255
    frequencies = torch.stack(
        [torch.bincount(images[:, c].reshape(-1), minlength=256).cpu() for c in range(images.shape[1])]
    )
    frequencies = frequencies.to(torch.float64) / frequencies.sum(1, keepdim=True)
    mean = frequencies @ values
    std = (frequencies * (values - mean[:, None]) ** 2).sum(1).sqrt()
    return tuple(mean.tolist()), tuple(std.tolist())


def normalization(dataset: str | None, x_train: torch.Tensor) -> Normalization:
    """A dataset's per-channel mean and std: a built-in's published values, else measured on its
    training images ``x_train`` (uint8)."""
    return NORMALIZATION[dataset] if dataset in NORMALIZATION else channel_statistics(x_train)


def normalize(x_uint8: torch.Tensor, statistics: Normalization, dtype=torch.float32) -> torch.Tensor:
    """uint8 images to floats standardised with ``statistics`` (``normalization``), on whatever
    device they are."""
    mean, std = statistics
    mean = torch.tensor(mean, dtype=dtype, device=x_uint8.device).view(1, -1, 1, 1)
    std = torch.tensor(std, dtype=dtype, device=x_uint8.device).view(1, -1, 1, 1)
    return (x_uint8.to(dtype) / 255 - mean) / std
