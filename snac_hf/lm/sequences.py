"""Token set -> the id sequences an LM sees, per tokenization, and tokens per audio-second.

Each file becomes one sequence `<bos> <audio_start> audio tokens... <audio_end> <eos>`
(`AudioTokenizer.encode(codes, add_special_tokens=True)`). A tokenization is a BPE variant with a
number of merges; the raw-codes baseline is a variant's serialization with 0 merges (one token per
code). Tokenizers are trained on the train split only. The `orpheus` baseline is the Orpheus
layout (`orpheus_tokens`: frame order, one id per frame position and code, nothing trained).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import Dataset

from snac_hf.bpe import AudioTokenizer, load_tokenizer, train_tokenizer
from snac_hf.bpe.corpus import iter_batches
from snac_hf.layout import CodecLayout
from snac_hf.lm.orpheus_tokens import ORPHEUS, OrpheusTokenizer

#: Special tokens per sequence: <bos> <audio_start> ... <audio_end> <eos>.
SPECIALS_PER_SEQUENCE = 4


@dataclass
class Split:
    """The sequences of one split and the audio they stand for."""

    sequences: list[np.ndarray]
    durations: np.ndarray  # seconds per file

    @property
    def seconds(self) -> float:
        return float(self.durations.sum())

    @property
    def audio_tokens(self) -> int:
        return sum(len(s) - SPECIALS_PER_SEQUENCE for s in self.sequences)

    @property
    def tokens_per_second(self) -> float:
        """Audio tokens (specials excluded) per second of audio."""
        return self.audio_tokens / self.seconds

    def stream(self) -> np.ndarray:
        """All sequences concatenated: what training windows are cut from."""
        return np.concatenate(self.sequences)


@dataclass
class Tokenization:
    name: str
    variant: str
    num_merges_requested: int
    tokenizer: AudioTokenizer | OrpheusTokenizer
    train: Split
    held_out: Split

    @property
    def special_ids(self) -> dict[str, int]:
        t = self.tokenizer
        return {"bos": t.bos_token_id, "eos": t.eos_token_id, "pad": t.pad_token_id}


def encode_split(tokenizer: AudioTokenizer | OrpheusTokenizer, dataset: Dataset, n_scales: int) -> Split:
    sequences = []
    for ids, files in iter_batches(dataset, n_scales, batch_size=256):
        encoded = tokenizer.encode_batch(files, add_special_tokens=True, names=[f"file {i!r}" for i in ids])
        sequences.extend(np.asarray(e, dtype=np.int64) for e in encoded)
    durations = np.asarray(dataset.select_columns(["duration"]).with_format("numpy")["duration"], np.float64)
    return Split(sequences, durations)


def make_tokenization(
    name: str,
    variant: str,
    num_merges: int,
    train: Dataset,
    held_out: Dataset,
    layout: CodecLayout,
    tokenizer_dir: str | os.PathLike,
    load_saved: bool = False,
) -> Tokenization:
    """Train `variant` with `num_merges` merges on `train`, save it, encode both splits.

    `load_saved=True` loads the tokenizer already saved in `tokenizer_dir` instead of training
    (the other processes of a multi-process run, after the main one trained it)."""
    folder = (
        Path(tokenizer_dir)
        if load_saved
        else train_tokenizer(train, variant, num_merges, output_dir=Path(tokenizer_dir), layout=layout)
    )
    tokenizer = load_tokenizer(folder)
    return Tokenization(
        name,
        variant,
        num_merges,
        tokenizer,
        encode_split(tokenizer, train, layout.n_scales),
        encode_split(tokenizer, held_out, layout.n_scales),
    )


def make_orpheus_tokenization(
    name: str, train: Dataset, held_out: Dataset, layout: CodecLayout
) -> Tokenization:
    """The `orpheus` baseline (`orpheus_tokens`): nothing to train, both splits encoded."""
    tokenizer = OrpheusTokenizer(layout)
    return Tokenization(
        name,
        ORPHEUS,
        0,
        tokenizer,
        encode_split(tokenizer, train, layout.n_scales),
        encode_split(tokenizer, held_out, layout.n_scales),
    )
