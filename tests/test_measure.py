"""Measure your own model: the Python API and ``rankgap-measure`` give the pipeline's measurement."""

import copy
import json
import re
import shlex
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision
from safetensors.torch import save_file
from torch import nn

import rankgap
from conftest import REPO, copy_project, run_settings
from rankgap import api, cli, data, measure_files, models, probe, rankloss, svd, train
from rankgap.registry import SHAPES

COUNT_COLUMNS = [
    "layer",
    "depth",
    "mode",
    "threshold",
    "count",
    "zeros",
    "values",
    "deficit",
    "dead_zeros",
    "other_zeros",
    "genuine",
    "dead_units",
]  # rankloss.csv's columns but the run's
DEAD_UNITS = [3, 8, 9, 20, 31, 40, 49]


def planted_model() -> nn.Module:
    """Outputs of known structure on any batch: ``act1`` (conv) has a dead channel, ``act2`` (dense,
    50 units) 7 dead units, and ``act3`` (dense, 40 units) is an affine map of 4 numbers: rank <= 5."""
    torch.manual_seed(0)
    model = nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(3, 8, 3, padding=1),
            act1=nn.ReLU(),
            flatten=nn.Flatten(),
            fc=nn.Linear(8 * 8 * 8, 50),
            act2=nn.ReLU(),
            narrow=nn.Linear(50, 4),
            wide=nn.Linear(4, 40),
            act3=models.IdentityActivation(),
            out=nn.Linear(40, 3),
        )
    )
    with torch.no_grad():  # biases far below anything the weights reach: never active
        model.conv.bias[2] = -1e3
        model.fc.bias[DEAD_UNITS] = -1e3
    return model


