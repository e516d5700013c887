"""rankgap.measure on transformers as their users hold them: batches of keyword or positional
arguments (a tokenizer's output), attention masks that leave padding out of every unfolding, the
model's own hidden states as the layers, and its own precision without a copy. Hugging Face models
built from configs with random weights (no download)."""

import copy
import json
import os

import pandas as pd
import pytest
import torch
from torch import nn

import rankgap
from rankgap import api, cli, svd

transformers = pytest.importorskip("transformers", reason="the test extra installs transformers")

HIDDEN, TOKENS, VOCAB = 16, 10, 50


class Tokens(nn.Module):
    """forward(input_ids, attention_mask=None) -> dict, as Hugging Face models are called: each
    token's embedding (the padding token, 0, has one too, as in most models), then a linear layer."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Embedding(VOCAB, HIDDEN)
        self.mix = nn.Linear(HIDDEN, HIDDEN, bias=False)
        self.act = nn.Identity()

    def forward(self, input_ids, attention_mask=None):
        return {"last_hidden_state": self.act(self.mix(self.embed(input_ids)))}


def padded_batch():
    """Four sequences of 10 positions, the first 3 tokens, then padding (token 0): 12 real tokens,
    fewer than the 16 hidden units, and 28 padded positions."""
    ids = torch.randint(1, VOCAB, (4, TOKENS), generator=torch.Generator().manual_seed(1))
    mask = torch.ones(4, TOKENS, dtype=torch.long)
    mask[:, 3:] = 0
    return {"input_ids": ids * mask, "attention_mask": mask}


def test_a_tokenizers_output_reaches_the_model_as_keyword_arguments_and_a_tuple_as_positional():
    model, batch = Tokens(), padded_batch()
    by_keyword = rankgap.measure(model, batch, layers="act", device="cpu", mask=False)
    by_position = rankgap.measure(model, (batch["input_ids"],), layers="act", device="cpu")
    assert by_keyword.counts.equals(by_position.counts)
    assert "x['input_ids'] (4, 10), x['attention_mask'] (4, 10)" in repr(by_keyword)


def test_padded_positions_are_left_out_of_every_unfolding_with_a_token_mode():
    """The planted case: 12 real tokens span at most 12 of the 16 hidden dimensions, so the hidden
    mode has 12 values and nothing to count (the other 4 are the structural deficit); the 28 padded
    positions, copies of one vector, would add a thirteenth dimension and 3 exact zeros to the count,
    and change every mode's effective rank. With the mask each mode is the SVD of what is real,
    computed by hand here."""
    model, batch = Tokens(), padded_batch()
    result = rankgap.measure(model, batch, layers="act", device="cpu")
    out = copy.deepcopy(model).double()(**batch)["last_hidden_state"].detach()  # the float64 pass measure runs
    mask = batch["attention_mask"].bool()
    real = out[mask]  # 12 x 16
    common = out[:, mask.all(0)]  # 4 x 3 x 16
    expected = {
        "batch": torch.linalg.svdvals(common.reshape(4, -1)),
        "token": torch.linalg.svdvals(common.permute(1, 0, 2).reshape(3, -1)),
        "hidden": torch.linalg.svdvals(real.T),
    }
    modes = result.modes.set_index("mode")
    assert list(modes.index) == ["batch", "token", "hidden"]
    for mode, sigma in expected.items():
        measured = result.spectra.query("mode == @mode")["sigma"].to_numpy()
        assert measured == pytest.approx(sigma.numpy(), rel=1e-10, abs=1e-12)
        assert modes.loc[mode, "effective_rank"] == pytest.approx(svd.effective_rank(sigma.numpy()))
    counted = result.counts.query("threshold == 1e-4").set_index("mode")
    assert counted.loc["hidden", "count"] == 0 and modes.loc["hidden", "deficit"] == HIDDEN - 12
    unmasked = rankgap.measure(model, batch, layers="act", device="cpu", mask=False)
    padded = unmasked.counts.query("threshold == 1e-4").set_index("mode")
    assert padded.loc["axis2", "count"] == 3  # what the padding would have added
    for mode, unmasked_mode in (("batch", "batch"), ("token", "axis1"), ("hidden", "axis2")):
        assert unmasked.modes.set_index("mode").loc[unmasked_mode, "effective_rank"] != pytest.approx(
            modes.loc[mode, "effective_rank"], rel=1e-3
        )


@pytest.mark.parametrize(
    "mask, expected",
    [
        (torch.ones(3, TOKENS), "expected a tensor of shape (4, tokens)"),
        (torch.full((4, TOKENS), 2), "values other than 0 and 1"),
        (torch.zeros(4, TOKENS), "sequence(s) [0, 1, 2, 3] have no token at all"),
    ],
)
def test_a_bad_mask_is_refused_before_any_measurement(mask, expected):
    with pytest.raises(api.InputError, match=expected.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        rankgap.measure(Tokens(), padded_batch()["input_ids"], layers="act", device="cpu", mask=mask)


def test_tensors_of_different_batch_sizes_are_named():
    batch = padded_batch() | {"attention_mask": torch.ones(3, TOKENS)}
    with pytest.raises(api.InputError, match=r"x\['input_ids'\]: 4, x\['attention_mask'\]: 3"):
        rankgap.measure(Tokens(), batch, layers="act", device="cpu")


def gpt2():
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=2, n_positions=TOKENS, vocab_size=VOCAB)
    config.bos_token_id = config.eos_token_id = 0
    return transformers.GPT2Model(config).eval()


def bert():
    torch.manual_seed(0)
    config = transformers.BertConfig(
        num_hidden_layers=2, hidden_size=32, num_attention_heads=2, intermediate_size=64, vocab_size=VOCAB
    )
    return transformers.BertModel(config).eval()


def first_block(model):
    """The module of a model's first block (GPT-2's h.0, BERT's encoder.layer.0)."""
    return model.h[0] if hasattr(model, "h") else model.encoder.layer[0]


