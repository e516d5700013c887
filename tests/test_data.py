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
import yaml

from conftest import REPO, copy_project, snakemake
from rankgap import data


@pytest.fixture(autouse=True)
def no_system_folders(monkeypatch):
    """No distribution's dataset folder unless a test names one: this machine may have Debian's."""
    monkeypatch.setattr(data, "SYSTEM_FOLDERS", {})


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
        batch = {
            "data": pattern_images(10000, (3072,)) * 0 + (rows % 251).astype(np.uint8)[:, None],
            "labels": list(rows % 10),
        }
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
        name: dataclasses.replace(
            data.SOURCES[name], files=tuple((f, md5(root / name / f)) for f, _ in data.SOURCES[name].files)
        )
        for name in ("mnist", "cifar10")
    }


def content_md5s(folder: Path) -> dict:
    """filename -> MD5 of the decompressed content of each .gz file in ``folder``."""
    return {f.name: hashlib.md5(gzip.decompress(f.read_bytes())).hexdigest() for f in folder.glob("*.gz")}


def mnist_source(root: Path) -> dict:
    """sources_for's mnist, with the decompressed MD5s of the test's files known too."""
    return {"mnist": dataclasses.replace(sources_for(root)["mnist"], content_md5s=content_md5s(root / "mnist"))}


def recompressed(src: Path, dest: Path) -> Path:
    """A folder ``dest`` with the files of ``src`` gzip'd again at another level and timestamp, as a
    distribution may ship them: same content, other archive MD5s."""
    dest.mkdir()
    for f in src.iterdir():
        (dest / f.name).write_bytes(gzip.compress(gzip.decompress(f.read_bytes()), compresslevel=6, mtime=0))
    return dest


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


def test_folder_source_accepted_by_decompressed_checksum(mirror, tmp_path):
    root, _ = mirror
    folder = recompressed(root / "mnist", tmp_path / "have")
    sources = mnist_source(root)
    images = "train-images-idx3-ubyte.gz"
    assert md5(folder / images) != dict(sources["mnist"].files)[images]  # the archive MD5 alone would refuse it
    out = tmp_path / "mnist.safetensors"
    data.prepare("mnist", out, tmp_path / "raw", mirror="http://127.0.0.1:9", folder=str(folder), sources=sources)
    assert (tmp_path / "raw" / images).read_bytes() == (folder / images).read_bytes()  # copied as it is
    splits = data.load(out)
    assert (splits["x_train"][1234] == 1234 % 251).all() and splits["y_test"][0] == 3


def test_folder_with_wrong_content_is_refused_and_leaves_nothing(mirror, tmp_path):
    root, _ = mirror
    folder = recompressed(root / "mnist", tmp_path / "have")
    labels = "train-labels-idx1-ubyte.gz"
    idx((np.arange(60000) + 1) % 10, folder / labels)  # well-formed, but other labels
    wrong_archive = md5(folder / labels)
    wrong_content = hashlib.md5(gzip.decompress((folder / labels).read_bytes())).hexdigest()
    sources = mnist_source(root)
    right_archive, right_content = dict(sources["mnist"].files)[labels], sources["mnist"].content_md5s[labels]
    out = tmp_path / "mnist.safetensors"
    with pytest.raises(data.ChecksumError) as error:
        data.prepare("mnist", out, tmp_path / "raw", mirror="http://127.0.0.1:9", folder=str(folder), sources=sources)
    message = str(error.value)
    assert f"{folder / labels}: archive MD5 {wrong_archive}, decompressed MD5 {wrong_content}" in message
    assert f"archive MD5 {right_archive} or decompressed MD5 {right_content}" in message
    assert not list(tmp_path.glob("mnist.safetensors*"))
    assert not list((tmp_path / "raw").glob(labels + "*"))  # neither the file nor a .partial copy


def test_system_folder_found_without_config(mirror, tmp_path, monkeypatch):
    root, _ = mirror
    monkeypatch.setattr(data, "SYSTEM_FOLDERS", {"mnist": (tmp_path / "not-installed", root / "mnist")})
    out = tmp_path / "mnist.safetensors"
    data.prepare("mnist", out, tmp_path / "raw", mirror="http://127.0.0.1:9", sources=sources_for(root))
    assert data.load(out)["x_train"].shape[0] == 60000


def test_configured_folder_comes_before_system_folders(mirror, tmp_path, monkeypatch):
    root, _ = mirror
    folder = recompressed(root / "mnist", tmp_path / "have")
    monkeypatch.setattr(data, "SYSTEM_FOLDERS", {"mnist": (root / "mnist",)})
    data.prepare(
        "mnist", tmp_path / "mnist.safetensors", tmp_path / "raw", folder=str(folder), sources=mnist_source(root)
    )
    for f in folder.iterdir():
        assert (tmp_path / "raw" / f.name).read_bytes() == f.read_bytes()


def test_config_sources_reach_the_dataset_rule(tmp_path):
    """`sources` in the config is the folder the dataset rule looks in: its files, wrong here, are
    named in the rule's error (the official MD5s are the real data's, so no test file passes)."""
    project = copy_project(tmp_path / "project")
    folder = tmp_path / "have"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"not the images"))
    config = yaml.safe_load((REPO / "config/smoke.yaml").read_text())
    config.update(sources={"mnist": str(folder)}, mirror="http://127.0.0.1:9", data_dir="data")
    (project / "sources.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(project, "data/mnist.safetensors", "--retries", "0", "--configfile", "sources.yaml", check=False)
    assert result.returncode != 0
    log = (project / "results/logs/dataset/mnist.log").read_text()
    assert f"{folder}/train-images-idx3-ubyte.gz: archive MD5" in log
    assert not (project / "data/mnist.safetensors").exists()


def test_config_sources_name_known_datasets(tmp_path):
    project = copy_project(tmp_path / "project")
    config = yaml.safe_load((REPO / "config/smoke.yaml").read_text())
    config["sources"] = {"fashion-mnist": "/usr/share/datasets/fashion-mnist"}
    (project / "sources.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(project, "--dry-run", "--configfile", "sources.yaml", check=False)
    assert result.returncode != 0
    assert "sources: unknown key 'fashion-mnist' (did you mean 'fashion_mnist'?)" in result.stdout + result.stderr


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
