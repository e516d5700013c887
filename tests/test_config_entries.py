"""The config's own models and datasets: the example (examples/) through the whole pipeline, the
dataset sources (file, folder, torchvision class), and a dataset that does not fit its model stopped
before any job, with an error that names both and what would fit."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

from conftest import REPO, copy_project, planned_jobs, snakemake
from rankgap import config_dataset, data, registry, tables

EXAMPLE = yaml.safe_load((REPO / "examples/config.yaml").read_text())
BATCH_SIZES = [16, 256]
EPOCHS = 2
RUNS = "results/runs/example/digits8"


def tiny(config: dict) -> dict:
    """The example config at the smoke test's size: two batch sizes, two epochs, dumps kept."""
    config = json.loads(json.dumps(config))
    config["experiments"]["example"].update(batch_sizes=BATCH_SIZES, epochs=EPOCHS)
    config["probe"]["keep_dumps"] = True
    return config


def git(workdir, *args) -> str:
    command = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org", *args]
    return subprocess.run(command, cwd=workdir, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The example, as examples/README.md runs it, in a git checkout of a private copy of the project."""
    workdir = copy_project(tmp_path_factory.mktemp("example"))
    subprocess.run([sys.executable, "examples/make_dataset.py"], cwd=workdir, check=True, capture_output=True)
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(tiny(EXAMPLE)))
    git(workdir, "init", "-q")
    shutil.copy(REPO / ".gitignore", workdir)  # what is built is ignored; any other untracked file is a change
    git(workdir, "add", "--all")
    git(workdir, "commit", "-q", "-m", "the code that trains")
    snakemake(workdir, "all", "runs", "--configfile", "tiny.yaml")
    return workdir


def test_the_example_dataset_is_converted_into_the_canonical_file(example):
    splits = data.load(example / "data/digits8.safetensors")
    with np.load(example / "examples/digits8.npz") as source:
        for key in config_dataset.SPLIT_KEYS:
            assert splits[key].numpy().reshape(source[key].shape).tolist() == source[key].tolist()
    assert splits["x_train"].shape == (1438, 1, 8, 8) and splits["x_train"].dtype == torch.uint8


def test_the_example_model_is_trained_probed_and_counted(example):
    table = pd.read_csv(example / "results/tables/example.csv")
    assert table["batch"].astype(int).tolist() == BATCH_SIZES and (table["status"] == "ok").all()
    rankloss = pd.read_csv(example / "results/analysis/example/rankloss.csv")
    assert list(rankloss["layer"].unique()) == ["act1", "act2", "act3"]  # two ReLUs and a GELU: the activations
    assert sorted(rankloss["epoch"].unique()) == [0, EPOCHS] and (rankloss["status"] == "ok").all()
    # act3: batch x 64 units; a batch of 256 outgrows them
    dense = rankloss.query(
        "batch_size == 256 and layer == 'act3' and threshold == 1e-4 and epoch == @EPOCHS and probe == 'batch'"
    )
    assert dense["deficit"].tolist() == [256 - 64]
    for figure in ("example", "example_components"):
        assert (example / f"results/figures/{figure}.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("bs", BATCH_SIZES)
def test_the_summary_names_the_commit_and_the_data_shape(example, bs):
    summary = json.loads((example / f"{RUNS}/bs{bs}-seed0/summary.json").read_text())
    state = {"commit": git(example, "rev-parse", "HEAD"), "dirty": False, "diff": None}
    assert summary["git"] == {"start": state, "end": state, "changed_during_run": False}
    assert summary["factory"] == "examples.tiny_cnn:build" and summary["variant"] is None  # a built-in's only
    assert summary["shape"] == {"channels": 1, "size": 8, "classes": 10, "train": 1438, "test": 359}
    metrics = pd.read_csv(example / f"{RUNS}/bs{bs}-seed0/metrics.csv")
    assert metrics["epoch"].tolist() == list(range(1, EPOCHS + 1))


def test_the_runs_table_lists_every_run_with_its_status(example):
    runs = pd.read_csv(example / "results/report/examples/runs.csv")
    assert runs[["experiment", "dataset", "model", "batch_size", "seed"]].values.tolist() == [
        ["example", "digits8", "tiny_cnn", bs, 0] for bs in BATCH_SIZES
    ]
    assert (runs["status"] == "ok").all() and (runs["epochs_completed"] == EPOCHS).all()
    assert runs["test_error"].between(0, 100).all() and (runs["wall_seconds"] > 0).all()
    assert (runs["device"] == "cpu").all() and (runs["commit"] == git(example, "rev-parse", "HEAD")).all()
    markdown = (example / "results/report/examples/runs.md").read_text()
    assert markdown.count("| ok ") == len(BATCH_SIZES) and "| tiny_cnn " in markdown


def test_rerun_does_nothing_and_editing_the_model_retrains(example):
    assert planned_jobs(example, "all", "runs", "--configfile", "tiny.yaml") == {}
    model = example / "examples/tiny_cnn.py"
    original = model.read_text()
    try:
        model.write_text(original + "\n# an edit\n")
        os.utime(model)
        assert planned_jobs(example, "all", "runs", "--configfile", "tiny.yaml")["train"] == len(BATCH_SIZES)
    finally:
        model.write_text(original)


def test_a_custom_runs_weights_are_measured_by_the_command_line(example, tmp_path):
    """A weights file rebuilds its model from its settings (factory and options), without the config."""
    out = tmp_path / "measured"
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "rankgap.cli",
            f"{RUNS}/bs16-seed0/weights.pt",
            "data/digits8.safetensors",
            "--batch-size",
            "16",
            "--device",
            "cpu",
            "--out",
            str(out),
        ],
        cwd=example,
        capture_output=True,
        text=True,
    )
    assert finished.returncode == 0, finished.stderr
    pipeline = pd.read_csv(example / f"{RUNS}/bs16-seed0/epoch{EPOCHS}/batch/spectra.csv")  # the batch of 16
    pd.testing.assert_frame_equal(pd.read_csv(out / "spectra.csv"), pipeline, check_exact=False, rtol=1e-8, atol=1e-9)


# --- a dataset or model that does not fit: refused while the config is read ---------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    workdir = copy_project(tmp_path_factory.mktemp("custom-config"))
    subprocess.run([sys.executable, "examples/make_dataset.py"], cwd=workdir, check=True, capture_output=True)
    return workdir


def save_npz(path, channels=1, labels=10, dtype=np.uint8, size=8):
    rng = np.random.default_rng(0)
    np.savez(
        path,
        x_train=rng.integers(0, 256, (40, channels, size, size)).astype(dtype),
        y_train=np.arange(40) % labels,
        x_test=rng.integers(0, 256, (10, channels, size, size)).astype(dtype),
        y_test=np.arange(10) % labels,
    )


def dry_run(project, config):
    (project / "custom.yaml").write_text(yaml.safe_dump(config))
    return snakemake(project, "--dry-run", "--configfile", "custom.yaml", check=False)


def with_dataset(**entry) -> dict:
    config = tiny(EXAMPLE)
    config["datasets"]["bad"] = entry
    config["experiments"]["example"]["datasets"] = ["bad"]
    config["experiments"]["example"]["batch_sizes"] = [8]
    config["tables"]["example"]["dataset"] = "bad"
    return config


@pytest.mark.parametrize(
    "npz, changes, expected",
    [
        pytest.param(
            {"channels": 3},
            {},
            [
                "experiments.example: model tiny_cnn on dataset bad: the model does not take the dataset's images "
                "(3 x 8 x 8)",
                "its first convolution takes 1 channels, the images have 3",
                "(models.tiny_cnn.options)",
            ],
            id="channels",
        ),
        pytest.param(
            {"labels": 12},
            {},
            [
                "experiments.example: model tiny_cnn on dataset bad: the model outputs (10,) per image, but bad has "
                "12 classes (labels 0 to 11): it must output 12 values (models.tiny_cnn.options)"
            ],
            id="labels out of range",
        ),
        pytest.param(
            {"dtype": np.float32},
            {},
            ["datasets.bad: x_train is torch.float32; expected uint8 images"],
            id="float images",
        ),
        pytest.param(
            {},
            {"models": {"tiny_cnn": {"layers": ["conv9*"]}}},
            ["models.tiny_cnn: no layer of the model matches 'conv9*'; its layers are:\n  conv1 (Conv2d)"],
            id="layers that match nothing",
        ),
        pytest.param(
            {},
            {"models": {"tiny_cnn": {"factory": "examples.tiny_cnn:biuld"}}},
            ["building the model (examples.tiny_cnn:biuld with options", "examples.tiny_cnn has no function biuld"],
            id="factory",
        ),
    ],
)
def test_a_dataset_or_model_that_does_not_fit_stops_the_run_before_any_job(project, npz, changes, expected):
    save_npz(project / "bad.npz", **npz)
    config = with_dataset(file="bad.npz")
    for name, entry in changes.get("models", {}).items():
        config["models"][name].update(entry)
    result = dry_run(project, config)
    message = result.stdout + result.stderr
    assert result.returncode != 0
    for fragment in expected:
        assert fragment in message, message
    assert "Building DAG" not in message  # refused while reading the config, before planning any job


def test_names_are_checked_with_the_configs_own_among_the_allowed(project):
    config = tiny(EXAMPLE)
    config["experiments"]["example"]["model"] = "tiny_cn"
    config["datasets"]["mnist"] = {"file": "x.npz"}
    config["datasets"]["both"] = {"file": "x.npz", "folder": "images"}
    result = dry_run(project, config)
    message = result.stdout + result.stderr  # every problem at once
    assert (
        "experiments.example.model: 'tiny_cn' is not allowed; allowed values: lenet5, vgg16, resnet56, tiny_cnn"
        in message
    )
    assert "datasets.mnist: 'mnist' is a built-in dataset; give yours another name" in message
    assert "datasets.both: give exactly one of file, folder, torchvision" in message


def test_a_built_in_model_on_a_dataset_of_another_size_is_refused(project):
    save_npz(project / "bad.npz", channels=3)
    config = with_dataset(file="bad.npz")
    config["experiments"]["example"]["model"] = "vgg16"  # five poolings: 32 x 32 images only
    result = dry_run(project, config)
    message = result.stdout + result.stderr
    assert (
        "experiments.example: model vgg16 on dataset bad: the model does not take the dataset's images (3 x 8 x 8)"
        in message
    )


# --- the sources: a folder of images per class, a torchvision class --------------------------------------


def image_folder(root, sizes=None):
    """train/ with classes a, b, c and test/ with a and c: 6x6 grayscale PNGs, pixel value = index."""
    counts = {"train": {"a": 3, "b": 2, "c": 4}, "test": {"a": 1, "c": 2}}
    for split, classes in counts.items():
        for name, n in classes.items():
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                size = (sizes or {}).get((split, name, i), 6)
                Image.fromarray(np.full((size, size), i, dtype=np.uint8), mode="L").save(
                    root / split / name / f"{i}.png"
                )
    return root


def test_a_folder_of_images_per_class_is_described_and_converted(tmp_path):
    root = image_folder(tmp_path / "images")
    assert config_dataset.shape("pets", {"folder": str(root)}) == registry.Shape(1, 6, 3, 9, 3)
    config_dataset.prepare("pets", {"folder": str(root)}, tmp_path / "pets.safetensors")
    splits = data.load(tmp_path / "pets.safetensors")
    assert splits["x_train"].shape == (9, 1, 6, 6) and splits["y_train"].tolist() == [0, 0, 0, 1, 1, 2, 2, 2, 2]
    assert splits["y_test"].tolist() == [0, 2, 2]  # test/ has no b: c keeps train/'s number
    assert splits["x_train"][:, 0, 0, 0].tolist() == [0, 1, 2, 0, 1, 0, 1, 2, 3]


def test_an_image_of_another_size_in_a_folder_is_named(tmp_path):
    root = image_folder(tmp_path / "images", sizes={("train", "c", 1): 7})
    error = r"datasets\.pets: \S*train/c/1\.png is 7x7, the first image 6x6"
    with pytest.raises(config_dataset.DatasetError, match=error):
        config_dataset.prepare("pets", {"folder": str(root)}, tmp_path / "pets.safetensors")
    assert not (tmp_path / "pets.safetensors").exists()


def test_a_torchvision_dataset_class_is_converted(tmp_path):
    """FakeData stands in for a class with files under its root (KMNIST...), which cannot download here."""
    spec = {
        "torchvision": {
            "class": "torchvision.datasets.FakeData",
            "options": {"image_size": [3, 8, 8], "num_classes": 4},
            "train": {"size": 40},
            "test": {"size": 10, "random_offset": 40},
        }
    }
    shape = config_dataset.shape("fake", spec)
    assert (shape.channels, shape.size, shape.train, shape.test) == (3, 8, 40, 10) and shape.classes <= 4
    config_dataset.prepare("fake", spec, tmp_path / "fake.safetensors")
    assert data.load(tmp_path / "fake.safetensors")["x_test"].shape == (10, 3, 8, 8)
    error = r"datasets\.k: torchvision.datasets.KMNIST\(.*'download': False"
    with pytest.raises(config_dataset.DatasetError, match=error):
        config_dataset.shape(
            "k",
            {
                "torchvision": {
                    "class": "KMNIST",
                    "root": str(tmp_path),
                    "options": {},
                    "train": {"train": True},
                    "test": {"train": False},
                }
            },
        )


def test_a_config_datasets_normalisation_is_measured_on_its_training_images():
    x = torch.randint(0, 256, (30, 3, 5, 5), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    mean, std = data.normalization("digits8", x)
    scaled = x.double() / 255
    torch.testing.assert_close(torch.tensor(mean, dtype=torch.float64), scaled.mean((0, 2, 3)), rtol=0, atol=1e-14)
    torch.testing.assert_close(
        torch.tensor(std, dtype=torch.float64), scaled.std((0, 2, 3), correction=0), rtol=0, atol=1e-14
    )
    assert data.normalization("digits", x) == data.NORMALIZATION["digits"]  # a built-in keeps its published values


def test_the_runs_table_shows_a_diverged_run(tmp_path):
    summaries = []
    for bs, status, error, epochs in ((16, "ok", 5.0, 3), (1024, "diverged", float("nan"), 1)):
        path = tmp_path / f"bs{bs}.json"
        path.write_text(
            json.dumps(
                {
                    "status": status,
                    "model": "lenet5",
                    "variant": "bn",
                    "dataset": "digits",
                    "batch_size": bs,
                    "seed": 0,
                    "epochs": 3,
                    "epochs_completed": epochs,
                    "train_error": error,
                    "test_error": error,
                    "train_cross_entropy": error,
                    "test_cross_entropy": error,
                    "wall_seconds": 2.0,
                    "device": "cpu",
                    "host": "h",
                    "versions": {"torch": "x"},
                    "switch": None,
                    "model_options": {},
                }
            )
        )
        summaries.append(path)
    runs = [
        {"wildcards": {"experiment": "e", "dataset": "digits", "batch_size": bs, "seed": 0}, "summary": path}
        for bs, path in zip((16, 1024), summaries)
    ]
    table = tables.runs_table(runs)
    assert table["status"].tolist() == ["ok", "diverged"] and table["commit"].isna().all()  # no commit recorded then
    shown = tables.runs_formatted(table)
    assert shown["Epochs"].tolist() == ["3/3", "1/3"] and shown["Commit"].tolist() == ["unknown", "unknown"]


SEQUENCE_MODEL = {
    "factory": "examples.transformer:RowEncoder",  # an image read as a sequence of its rows
    "options": {"channels": 1, "size": 8, "classes": 10},
    "layers": ["encoder.layers.?"],
}


def sequence_config(**model) -> dict:
    """The example's dataset, trained on by a transformer over image rows (examples/transformer.py)."""
    config = tiny(EXAMPLE)
    config["models"] = {"rows": {**SEQUENCE_MODEL, **model}}
    config["experiments"]["example"].update(model="rows", batch_sizes=[16, 256], epochs=1)
    config["figures"] = {}
    return config


@pytest.mark.slow
def test_a_transformer_in_the_config_is_trained_probed_and_counted_per_mode(tmp_path):
    """The pipeline's probe and the API share the measurement: encoder layers' outputs (batch x rows x
    hidden) are dumped as they are and counted in their three modes."""
    project = copy_project(tmp_path)
    subprocess.run([sys.executable, "examples/make_dataset.py"], cwd=project, check=True, capture_output=True)
    (project / "rows.yaml").write_text(yaml.safe_dump(sequence_config()))
    snakemake(project, "results/analysis/example/rankloss.csv", "--configfile", "rows.yaml")
    counts = pd.read_csv(project / "results/analysis/example/rankloss.csv")
    assert (counts["status"] == "ok").all()
    for layer in ("encoder.layers.0", "encoder.layers.1"):
        assert counts[counts["layer"] == layer]["mode"].unique().tolist() == ["batch", "axis1", "axis2"]
    # no figure plots this experiment, so only the fixed probe (256 training images) is taken
    modes = pd.read_csv(project / f"{RUNS}/bs256-seed0/epoch1/train/modes.csv").query("layer == 'encoder.layers.1'")
    assert modes[["mode", "dim"]].values.tolist() == [["batch", 256], ["axis1", 8], ["axis2", 32]]


def test_a_probed_layer_that_returns_a_tuple_is_named_before_any_job(tmp_path):
    project = copy_project(tmp_path)
    subprocess.run([sys.executable, "examples/make_dataset.py"], cwd=project, check=True, capture_output=True)
    result = dry_run(project, sequence_config(layers=["encoder.layers.0.self_attn"]))
    message = result.stdout + result.stderr
    assert result.returncode != 0 and "Building DAG" not in message
    assert (
        "models.rows: module encoder.layers.0.self_attn returned a tuple of 2 (Tensor (2, 8, 32) of torch.float64, "
        "NoneType), not a tensor; probe layers that return a tensor (models.rows.layers)" in message
    ), message