def activation_outputs_by_hand(model: nn.Sequential, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The outputs of a Sequential's ``act*`` layers, one layer after another: no hooks."""
    outputs = {}
    with torch.no_grad():
        for name, layer in model.named_children():
            x = layer(x)
            if name.startswith("act"):
                outputs[name] = x
    return outputs


def test_the_api_counts_what_the_pipeline_counts_on_the_same_activations(tmp_path):
    model = planted_model()
    x = torch.randn(64, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    result = api.measure(model, x, thresholds=[1e-4, 1e-5], device="cpu")

    # the pipeline's way: a dump of the activations (its format), its analysis and its counts
    outputs = activation_outputs_by_hand(copy.deepcopy(model).double().eval(), x.double())
    dump = tmp_path / "activations.safetensors"
    save_file(outputs, str(dump), metadata={"layers": json.dumps(list(outputs))})
    spectra, modes = svd.analyse(dump)
    pd.testing.assert_frame_equal(result.spectra, spectra, check_exact=True)
    pd.testing.assert_frame_equal(result.modes, modes, check_exact=True)
    pd.testing.assert_frame_equal(result.counts, rankloss.run_counts(spectra, modes, [1e-4, 1e-5]), check_exact=True)

    # and the planted structure, part by part
    counts = result.counts.set_index(["layer", "mode", "threshold"])
    dead_channel = counts.loc[("act1", "channel", 1e-5)]
    assert (dead_channel["count"], dead_channel["dead_zeros"], dead_channel["genuine"]) == (1, 1, 0)
    dead_units = counts.loc[("act2", "batch", 1e-5)]
    assert (dead_units["count"], dead_units["dead_zeros"], dead_units["other_zeros"]) == (7, 7, 0)
    assert dead_units["dead_units"] == pytest.approx(7 / 50)
    capped = counts.loc[("act3", "batch", 1e-5)]
    assert (capped["count"], capped["dead_zeros"], capped["other_zeros"], capped["deficit"]) == (35, 0, 35, 24)
    assert all(p.dtype == torch.float32 for p in model.parameters())  # the model itself is left as it was


def test_train_mode_uses_the_batch_statistics_on_a_copy():
    model = nn.Sequential(OrderedDict(fc=nn.Linear(10, 20), norm=nn.BatchNorm1d(20), act=nn.ReLU())).eval()
    x = torch.randn(32, 10, generator=torch.Generator().manual_seed(0)) * 5 + 3
    trained = rankgap.measure(model, x, mode="train").modes.iloc[0]  # as the README calls it, on the default device
    evaluated = rankgap.measure(model, x, mode="eval").modes.iloc[0]
    assert trained["sigma_max"] != pytest.approx(evaluated["sigma_max"])
    assert not model.training
    assert torch.equal(model.norm.running_mean, torch.zeros(20))  # the copy's statistics moved, not the model's


def test_resnet18_layers_found_and_columns():
    model = torchvision.models.resnet18(num_classes=10)
    x = torch.randn(64, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    result = api.measure(model, x, thresholds=[1e-4, 1e-5], device="cpu")
    # the stem's ReLU, then each block's ReLU, which runs twice (after its first conv, after the sum)
    blocks = [f"layer{stage}.{block}.relu" for stage in (1, 2, 3, 4) for block in (0, 1)]
    assert list(result.modes["layer"].unique()) == ["relu"] + [f"{b}{call}" for b in blocks for call in ("", "#2")]
    assert list(result.spectra.columns) == ["layer", "depth", "mode", "index", "sigma"]
    assert list(result.modes.columns) == svd.MODE_COLUMNS
    assert list(result.counts.columns) == COUNT_COLUMNS
    assert list(result.counts["threshold"].unique()) == [1e-4, 1e-5]
    assert set(result.modes["mode"]) == {"batch", "channel", "height", "width"}
    # the count's parts grouped under it; the deficit apart, named as not in it
    assert list(result.totals().columns) == [
        ("count", "total"),
        *(("count", part) for part in rankloss.COMPONENTS if part != "deficit"),
        ("not in the count", "deficit"),
    ]
    assert [name for name, _ in api.select_layers(model, "layer4.*.conv?")] == [
        "layer4.0.conv1",
        "layer4.0.conv2",
        "layer4.1.conv1",
        "layer4.1.conv2",
    ]
    assert [name for name, _ in api.select_layers(model, nn.Linear)] == ["fc"]


@pytest.fixture(scope="module")
def run_files(tmp_path_factory):
    """A pipeline run's weights.pt (LeNet-5 with batch norm, untrained, as train.py saves it) and the
    pipeline's digits dataset file."""
    folder = tmp_path_factory.mktemp("run")
    run = run_settings()
    torch.manual_seed(0)
    torch.save(train.weights_file(models.from_settings(run), run), folder / "weights.pt")
    data.prepare("digits", folder / "digits.safetensors", folder / "raw")
    return folder / "weights.pt", folder / "digits.safetensors"


def test_the_command_line_measures_a_checkpoint_as_the_pipeline_probes_it(run_files, tmp_path):
    weights, dataset = run_files
    out = tmp_path / "measured"
    command = [
        sys.executable,
        "-m",
        "rankgap.cli",
        str(weights),
        str(dataset),
        "--batch-size",
        "64",
        "--device",
        "cpu",
        "--out",
        str(out),
    ]
    finished = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr

    dump = tmp_path / "activations.safetensors"
    probe.dump(weights, dataset, dump, "batch", 64, seed=0, mode="eval", dtype="float64", device=torch.device("cpu"))
    spectra, modes = svd.analyse(dump)
    pd.testing.assert_frame_equal(pd.read_csv(out / "spectra.csv"), spectra, check_exact=True)
    pd.testing.assert_frame_equal(pd.read_csv(out / "modes.csv"), modes, check_exact=True)
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "counts.csv"), rankloss.run_counts(spectra, modes, [1e-4, 1e-5]), check_exact=True
    )
    assert (out / "components.pdf").stat().st_size > 0 and (out / "components.png").stat().st_size > 0
    settings = json.loads((out / "measurement.json").read_text())
    assert settings["measured"] == ["act1", "act2", "act3", "act4"]
    assert settings["input"] == "the pipeline's normalisation of digits"
    assert "4 layers" in finished.stdout and "genuine" in finished.stdout  # the totals per threshold
    assert str(out / "counts.csv") in finished.stdout


def test_the_command_line_takes_a_state_dict_and_its_factory_on_npz_images(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a user's own model, in the folder the command runs in
    monkeypatch.setitem(sys.modules, "tiny", None)  # the command loads tiny.py as module tiny: removed after the test
    del sys.modules["tiny"]
    path = list(sys.path)
    (tmp_path / "tiny.py").write_text(
        "from torch import nn\n\n"
        "def build(width):\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(12, width), nn.GELU(), nn.Linear(width, 2))\n"
    )
    torch.save(nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.GELU(), nn.Linear(6, 2)).state_dict(), "state.pt")
    images = torch.randint(0, 256, (40, 3, 2, 2), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    np.savez("images.npz", x=images.numpy())
    code = cli.main(
        [
            "state.pt",
            "images.npz",
            "--factory",
            "tiny:build",
            "--factory-kwargs",
            '{"width": 6}',
            "--batch-size",
            "16",
            "--thresholds",
            "1e-4",
            "--device",
            "cpu",
            "--out",
            "out",
        ]
    )
    assert code == 0
    assert sys.path == path  # tiny.py loaded from its file, the import path left as it was
    counts = pd.read_csv(tmp_path / "out" / "counts.csv", dtype={"layer": str})
    assert list(counts["layer"]) == ["2"] and list(counts["values"]) == [6]  # the GELU's output, 16 x 6
    settings = json.loads((tmp_path / "out" / "measurement.json").read_text())
    assert settings["input"].startswith("standardised with the file's per-channel mean (")


def test_uint8_images_are_standardised_as_the_pipeline_does_or_with_the_files_statistics():
    images = torch.randint(0, 256, (50, 3, 4, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    x, _ = measure_files.standardised(images, images, dataset=None)
    torch.testing.assert_close(x.mean((0, 2, 3)), torch.zeros(3, dtype=torch.float64), rtol=0, atol=1e-12)
    torch.testing.assert_close(x.std((0, 2, 3), correction=0), torch.ones(3, dtype=torch.float64), rtol=0, atol=1e-12)
    gray = images[:, :1]
    x, how = measure_files.standardised(gray[:10], gray, dataset="digits")
    assert (
        torch.equal(x, data.normalize(gray[:10], data.NORMALIZATION["digits"], dtype=torch.float64)) and "digits" in how
    )
    floats = torch.randn(5, 4)
    assert measure_files.standardised(floats, floats, dataset=None)[0] is floats  # taken as stored


DIGITS = SHAPES["digits"].train


@pytest.mark.parametrize(
    "arguments, message",
    [
        pytest.param(
            "{folder}/missing.pt {data}",
            r"model file \S*/missing\.pt \(the first argument, MODEL\) does not exist",
            id="no model file",
        ),
        pytest.param(
            "{weights} {folder}/missing.npz",
            r"data file \S*/missing\.npz \(the second argument, DATA\) does not exist",
            id="no data file",
        ),
        pytest.param(
            "{weights} {data} --batch-size 5000",
            rf"--batch-size 5000 is larger than the {DIGITS} images in \S*digits\.safetensors \(x_train\); "
            rf"use at most {DIGITS}",
            id="batch larger than the data",
        ),
        pytest.param(
            "{weights} {data} --layers fc* conv9*",
            r"no layer of the model matches 'conv9\*'; its layers are:\n  conv1 \(Conv2d\)",
            id="unknown layer",
        ),
        pytest.param(
            "{state} {data}",
            r"holds a state dict: name the function that builds its model with --factory",
            id="state dict without factory",
        ),
        pytest.param(
            "{weights} {data} --factory torchvision.models:resnet18",
            r"holds a dict, not a state dict",
            id="factory without state dict",
        ),
        pytest.param(
            "{weights} {data} --thresholds 1e-4 0",
            r"thresholds \[0\.0001, 0\.0\]: expected one or more positive numbers",
            id="zero threshold",
        ),
    ],
)
def test_bad_input_stops_before_any_work_naming_what_is_wrong(run_files, tmp_path, capsys, arguments, message):
    weights, dataset = run_files
    state = tmp_path / "state.pt"
    torch.save(torch.load(weights, weights_only=False)["state"], state)
    argv = arguments.format(folder=tmp_path, weights=weights, data=dataset, state=state).split()
    assert cli.main([*argv, "--device", "cpu", "--out", str(tmp_path / "out")]) == 2
    assert re.search("rankgap-measure: error: .*" + message, capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


def relu_after(layer: nn.Module) -> nn.Module:
    return nn.Sequential(layer, nn.ReLU())


class Returns(nn.Module):
    """A module whose output is what ``make`` makes of its input: a tuple, a 1-D tensor, integers."""

    def __init__(self, make):
        super().__init__()
        self.make = make

    def forward(self, x):
        return self.make(x)


def with_output(make) -> nn.Module:
    """A linear layer, then a module returning ``make(x)``, then whatever the next layer needs."""
    return nn.Sequential(nn.Linear(4, 4), Returns(make))


def on_meta() -> nn.Module:
    with torch.device("meta"):
        return relu_after(nn.Linear(4, 4))


@pytest.mark.parametrize(
    "model, x, options, message",
    [
        pytest.param(
            nn.Sequential(nn.Linear(4, 4)),
            torch.ones(8, 4),
            {},
            r"the model has no activation modules .*\n  0 \(Linear\)",
            id="no activation modules",
        ),
        pytest.param(
            relu_after(nn.Linear(4, 4)),
            torch.ones(8, 3),
            {},
            r"the model's forward pass on a batch of shape \(8, 3\) failed: the model's first layer of known input "
            r"size, 0 \(Linear\), takes 4 features .*shapes cannot be multiplied",
            id="batch the model does not take",
        ),
        pytest.param(
            relu_after(nn.Linear(4, 4)),
            torch.ones(8, 4),
            {"mode": "test"},
            r"mode 'test': expected one of eval, train",
            id="unknown mode",
        ),
        pytest.param(
            relu_after(nn.Linear(4, 4)), torch.full((8, 4), float("nan")), {}, r"layer 1 outputs NaN or Inf", id="NaN"
        ),
        pytest.param(
            relu_after(nn.Linear(4, 4)), torch.ones(0, 4), {}, r"x has shape \(0, 4\): an empty batch", id="empty batch"
        ),
        pytest.param(
            relu_after(nn.Linear(4, 4)),
            [[1.0] * 4] * 8,
            {},
            r"x is a list holding no tensor: give the batch as the model takes it, batch first: a tensor",
            id="not a tensor",
        ),
        pytest.param(
            relu_after(nn.Linear(4, 4)),
            torch.ones(8, 4, dtype=torch.long),
            {},
            r"failed \(x holds torch.int64 values, passed as they are, as token ids for an embedding: cast x to "
            r"float for a model that takes values\)",
            id="integers to a model of values",
        ),
        pytest.param(
            relu_after(nn.Linear(4, 4)), torch.ones(8, 4, dtype=torch.bool), {}, r"x is torch.bool", id="bool"
        ),
        pytest.param(
            on_meta(), torch.ones(8, 4), {}, r"parameters \(0.weight, 0.bias...\) are on the meta device", id="meta"
        ),
        pytest.param(
            with_output(lambda x: x.sum(1)),
            torch.ones(8, 4),
            {"layers": "1"},
            r"layer 1 outputs shape \(2,\): a batch x features output \(2 dimensions or more",
            id="1-D output",
        ),
        pytest.param(
            with_output(lambda x: x.argmax(1, keepdim=True)),
            torch.ones(8, 4),
            {"layers": "1"},
            r"layer 1 outputs torch.int64 values: only floating outputs are measured",
            id="integer output",
        ),
        pytest.param(
            with_output(lambda x: (x, None)),
            torch.ones(8, 4),
            {"layers": "1"},
            r"module 1 returned a tuple of 2 \(Tensor \(2, 4\) of torch.float64, NoneType\), not a tensor: pick "
            r"the tensor to measure with select",
            id="tuple without select",
        ),
        pytest.param(
            with_output(lambda x: {"hidden": x}),
            torch.ones(8, 4),
            {"layers": "1", "select": "attention"},
            r"module 1 returned a dict \('hidden': Tensor \(2, 4\) of torch.float64\): 'attention' picks nothing",
            id="select picks nothing",
        ),
    ],
)
def test_bad_input_to_the_api_names_what_is_wrong(model, x, options, message):
    with pytest.raises(api.InputError, match=message):
        api.measure(model, x, device="cpu", **options)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_gpu_asked_for_and_missing_is_named():
    with pytest.raises(api.InputError, match=r"device cuda: torch finds no GPU here \(host .*\); use device='cpu'"):
        api.measure(relu_after(nn.Linear(4, 4)), torch.ones(8, 4), device="cuda")


def test_a_bad_layer_is_found_before_any_measurement(monkeypatch):
    """The second layer returns a tuple: the check on two samples stops before any SVD."""
    analysed = []
    monkeypatch.setattr(svd, "analyse_layer", lambda *args, **kwargs: analysed.append(args) or ([], []))
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), Returns(lambda x: (x, x)))
    with pytest.raises(api.InputError, match="module 2 returned a tuple"):
        api.measure(model, torch.ones(8, 4), layers=["1", "2"], device="cpu")
    assert analysed == []


class Encoder(nn.Module):
    """A small transformer on token ids: an embedding, two encoder layers (batch x tokens x hidden)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Embedding(50, 16)
        layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)

    def forward(self, tokens):
        return self.encoder(self.embed(tokens)).mean(1)


def test_a_token_sequence_is_measured_per_mode():
    """Integer token ids reach the embedding as they are; each encoder layer's output (batch x tokens
    x hidden) is measured in its three modes, named as asked, each spectrum the SVD of its unfolding;
    an attention block's tuple is measured through select."""
    tokens = torch.randint(0, 50, (24, 10), generator=torch.Generator().manual_seed(0))
    model = Encoder()
    result = api.measure(model, tokens, layers="encoder.layers.?", axes=("token", "hidden"), device="cpu")
    assert result.modes[["layer", "mode", "dim", "rest"]].values.tolist() == [
        [f"encoder.layers.{i}", mode, dim, 24 * 10 * 16 // dim]
        for i in range(2)
        for mode, dim in (("batch", 24), ("token", 10), ("hidden", 16))
    ]
    outputs = probe.capture(model.double(), tokens, [("encoder.layers.1", model.encoder.layers[1])])[0]
    hidden = outputs["encoder.layers.1"]
    unfolding = hidden.movedim(2, 0).reshape(16, -1)
    spectrum = result.spectra.query("layer == 'encoder.layers.1' and mode == 'hidden'")["sigma"].to_numpy()
    np.testing.assert_allclose(spectrum, torch.linalg.svdvals(unfolding).numpy(), rtol=1e-10, atol=1e-12)
    # layer norm leaves every token's hidden vector with mean zero: the hidden mode loses one direction
    assert result.counts.query("mode == 'hidden' and threshold == 1e-4")["count"].tolist() == [1, 1]
    attention = api.measure(model, tokens, layers="encoder.layers.0.self_attn", select=0, device="cpu")
    assert attention.modes["mode"].tolist() == ["batch", "axis1", "axis2"]


@pytest.mark.parametrize("layer, shape", [(nn.Conv1d(3, 5, 3), (12, 3, 20)), (nn.Conv3d(2, 4, 3), (6, 2, 5, 6, 6))])
def test_conv1d_and_conv3d_outputs_are_measured_in_every_mode(layer, shape):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    result = api.measure(relu_after(layer), x, device="cpu")
    assert result.modes["mode"].tolist() == list(svd.mode_names(len(shape)))


def test_memory_holds_one_layers_output_at_a_time(monkeypatch):
    """The forward pass hands each output over as it is produced: when a layer is analysed, no
    earlier layer's output is kept anywhere (the capture keeps nothing)."""
    seen = []

    def analyse(depth, name, x, **_):
        seen.append((name, x.shape))
        return [], []

    monkeypatch.setattr(svd, "analyse_layer", analyse)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 6), nn.ReLU())
    kept = probe.capture(
        model.double(), torch.ones(5, 4, dtype=torch.float64), [("1", model[1]), ("3", model[3])], keep=lambda *_: None
    )[0]
    assert kept == {}
    api.measure(model, torch.ones(5, 4), device="cpu")
    assert seen == [("1", (5, 8)), ("3", (5, 6))]


def test_the_transformer_example_measures_every_mode_and_its_command_line_agrees(tmp_path):
    """examples/transformer.py, as its docstring runs it: the counts per layer and mode of a small
    encoder on token ids, then the command line it prints, on the files it saved, gives the same."""
    project = copy_project(tmp_path)
    shown = subprocess.run(
        [sys.executable, "examples/transformer.py"], cwd=project, capture_output=True, text=True, check=True
    ).stdout
    for layer in range(3):
        for mode in ("batch", "token", "hidden"):
            assert re.search(rf"encoder\.layers\.{layer} +{mode} ", shown)
    command = shlex.split(shown.strip().splitlines()[-1])
    assert command[0] == ".venv/bin/rankgap-measure"
    subprocess.run([sys.executable, "-m", "rankgap.cli", *command[1:]], cwd=project, check=True, capture_output=True)
    counts = pd.read_csv(project / "measured/transformer/counts.csv").query("threshold == 1e-4")
    assert counts["mode"].unique().tolist() == ["batch", "token", "hidden"]
    # every encoder layer ends in a layer norm: one direction of the hidden space is an exact zero
    assert counts.query("mode == 'hidden'")[["count", "other_zeros"]].values.tolist() == [[1, 1]] * 3
    assert json.loads((project / "measured/transformer/measurement.json").read_text())["axes"] == ["token", "hidden"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "model, shown",
    [
        ("resnet50", r"measure / limit: time [\d.]+x \(goal <= 1\.3\), peak memory [\d.]+x \(goal <= 1\.5\)"),
        # a transformer (transformers, random weights) in its own bf16, the 13 hidden states of GPT-2 124M
        ("gpt2", r"gpt2, batch 2 x 256 tokens, bfloat16, 13 layers(.|\n)*peak memory [\d.]+x \(goal <= 1\.5\)"),
    ],
)
def test_the_scale_benchmark_prints_its_ratios(model, shown):
    """benchmarks/measure_scale.py at two samples (its figures in docs/speed.md are at 64, 32 and 16)."""
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/measure_scale.py"), "--models", model, "--batch", "2"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert re.search(shown, out)


def test_the_command_line_loads_a_whole_model_whose_class_is_in_the_current_folder(tmp_path, monkeypatch):
    """torch.save(model) pickles the class by module name: the command finds the module in the folder it
    runs in, as `python -m` would, without changing the import path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "netdef", None)  # removed after the test
    del sys.modules["netdef"]
    (tmp_path / "netdef.py").write_text(
        "from torch import nn\n\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.body = nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.ReLU(), nn.Linear(5, 2))\n\n"
        "    def forward(self, x):\n"
        "        return self.body(x)\n"
    )
    from rankgap import user_code

    torch.save(user_code.import_module("netdef").Net(), "whole.pt")
    del sys.modules["netdef"]  # as in a new process: the class must be found again
    np.savez("images.npz", x=torch.randint(0, 256, (20, 3, 2, 2), dtype=torch.uint8).numpy())
    path = list(sys.path)
    arguments = ["whole.pt", "images.npz", "--batch-size", "8", "--thresholds", "1e-4", "--device", "cpu"]
    assert cli.main([*arguments, "--out", "out"]) == 0
    assert sys.path == path
    counts = pd.read_csv(tmp_path / "out" / "counts.csv", dtype={"layer": str})
    assert not counts.empty
