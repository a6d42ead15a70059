"""Text tokenizers shaped like the base models' (built here: the Hub is unreachable).

`llama3_like`: Llama 3's shape: 128,000 base ids (a small byte-level BPE trained on the bundled
transcripts, then unused fillers), 256 special tokens from 128,000 (`<|begin_of_text|>` 128000,
`<|eot_id|>` 128009, ...), and a post-processor that puts the BOS first, as Llama 3's does.
`lfm2_like`: LFM2's shape as VyvoTTS reads it: 64,400 ids, `<|startoftext|>` 1 first and
`<|im_end|>` 7 among the special tokens below the BPE. `small_bos0`: the 500-id tokenizer with
BOS 0 that issue #31 found accepted (it must be refused now).
"""

from __future__ import annotations

import csv
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

SPEECH = Path(__file__).parent / "data" / "speech"


def bundled_texts() -> list[str]:
    with open(SPEECH / "manifest.tsv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [row["text"] for row in rows] + [row["speaker"] for row in rows]


def _small_bpe(vocab_size: int = 500) -> tuple[dict[str, int], list[tuple[str, str]]]:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(bundled_texts(), trainer)
    model = tok.to_str()
    import json

    data = json.loads(model)["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in data["merges"]]
    return data["vocab"], merges


def _save(
    folder: Path,
    vocab: dict[str, int],
    merges: list[tuple[str, str]],
    specials: list[str],
    bos: str | None,
    eos: str | None,
) -> Path:
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(specials)
    if bos is not None:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", special_tokens=[(bos, tok.token_to_id(bos))]
        )
    PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eos).save_pretrained(str(folder))
    return folder


def llama3_like(folder: Path) -> Path:
    """Llama 3's shape (module docstring): len 128,256, BOS 128000 first, `<|eot_id|>` 128009."""
    vocab, merges = _small_bpe()
    vocab = dict(vocab)
    for i in range(len(vocab), 128_000):
        vocab[f"<filler_{i}>"] = i
    names = {0: "<|begin_of_text|>", 1: "<|end_of_text|>", 9: "<|eot_id|>"}
    specials = [names.get(i, f"<|reserved_special_token_{i}|>") for i in range(256)]
    return _save(folder, vocab, merges, specials, "<|begin_of_text|>", "<|eot_id|>")


def lfm2_like(folder: Path) -> Path:
    """LFM2's shape (module docstring): len 64,400, BOS 1 first, `<|im_end|>` 7."""
    small, merges = _small_bpe()
    first = 16  # ids 0..15: special tokens, as LFM2 has them below its BPE
    names = {0: "<|pad|>", 1: "<|startoftext|>", 2: "<|endoftext|>", 7: "<|im_end|>"}
    specials = [names.get(i, f"<|special_{i}|>") for i in range(first)]
    vocab = {name: i for i, name in enumerate(specials)}
    vocab.update({token: first + i for token, i in small.items()})
    for i in range(len(vocab), 64_400):
        vocab[f"<filler_{i}>"] = i
    return _save(folder, vocab, merges, specials, "<|startoftext|>", "<|im_end|>")


def small_bos0(folder: Path) -> Path:
    """A 500-id byte-level BPE whose BOS is id 0 (not any base model's)."""
    vocab, merges = _small_bpe(499)
    vocab = {"<bos>": 0, **{t: i + 1 for t, i in vocab.items()}}
    return _save(folder, vocab, merges, ["<bos>"], "<bos>", None)
