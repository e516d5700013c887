"""The real Fashion-MNIST, as Debian's package dataset-fashion-mnist installs it, through the
pipeline's own data path, and LeNet-5 learning from it on the CPU.

Skipped where the package is not installed, unless RANKGAP_REQUIRE_REAL_DATA=1 (CI installs it):
then a missing folder is a failure.
"""

import os
import shlex
from pathlib import Path

import pandas as pd
import pytest
import torch
from snakemake.utils import validate
from test_documented_commands import commands

from conftest import REPO
from rankgap import cli, data, settings, train

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


def published_weights_commands() -> list[list[str]]:
    """docs/measure.md's commands on a published run's weights, split into arguments."""
    return [shlex.split(c) for c in commands(REPO / "docs/measure.md") if "/data/weights/" in c]


def test_the_documented_commands_measure_a_published_run_as_it_was_published(fashion_mnist, tmp_path):
    """docs/measure.md's rankgap-measure commands, on the published weights of Table 5's run at 128
    (seed 0) and the real dataset, give the effective rank of every layer and mode that the part's
    measures.csv publishes for its fixed train and test probes at the last epoch, to rounding."""
    out, _ = fashion_mnist
    commands = published_weights_commands()
    assert [c[0] for c in commands] == [".venv/bin/rankgap-measure"] * 2
    published = pd.read_csv(REPO / "reproduction/fashion_mnist/table5/data/measures.csv")
    for command, probe in zip(commands, ("train", "test")):
        arguments = [str(REPO / a) if a.startswith("reproduction/") else a for a in command[1:]]
        arguments = [str(out) if a == "data/fashion_mnist.safetensors" else a for a in arguments]
        assert cli.main([*arguments[:-1], str(tmp_path / arguments[-1])]) == 0
        again = pd.read_csv(tmp_path / arguments[-1] / "modes.csv").set_index(["layer", "mode"])["effective_rank"]
        of_run = (published["batch_size"] == 128) & (published["seed"] == 0) & (published["epoch"] == 60)
        rows = published[of_run & (published["probe"] == probe)]
        expected = rows.drop_duplicates(["layer", "mode"]).set_index(["layer", "mode"])["effective_rank"]
        pd.testing.assert_series_equal(again.sort_index(), expected.sort_index(), rtol=1e-6, check_names=False)
