"""A transformer measured end to end, without downloads: near-rank loss of each encoder layer's output
(batch x tokens x hidden) in its three modes.

    .venv/bin/python examples/transformer.py

A small encoder (an embedding, three layers, random weights) on random token ids, measured with
``rankgap.measure``; then its state dict and the tokens are saved (encoder.pt, tokens.npz) and the
command that measures them from the command line, the model built by this file's ``Encoder``, is
printed.
"""

from pathlib import Path

import numpy as np
import torch
from torch import nn

import rankgap

VOCABULARY, TOKENS, HIDDEN = 100, 16, 32


class Encoder(nn.Module):
    """Token ids -> embedding -> transformer encoder layers (batch_first: batch x tokens x hidden) -> a class."""

    def __init__(self, layers: int = 3, classes: int = 4):
        super().__init__()
        self.embed = nn.Embedding(VOCABULARY, HIDDEN)
        layer = nn.TransformerEncoderLayer(HIDDEN, nhead=4, dim_feedforward=64, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(HIDDEN, classes)

    def forward(self, tokens):
        return self.head(self.encoder(self.embed(tokens)).mean(1))


class RowEncoder(nn.Module):
    """For the pipeline (a config's ``models`` entry): an image read as a sequence of its rows, each
    row a token (its pixels, all channels, projected to the hidden size), through transformer encoder
    layers whose outputs (batch x rows x hidden) the probe measures."""

    def __init__(self, channels: int = 1, size: int = 8, classes: int = 10, hidden: int = HIDDEN, layers: int = 2):
        super().__init__()
        self.embed = nn.Linear(channels * size, hidden)
        layer = nn.TransformerEncoderLayer(hidden, nhead=4, dim_feedforward=2 * hidden, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(hidden, classes)

    def forward(self, images):
        rows = images.permute(0, 2, 1, 3).flatten(2)  # batch x height x (channels x width)
        return self.head(self.encoder(self.embed(rows)).mean(1))


def main(folder: Path = Path("measured/transformer")) -> None:
    torch.manual_seed(0)
    model = Encoder()
    tokens = torch.randint(0, VOCABULARY, (64, TOKENS))
    # each encoder layer's output (encoder.layers.0, .1, .2; '?' stops fnmatch's '*' matching their submodules)
    result = rankgap.measure(model, tokens, layers="encoder.layers.?", axes=("token", "hidden"), device="cpu")
    counts = result.counts.query("threshold == 1e-4")
    print("near-rank loss at 1e-4 per layer and mode (count = dead_zeros + other_zeros + genuine):")
    print(counts[["layer", "mode", "values", "count", "dead_zeros", "other_zeros", "genuine"]].to_string(index=False))
    print(result.modes[["layer", "mode", "dim", "rest", "effective_rank"]].to_string(index=False))

    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), folder / "encoder.pt")
    np.savez(folder / "tokens.npz", x_train=tokens.numpy())
    print(
        "\nthe same from the command line (from the project folder):\n"
        f"  .venv/bin/rankgap-measure {folder}/encoder.pt {folder}/tokens.npz --factory examples.transformer:Encoder "
        f"--batch-size 64 --layers 'encoder.layers.?' --axes token hidden --device cpu --out {folder}"
    )


if __name__ == "__main__":
    main()
