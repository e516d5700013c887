"""The real Fashion-MNIST, as Debian's package dataset-fashion-mnist installs it, through the
pipeline's own data path, and LeNet-5 learning from it on the CPU.

Skipped where the package is not installed, unless RANKGAP_REQUIRE_REAL_DATA=1 (CI installs it):
then a missing folder is a failure.
"""

import os
from pathlib import Path

import pytest
import torch
from snakemake.utils import validate

from conftest import REPO
from rankgap import data, settings, train

DEBIAN = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="module")
def fashion_mnist(tmp_path_factory) -> tuple[Path, Path]:
    """The canonical file and raw folder, prepared as the dataset rule does: no mirror, no sources."""
    if not DEBIAN.is_dir():
        if os.environ.get("RANKGAP_REQUIRE_REAL_DATA") == "1":
            pytest.fail(f"RANKGAP_REQUIRE_REAL_DATA=1 but {DEBIAN} is missing: apt-get install dataset-fashion-mnist")
        pytest.skip(f"{DEBIAN} is missing (Debian's package dataset-fashion-mnist)")
    root = tmp_path_factory.mktemp("real")
    out, raw = root / "fashion_mnist.safetensors", root / "raw" / "fashion_mnist"
    data.prepare("fashion_mnist", out, raw)
    return out, raw


def test_real_fashion_mnist_is_found_and_converted(fashion_mnist):
    out, raw = fashion_mnist
    for filename, _ in data.SOURCES["fashion_mnist"].files:  # taken from Debian's folder, not downloaded
        assert (raw / filename).read_bytes() == (DEBIAN / filename).read_bytes()
    splits = data.load(out)
    assert splits["x_train"].shape == (60000, 1, 28, 28) and splits["x_train"].dtype == torch.uint8
    assert splits["x_test"].shape == (10000, 1, 28, 28)
    assert torch.bincount(splits["y_train"]).tolist() == [6000] * 10
    assert torch.bincount(splits["y_test"]).tolist() == [1000] * 10


def test_lenet5_learns_real_fashion_mnist_in_one_epoch(fashion_mnist, tmp_path):
    out, _ = fashion_mnist
    config = {
        "name": "real",
        "experiments": {
            "real": {
                "model": "lenet5",
                "variant": "bn",
                "datasets": ["fashion_mnist"],
                "batch_sizes": [128],
                "epochs": 1,
                "weight_decay": 5.0e-4,
            }
        },
    }
    validate(config, str(REPO / "workflow/schemas/config.schema.yaml"))  # fills in the training defaults
    run = settings.run_settings(config, "real", "fashion_mnist", batch_size=128, seed=0)
    result = train.train(
        run,
        out,
        tmp_path / "weights.pt",
        tmp_path / "metrics.csv",
        tmp_path / "summary.json",
        tmp_path / "checkpoint.pt",
        {},
        torch.device("cpu"),
    )
    assert result["status"] == "ok" and result["epochs_completed"] == 1
    # chance is 90%; one epoch of real learning reaches 12.5% here (measured, seed 0)
    assert result["test_error"] < 20, result
