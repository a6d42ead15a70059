"""Reference levels of bits per audio-second that need no LM: uniform and unigram over raw codes.

Every tokenization is lossless, so these levels hold for every row of the LM table. Symbols: each
code of each scale is its own symbol (code c of scale k is symbol k * codebook_size + c), plus the
`<audio_end>` marker, which the LMs are scored on too: V = n_scales * codebook_size + 1 symbols,
N = held-out codes + one end marker per held-out file (what `measure.held_out_nll` scores for the
raw-code baseline).

- uniform: every symbol costs log2(V) bits; bits/s = N * log2(V) / held-out seconds.
- unigram: add-one-smoothed symbol frequencies of the *train* split, p(s) = (n(s) + 1) / (T + V)
  with T the train symbols; bits/s = sum over held-out symbols of -log2 p(s) / held-out seconds.
  An LM that learned only how often each code occurs lands here.

**Position-specific unigram** (`position_unigram_levels`, the `orpheus` layout's own level): the
same add-one unigram over that layout's symbols, one per (frame position, code) plus the end
marker (7 x 4,096 + 1 at 24 kHz: `snac_hf.layout.orpheus.position_codes`). A code of scale 1 or 2
has a separate frequency at each frame position it can take, so this level is what a model on
Orpheus ids reaches by learning frequencies alone: the "did it learn" line for that layout.

A model is **at the unigram level** when its held-out bits/s is above (1 - AT_UNIGRAM_MARGIN)
times the unigram level: it beats code frequencies alone by less than 5%.
"""

from __future__ import annotations

import math

import numpy as np
from datasets import Dataset

from snac_hf.bpe.corpus import iter_batches
from snac_hf.layout import CodecLayout
from snac_hf.layout.codes import validate_batch
from snac_hf.layout.orpheus import frame_positions, position_codes

#: A model within this fraction below the unigram level (or above it) is "at the unigram level".
AT_UNIGRAM_MARGIN = 0.05


def symbol_counts(dataset: Dataset, layout: CodecLayout) -> np.ndarray:
    """Counts of the V symbols (see module docstring) over every file of `dataset`."""
    size = layout.codebook_size
    counts = np.zeros(layout.n_scales * size + 1, np.int64)
    for _, files in iter_batches(dataset, layout.n_scales):
        for scales in files:
            for k, codes in enumerate(scales):
                counts[k * size : (k + 1) * size] += np.bincount(np.asarray(codes, np.int64), minlength=size)
            counts[-1] += 1  # <audio_end>
    return counts


def reference_levels(train: Dataset, held_out: Dataset, layout: CodecLayout, held_out_seconds: float) -> dict:
    """{"uniform_bits_per_second", "unigram_bits_per_second", "symbols", "held_out_symbols",
    "at_unigram_margin"}: the two levels of the module docstring."""
    train_counts, held_counts = symbol_counts(train, layout), symbol_counts(held_out, layout)
    symbols, scored = train_counts.size, int(held_counts.sum())
    log_p = np.log2((train_counts + 1) / (train_counts.sum() + symbols))
    return {
        "uniform_bits_per_second": scored * math.log2(symbols) / held_out_seconds,
        "unigram_bits_per_second": float(-(held_counts * log_p).sum()) / held_out_seconds,
        "symbols": symbols,
        "held_out_symbols": scored,
        "at_unigram_margin": AT_UNIGRAM_MARGIN,
    }


def position_symbol_counts(dataset: Dataset, layout: CodecLayout) -> np.ndarray:
    """Counts of the (frame position, code) symbols and the end marker over every file of `dataset`."""
    size, positions = layout.codebook_size, len(frame_positions(layout)[0])
    counts = np.zeros(positions * size + 1, np.int64)
    for ids, files in iter_batches(dataset, layout.n_scales):
        position, code, _ = position_codes(validate_batch(files, layout, ids), layout)
        counts[:-1] += np.bincount(position * size + code, minlength=positions * size)
        counts[-1] += len(files)  # <audio_end>
    return counts


def position_unigram_levels(
    train: Dataset, held_out: Dataset, layout: CodecLayout, held_out_seconds: float
) -> dict:
    """{"unigram_bits_per_second", "symbols"}: the position-specific unigram level (module docstring)."""
    train_counts, held_counts = (
        position_symbol_counts(train, layout),
        position_symbol_counts(held_out, layout),
    )
    log_p = np.log2((train_counts + 1) / (train_counts.sum() + train_counts.size))
    return {
        "unigram_bits_per_second": float(-(held_counts * log_p).sum()) / held_out_seconds,
        "symbols": int(train_counts.size),
    }


def at_unigram_level(bits_per_second: float, unigram_bits_per_second: float) -> bool:
    """True when `bits_per_second` > (1 - AT_UNIGRAM_MARGIN) * the unigram level."""
    return bits_per_second > (1 - AT_UNIGRAM_MARGIN) * unigram_bits_per_second
