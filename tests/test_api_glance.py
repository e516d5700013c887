"""The API and the command line at a glance: a short ``print(result)``, ``summary()`` per layer,
``totals()`` with the deficit apart from the count's parts, and messages about the user's own
batch and files."""

import json
import os
import re
import shlex
import sys
from collections import OrderedDict

import numpy as np
import pandas as pd
import pytest
import torch
from test_measure import planted_model
from torch import nn

import rankgap
from rankgap import api, cli, svd


@pytest.fixture(scope="module")
def planted():
    """The planted model of test_measure (act1: a dead channel; act2: 7 dead units; act3: rank <= 5)."""
    x = torch.randn(64, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    return rankgap.measure(planted_model(), x, thresholds=[1e-4, 1e-5], device="cpu")


def test_print_shows_in_a_few_lines_what_was_measured_and_each_layer(planted):
    shown = repr(planted)
    assert str(planted) == shown
    assert len(shown) < 600 and len(shown.splitlines()) <= 8
    assert shown.startswith("Measurement of Sequential: 3 layers, batch (64, 3, 8, 8), eval mode")
    assert "thresholds 0.0001, 1e-05" in shown
    assert "DataFrame" not in shown and "spectra=" not in shown  # not the dataclass's dump of its tables
    rows = {line.split()[0]: line.split()[1:] for line in shown.splitlines() if line.lstrip().startswith("act")}
    assert list(rows) == ["act1", "act2", "act3"]
    # the headline numbers: count at 1e-4 and 1e-5, genuine at both, effective rank
    assert rows["act2"][:4] == ["7", "7", "0", "0"] and rows["act3"][:2] == ["35", "35"]
    assert float(rows["act3"][4]) == pytest.approx(planted.modes.query("layer == 'act3'")["effective_rank"].sum(), 0.05)


def test_print_of_a_deep_model_stays_short():
    layers = OrderedDict((f"block{i}", nn.Sequential(nn.Linear(6, 6), nn.ReLU())) for i in range(30))
    result = rankgap.measure(nn.Sequential(layers), torch.randn(16, 6), device="cpu", relative=True)
    shown = repr(result)
    assert len(shown) < 1000 and "30 layers" in shown
    assert "block0.1" in shown and "block29.1" in shown and "... 23 more" in shown
    assert "(times sigma_max of each unfolding)" in shown.splitlines()[0]


def test_summary_has_one_row_per_layer_with_the_headline_measures(planted):
    summary = planted.summary()
    assert isinstance(summary, pd.DataFrame)
    assert summary["layer"].tolist() == ["act1", "act2", "act3"]  # one row per layer, in forward order
    assert list(summary.columns) == [
        "layer",
        "modes",
        "values",
        "count@0.0001",
        "count@1e-05",
        "genuine@0.0001",
        "genuine@1e-05",
        "effective_rank",
    ]
    by_layer = summary.set_index("layer")
    assert by_layer.loc["act1", "modes"] == 4 and by_layer.loc["act1", "values"] == 64 + 8 + 8 + 8
    assert by_layer["count@1e-05"].tolist() == [1, 7, 35]
    counts = planted.counts.query("threshold == 1e-4").groupby("layer", sort=False)[["count", "genuine"]].sum()
    assert by_layer["count@0.0001"].tolist() == counts["count"].tolist()
    assert by_layer["genuine@0.0001"].tolist() == counts["genuine"].tolist()
    ranks = planted.modes.groupby("layer", sort=False)["effective_rank"].sum()
    np.testing.assert_allclose(by_layer["effective_rank"], ranks, rtol=0)


def test_the_summary_names_relative_thresholds():
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU())
    result = rankgap.measure(model, torch.randn(8, 4), thresholds=[1e-3], relative=True, device="cpu")
    assert "count@0.001*sigma_max" in result.summary().columns


def test_totals_keep_the_deficit_apart_from_the_counts_parts(planted):
    totals = planted.totals()
    assert totals.index.name == "threshold" and totals.index.tolist() == [1e-4, 1e-5]
    assert list(totals.columns) == [
        ("count", "total"),
        ("count", "dead_zeros"),
        ("count", "other_zeros"),
        ("count", "genuine"),
        ("not in the count", "deficit"),
    ]
    counted = totals["count"]
    assert "deficit" not in counted.columns  # summing the count's group never adds the deficit in
    pd.testing.assert_series_equal(counted.drop(columns="total").sum(axis=1), counted["total"], check_names=False)
    assert totals["count", "total"].tolist() == [43, 43]
    assert totals["not in the count", "deficit"].tolist() == [38, 38]  # act2's 14, act3's 24
    per_threshold = planted.counts.groupby("threshold", sort=False)[["count", "deficit"]].sum()
    assert totals["count", "total"].tolist() == per_threshold["count"].tolist()
    groups, names = totals.to_string().splitlines()[:2]  # the groups' line over the columns' names
    assert groups.index("not in the count") > names.index("genuine")


