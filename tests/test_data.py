"""Dataset download for real: archives the test makes, served over a loopback HTTP server."""

import dataclasses
import gzip
import hashlib
import http.server
import pickle
import tarfile
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from rankgap import data


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def idx(array: np.ndarray, path: Path) -> None:
    """Write an IDX file (the MNIST format) with gzip."""
    header = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, dtype=">i4").tobytes()
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header + array.astype(np.uint8).tobytes())


def pattern_images(n: int, shape: tuple) -> np.ndarray:
    """Image i is filled with i % 251: cheap to compress, and every image is identifiable."""
    return np.broadcast_to((np.arange(n) % 251).astype(np.uint8).reshape(n, *[1] * len(shape)), (n, *shape))


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    """A mirror folder with MNIST-format and CIFAR-10-format files, served on 127.0.0.1."""
    root = tmp_path_factory.mktemp("mirror")
    mnist = root / "mnist"
    mnist.mkdir()
    idx(pattern_images(60000, (28, 28)), mnist / "train-images-idx3-ubyte.gz")
    idx(np.arange(60000) % 10, mnist / "train-labels-idx1-ubyte.gz")
    idx(pattern_images(10000, (28, 28)), mnist / "t10k-images-idx3-ubyte.gz")
    idx((np.arange(10000) + 3) % 10, mnist / "t10k-labels-idx1-ubyte.gz")

    cifar = root / "cifar10"
    build = tmp_path_factory.mktemp("cifar-build") / "cifar-10-batches-py"
    build.mkdir()
    for i in range(5):
        rows = np.arange(i * 10000, (i + 1) * 10000)
        batch = {"data": pattern_images(10000, (3072,)) * 0 + (rows % 251).astype(np.uint8)[:, None],
                 "labels": list(rows % 10)}
        (build / f"data_batch_{i + 1}").write_bytes(pickle.dumps(batch))
    (build / "test_batch").write_bytes(pickle.dumps({"data": pattern_images(10000, (3072,)), "labels": [7] * 10000}))
    cifar.mkdir()
    with tarfile.open(cifar / "cifar-10-python.tar.gz", "w:gz", compresslevel=1) as tar:
        tar.add(build, arcname="cifar-10-batches-py")

    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def sources_for(root: Path) -> dict:
    """The real sources with the MD5s of the test's own files (the official MD5s are of the real data)."""
    return {
        name: dataclasses.replace(data.SOURCES[name], files=tuple((f, md5(root / name / f)) for f, _ in data.SOURCES[name].files))
        for name in ("mnist", "cifar10")
    }


def test_mnist_download_and_canonical_file(mirror, tmp_path):
    root, url = mirror
    out = tmp_path / "mnist.safetensors"
    data.prepare("mnist", out, tmp_path / "raw", mirror=url, sources=sources_for(root))
    splits = data.load(out)
    assert splits["x_train"].shape == (60000, 1, 28, 28) and splits["x_train"].dtype == torch.uint8
    assert (splits["x_train"][1234] == 1234 % 251).all()
    assert splits["y_train"][:12].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert splits["y_test"][0] == 3 and splits["x_test"].shape == (10000, 1, 28, 28)


def test_cifar_archive_download_and_canonical_file(mirror, tmp_path):
    root, url = mirror
    out = tmp_path / "cifar10.safetensors"
    data.prepare("cifar10", out, tmp_path / "raw", mirror=url, sources=sources_for(root))
    splits = data.load(out)
    assert splits["x_train"].shape == (50000, 3, 32, 32)
    assert (splits["x_train"][43210] == 43210 % 251).all() and splits["y_train"][43210] == 43210 % 10
    assert (splits["y_test"] == 7).all()


def test_pre_downloaded_files_need_no_network(mirror, tmp_path):
    root, _ = mirror
    raw = tmp_path / "raw"
    raw.mkdir()
    for f in (root / "mnist").iterdir():
        (raw / f.name).write_bytes(f.read_bytes())
    out = tmp_path / "mnist.safetensors"
    data.prepare("mnist", out, raw, mirror="http://127.0.0.1:9", sources=sources_for(root))  # port 9: nothing there
    assert data.load(out)["x_train"].shape[0] == 60000


def test_file_url_mirror(mirror, tmp_path):
    root, _ = mirror
    out = tmp_path / "mnist.safetensors"
    data.prepare("mnist", out, tmp_path / "raw", mirror=root.as_uri(), sources=sources_for(root))
    assert out.exists()


@pytest.mark.parametrize("damage", ["truncate", "corrupt"])
def test_bad_archive_is_a_checksum_error_and_leaves_nothing(mirror, tmp_path, damage):
    root, url = mirror
    sources = sources_for(root)  # MD5s of the intact files
    served = tmp_path / "served"
    (served / "mnist").mkdir(parents=True)
    for f in (root / "mnist").iterdir():
        content = f.read_bytes()
        if f.name == "train-labels-idx1-ubyte.gz":
            content = content[: len(content) // 2] if damage == "truncate" else content[:-9] + b"\x00" * 9
        (served / "mnist" / f.name).write_bytes(content)
    out = tmp_path / "mnist.safetensors"
    with pytest.raises(data.ChecksumError, match=r"train-labels-idx1-ubyte\.gz.*MD5"):
        data.prepare("mnist", out, tmp_path / "raw", mirror=served.as_uri(), sources=sources)
    assert not out.exists() and not list(tmp_path.glob("mnist.safetensors*"))
    assert not (tmp_path / "raw" / "train-labels-idx1-ubyte.gz").exists()


def test_unreachable_source_names_the_file_and_the_way_out(tmp_path):
    with pytest.raises(data.ChecksumError, match=r"(?s)could not get train-images-idx3-ubyte\.gz.*mirror"):
        data.prepare("fashion_mnist", tmp_path / "f.safetensors", tmp_path / "raw", mirror="http://127.0.0.1:9")
    assert not (tmp_path / "f.safetensors").exists()


def test_digits_ship_with_scikit_learn(tmp_path):
    out = tmp_path / "digits.safetensors"
    data.prepare("digits", out, tmp_path / "raw")
    splits = data.load(out)
    shape = data.SHAPES["digits"]
    assert splits["x_train"].shape == (shape.train, 1, 28, 28) and splits["x_test"].shape == (shape.test, 1, 28, 28)
    assert splits["x_train"][:, :, :4].max() == 0  # framed like MNIST: a blank 4-pixel border
    assert sorted(splits["y_train"].unique().tolist()) == list(range(10))