def test_transformers_activation_classes_are_measured_by_default():
    result = rankgap.measure(gpt2(), padded_batch(), device="cpu")
    assert list(result.modes["layer"].unique()) == ["h.0.mlp.act", "h.1.mlp.act"]  # NewGELUActivation


@pytest.mark.parametrize("build", [gpt2, bert])
def test_hidden_states_in_the_models_own_bf16_without_a_copy_agree_with_float64(build, monkeypatch):
    model, batch = build(), padded_batch()
    exact = rankgap.measure(model, batch, layers="hidden_states", device="cpu")
    assert list(exact.modes["layer"].unique()) == [f"hidden_states.{i}" for i in range(3)]  # embeddings, 2 blocks
    bf16 = model.to(torch.bfloat16)
    seen = []
    first_block(bf16).register_forward_hook(lambda _m, _i, out: seen.append(out[0].dtype))
    monkeypatch.setattr(copy, "deepcopy", lambda *_: pytest.fail("precision='model' copied the model"))
    own = rankgap.measure(bf16, batch, layers="hidden_states", precision="model")
    assert seen and set(seen) == {torch.bfloat16}  # the forward pass ran in bf16, on the model itself
    assert next(bf16.parameters()).dtype == torch.bfloat16 and not bf16.training
    # bf16 keeps 8 bits of mantissa: the effective rank, a smooth function of every value, agrees to
    # about 1e-2 relative; the counts at the paper's thresholds it cannot resolve (docs/measure.md)
    assert own.modes["effective_rank"].to_numpy() == pytest.approx(exact.modes["effective_rank"].to_numpy(), rel=2e-2)


def test_a_device_other_than_the_models_is_refused_with_precision_model():
    with pytest.raises(api.InputError, match="runs the model where it is"):
        rankgap.measure(gpt2(), padded_batch(), precision="model", device="meta")


def saved_folder(folder):
    """A GPT-2-shaped model and a word-level tokenizer of its own (no download), as save_pretrained
    writes them: config.json, model.safetensors, the tokenizer's files."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["[PAD]", "[UNK]", *(f"w{i}" for i in range(VOCAB - 2))]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="[PAD]", unk_token="[UNK]")
    gpt2().save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def test_the_command_line_opens_a_model_folder_offline_on_a_text_file(tmp_path, monkeypatch, capsys):
    """`rankgap-measure MODEL_FOLDER texts.txt`: its hidden states, padding left out, as rankgap.measure
    gives them on the same tokenized batch; no network (HF_HUB_OFFLINE)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = saved_folder(tmp_path / "model")
    lengths = [9, 4, 7, 2]
    (tmp_path / "texts.txt").write_text("\n".join(" ".join(f"w{i}" for i in range(n)) for n in lengths) + "\n")
    out = tmp_path / "measured"
    arguments = [str(folder), str(tmp_path / "texts.txt"), "--batch-size", "4", "--device", "cpu", "--out", str(out)]
    assert cli.main(arguments) == 0, capsys.readouterr().err
    modes = pd.read_csv(out / "modes.csv")
    assert modes["layer"].unique().tolist() == [f"hidden_states.{i}" for i in range(3)]
    hidden = modes.query("mode == 'hidden'")
    assert (hidden["rest"] == sum(lengths)).all()  # every real token, no padded position
    assert (modes.query("mode == 'token'")["dim"] == min(lengths)).all()  # positions a token in every text
    assert json.loads((out / "measurement.json").read_text())["layers"] == "hidden_states"


def test_a_folder_without_config_json_is_named(tmp_path, capsys):
    (tmp_path / "model").mkdir()
    (tmp_path / "texts.txt").write_text("w1 w2\n")
    assert cli.main([str(tmp_path / "model"), str(tmp_path / "texts.txt")]) == 2
    assert "is a folder, not a file (a model folder holds config.json: this one does not)" in capsys.readouterr().err


def test_the_hugging_face_example_and_its_command_line_agree(tmp_path):
    """examples/hugging_face.py, as its docstring runs it, then the command it prints, offline, on
    the model folder and texts it saved: the same hidden states, the same spectra (the command line
    draws the texts in another order, which changes no singular value)."""
    import shlex
    import subprocess
    import sys

    from conftest import copy_project

    project = copy_project(tmp_path)
    offline = {**os.environ, "HF_HUB_OFFLINE": "1"}
    shown = subprocess.run(
        [sys.executable, "examples/hugging_face.py"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
        env=offline,
    ).stdout
    assert "Measurement of GPT2Model: 5 layers" in shown
    command = shlex.split(shown.strip().splitlines()[-1])
    assert command[0] == ".venv/bin/rankgap-measure"
    subprocess.run([sys.executable, "-m", "rankgap.cli", *command[1:]], cwd=project, check=True, env=offline)
    api_modes = pd.read_csv(project / "measured/hugging_face/api/modes.csv")
    cli_modes = pd.read_csv(project / "measured/hugging_face/measured/modes.csv")
    assert cli_modes["layer"].tolist() == api_modes["layer"].tolist()
    assert cli_modes["effective_rank"].to_numpy() == pytest.approx(api_modes["effective_rank"].to_numpy(), rel=1e-6)