def conv_then_linear() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        OrderedDict(conv1=nn.Conv2d(3, 4, 3, padding=1), act1=nn.ReLU(), flat=nn.Flatten(), fc=nn.Linear(4 * 8 * 8, 5))
    )


@pytest.mark.parametrize(
    "model, x, said",
    [
        pytest.param(
            conv_then_linear(),
            torch.ones(16, 2, 8, 8),
            [r"\(16, 2, 8, 8\)", r"conv1 \(Conv2d\), takes 3 channels: a batch of shape \(16, 3, H, W\)"],
            id="channels",
        ),
        pytest.param(
            conv_then_linear(),
            torch.ones(16, 3, 10, 10),
            [
                r"\(16, 3, 10, 10\)",
                r"conv1 \(Conv2d\), takes 3 channels",
                r"stopped in, fc \(Linear\), takes 256 features in its last dimension",
            ],
            id="image size",
        ),
        pytest.param(
            nn.Sequential(nn.Linear(4, 4), nn.ReLU()),
            torch.ones(16, 3),
            [r"\(16, 3\)", r"0 \(Linear\), takes 4 features in its last dimension: a batch of shape \(16, 4\)"],
            id="features",
        ),
        pytest.param(
            nn.Sequential(nn.Embedding(10, 4), nn.ReLU()),
            torch.full((16, 5), 12),
            [r"\(16, 5\) failed: ", r"0 \(Embedding\), takes integer token ids below 10"],
            id="token ids out of range",
        ),
        pytest.param(
            nn.Sequential(nn.BatchNorm2d(3), nn.ReLU()),
            torch.ones(16, 3, 4),
            [r"\(16, 3, 4\)", r"0 \(BatchNorm2d\), takes 3 channels: a batch of shape \(16, 3, H, W\)"],
            id="dimensions",
        ),
    ],
)
def test_a_batch_the_model_does_not_take_is_named_by_its_own_shape(monkeypatch, model, x, said):
    analysed = []
    monkeypatch.setattr(svd, "analyse_layer", lambda *args, **kwargs: analysed.append(args) or ([], []))
    with pytest.raises(api.InputError) as raised:
        rankgap.measure(model, x, device="cpu")
    message = str(raised.value)
    assert message.startswith(f"the model's forward pass on a batch of shape {tuple(x.shape)} failed")
    for text in said:
        assert re.search(text, message), message
    # the check's own two samples appear only as torch's message, said to be on them
    assert re.search(r"torch's message, on its first 2 samples \(the check before measuring\): ", message)
    assert message.index(str(tuple(x.shape))) < message.index("torch's message")
    assert analysed == []  # before any measurement


def tiny_factory(folder):
    (folder / "tiny_glance.py").write_text(
        "from torch import nn\n\n"
        "def build(width=4):\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(12, width), nn.GELU(), nn.Linear(width, 2))\n"
    )


