"""A Hugging Face transformer measured as its users hold it, without a download: GPT-2's shape
(4 blocks, 256 wide) built from its config with random weights, a word-level tokenizer of its own,
and a batch of texts of different lengths, padded.

    python examples/hugging_face.py        # needs: pip install transformers

1. ``rankgap.measure(model, tokenizer(texts, padding=True, return_tensors="pt"),
   layers="hidden_states", precision="model")``: the tokenizer's output as the batch, its padding
   left out of every unfolding, the model's own hidden states, run in bf16 without a copy; its
   tables saved in measured/hugging_face/api/.
2. The same model saved as a model folder (config.json, model.safetensors, the tokenizer's files)
   beside a text file, and the command line that measures them offline, which this prints last.
"""

from pathlib import Path

import torch
import transformers
from tokenizers import Tokenizer, models, pre_tokenizers

import rankgap

WORDS = ["[PAD]", "[UNK]", *(f"w{i}" for i in range(998))]
OUT = Path("measured/hugging_face")


def word_tokenizer() -> transformers.PreTrainedTokenizerFast:
    """A tokenizer that maps the words w0 ... w997 to ids, padding with [PAD]."""
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="[PAD]", unk_token="[UNK]")


def texts(count: int = 16) -> list[str]:
    """``count`` texts of 24 to 64 words."""
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(24, 65, (count,), generator=g).tolist()
    return [" ".join(f"w{int(i)}" for i in torch.randint(0, 998, (n,), generator=g)) for n in lengths]


def main() -> None:
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=4, n_embd=256, n_head=4, n_positions=64, vocab_size=len(WORDS))
    config.bos_token_id = config.eos_token_id = None  # no such tokens in this vocabulary
    model = transformers.GPT2Model(config).eval().to(torch.bfloat16)
    tokenizer, lines = word_tokenizer(), texts()
    batch = tokenizer(lines, padding=True, return_tensors="pt")
    result = rankgap.measure(model, batch, layers="hidden_states", precision="model")
    print(result)
    result.save(OUT / "api")  # spectra.csv, modes.csv, counts.csv
    model.save_pretrained(OUT / "model")
    tokenizer.save_pretrained(OUT / "model")
    (OUT / "texts.txt").write_text("\n".join(lines) + "\n")
    print("\nthe same from the command line (from the project folder):")
    print(
        f".venv/bin/rankgap-measure {OUT}/model {OUT}/texts.txt --batch-size {len(lines)} --precision model "
        f"--out {OUT}/measured"
    )


if __name__ == "__main__":
    main()