@pytest.fixture
def user_files(tmp_path, monkeypatch):
    """In the folder the command runs in: tiny_glance.py (its factory), state.pt (width 6), images.npz."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "tiny_glance", None)  # removed after the test
    del sys.modules["tiny_glance"]
    tiny_factory(tmp_path)
    torch.manual_seed(0)
    torch.save(nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.GELU(), nn.Linear(6, 2)).state_dict(), "state.pt")
    images = torch.randint(0, 256, (40, 3, 2, 2), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    np.savez("images.npz", x=images.numpy())
    return tmp_path


OPTIONS = ["--batch-size", "16", "--device", "cpu", "--out", "out"]


def test_the_command_line_prints_the_deficit_apart_from_the_count(user_files, capsys):
    assert (
        cli.main(
            ["state.pt", "images.npz", "--factory", "tiny_glance:build", "--factory-kwargs", '{"width": 6}', *OPTIONS]
        )
        == 0
    )
    shown = capsys.readouterr().out
    header = next(line for line in shown.splitlines() if "not in the count" in line)
    assert header.split()[0] == "count" and "deficit" in shown and "total" in shown


@pytest.mark.parametrize(
    "arguments, message",
    [
        pytest.param(
            ["missing.pt", "images.npz"],
            r"model file missing\.pt \(the first argument, MODEL\) does not exist",
            id="no model file",
        ),
        pytest.param(
            ["state.pt", "missing.npz"],
            r"data file missing\.npz \(the second argument, DATA\) does not exist",
            id="no data file",
        ),
        pytest.param(
            ["state.pt", "."], r"data file \. \(the second argument, DATA\) is a folder, not a file", id="a folder"
        ),
        pytest.param(
            ["missing.pt", "--list-layers"],
            r"model file missing\.pt \(the first argument, MODEL\) does not exist",
            id="listing layers",
        ),
    ],
)
def test_a_missing_file_is_named_with_its_argument_before_the_model_loads(
    user_files, monkeypatch, capsys, arguments, message
):
    monkeypatch.setattr(cli, "load_model", lambda *_: pytest.fail("the model was loaded before the files were checked"))
    assert cli.main([*arguments, "--factory", "tiny_glance:build", *OPTIONS]) == 2
    assert re.search("rankgap-measure: error: " + message, capsys.readouterr().err)
    assert not (user_files / "out").exists()


def test_an_unreadable_file_is_named_with_its_argument(user_files, monkeypatch, capsys):
    (user_files / "images.npz").chmod(0)
    if os.geteuid() == 0:  # root reads every file: its read refused as a user's would be
        opened = cli.Path.open

        def refused(path, *args, **kwargs):
            if path.name == "images.npz":
                raise PermissionError(13, "Permission denied", str(path))
            return opened(path, *args, **kwargs)

        monkeypatch.setattr(cli.Path, "open", refused)
    monkeypatch.setattr(cli, "load_model", lambda *_: pytest.fail("the model was loaded before the files were checked"))
    assert cli.main(["state.pt", "images.npz", "--factory", "tiny_glance:build", *OPTIONS]) == 2
    assert re.search(
        r"data file images\.npz \(the second argument, DATA\) cannot be read: Permission denied",
        capsys.readouterr().err,
    )


def test_out_naming_a_file_stops_before_the_model_loads(user_files, monkeypatch, capsys):
    (user_files / "taken").write_text("")
    monkeypatch.setattr(cli, "load_model", lambda *_: pytest.fail("the model was loaded before --out was checked"))
    arguments = ["state.pt", "images.npz", "--factory", "tiny_glance:build", "--device", "cpu", "--out", "taken"]
    assert cli.main(arguments) == 2
    assert "--out taken is a file" in capsys.readouterr().err


@pytest.mark.parametrize(
    "kwargs, built",
    [
        pytest.param([], "no --factory-kwargs", id="no kwargs"),
        pytest.param(["--factory-kwargs", '{"width": 5}'], """--factory-kwargs '{"width": 5}'""", id="other kwargs"),
    ],
)
def test_a_state_dict_of_other_sizes_than_the_factorys_model_suggests_factory_kwargs(user_files, capsys, kwargs, built):
    assert cli.main(["state.pt", "images.npz", "--factory", "tiny_glance:build", *kwargs, *OPTIONS]) == 2
    error = capsys.readouterr().err
    assert f"does not fit the model that --factory tiny_glance:build builds with {built}: sizes differ" in error
    example = re.search(r"e\.g\. (--factory-kwargs '[^']*')", error).group(1)
    parsed = cli.parser().parse_args(["state.pt", *shlex.split(example)])  # as a shell passes it, the CLI takes it
    assert json.loads(parsed.factory_kwargs) == {"num_classes": 10}
    assert "size mismatch for 1.weight" in error  # torch's own message, after the suggestion
    assert not (user_files / "out").exists()


def test_a_bare_safetensors_state_dict_is_measured_with_its_factory(user_files, capsys):
    """A state dict saved with safetensors (as most published weights are) measures as the same state
    dict saved by torch.save; without --factory the command says to name one."""
    from safetensors.torch import save_file

    save_file(torch.load("state.pt"), "state.safetensors")
    factory = ["--factory", "tiny_glance:build", "--factory-kwargs", '{"width": 6}']
    assert cli.main(["state.pt", "images.npz", *factory, *OPTIONS]) == 0
    from_torch = pd.read_csv(user_files / "out/counts.csv")
    assert cli.main(["state.safetensors", "images.npz", *factory, *OPTIONS[:-1], "out2"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(user_files / "out2/counts.csv"), from_torch)
    capsys.readouterr()
    assert cli.main(["state.safetensors", "images.npz", *OPTIONS[:-1], "out3"]) == 2
    assert "holds a state dict without a pipeline run's settings: name the function" in capsys.readouterr().err
