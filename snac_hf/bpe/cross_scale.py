"""Cross-scale BPE: codes serialized frame by frame, so merges learn cross-scale frame patterns.

Definition. A frame is one coarse code and its children: `vq_strides[0] // vq_strides[k]` codes
of scale k (1 + 2 + 4 = 7 symbols at 24 kHz, 1 + 2 + 4 + 8 = 15 with four scales). Every code is
placed at its start time `i * vq_strides[k]` (in units of the finest hop) and the codes of all
scales are written in order of (start time, scale). Within a full 24 kHz frame that is

    s0[f]  s1[2f]  s2[4f]  s2[4f+1]  s1[2f+1]  s2[4f+2]  s2[4f+3]

the depth-first order of the frame's tree (each code right before its children), the order SNAC
language models such as Orpheus use, so each symbol sits next to the codes that overlap it in time.

The last frame may be partial (4.1 s at 24 kHz: 48/97/193 codes): the codes that exist are
exactly those whose start time is before the end of the audio, so they are a prefix of the full
frame's order and the serialization is simply cut there. Nothing is padded, and the decoder needs no
lengths: every symbol names its scale, so decoding sorts symbols back into scales in order.

Merges and frames: by default (`span_frames=False`) the pre-tokenizer starts a new word at every
scale-0 symbol, so a token never crosses a frame boundary (at most 7 or 15 codes per token, one
token sequence per frame: a model can stop after any frame). With `span_frames=True` the whole
file is one word and merges may join the end of one frame to the next (more compression, tokens no
longer frame-aligned). This is also how codec-bpe flattens multi-codebook codecs.
"""

from __future__ import annotations

import numpy as np
from tokenizers import pre_tokenizers

from snac_hf.bpe.variant import Variant, frame_split
from snac_hf.layout import CodecLayout
from snac_hf.layout.codes import CodeBatch


def depth_first_columns(layout: CodecLayout) -> list[np.ndarray]:
    """For each scale, the positions of its codes inside a full frame, in (start time, scale) order."""
    per_frame = layout.codes_per_frame
    slots = [(j * layout.vq_strides[k], k, j) for k in range(layout.n_scales) for j in range(per_frame[k])]
    rank = {(k, j): position for position, (_, k, j) in enumerate(sorted(slots))}
    return [np.array([rank[(k, j)] for j in range(per_frame[k])]) for k in range(layout.n_scales)]


def scale_major_columns(layout: CodecLayout) -> list[np.ndarray]:
    """For each scale, the positions of its codes inside a full frame when scales come in turn."""
    offsets = np.cumsum((0,) + layout.codes_per_frame)
    return [np.arange(offsets[k], offsets[k + 1]) for k in range(layout.n_scales)]


def frame_interleave(
    batch: CodeBatch, symbols: np.ndarray, layout: CodecLayout, columns: list[np.ndarray]
) -> np.ndarray:
    """`symbols` (one per code of `batch`) rewritten frame after frame, `columns` placing them in a frame.

    Every code gets its slot in a grid of full frames (files one after another); a partial last
    frame leaves empty slots, which are dropped. One scatter, no sort.
    """
    frame_size = sum(layout.codes_per_frame)
    per_frame = np.asarray(layout.codes_per_frame, dtype=np.int64)
    frames = batch.lengths[:, 0]
    first_frame = np.cumsum(frames) - frames  # of each file in the grid
    scale, index = batch.scale, batch.index
    slot_of = np.full((layout.n_scales, int(per_frame.max())), -1, dtype=np.int64)
    for k, cols in enumerate(columns):
        slot_of[k, : cols.size] = cols
    frame = first_frame[batch.file] + index // per_frame[scale]
    position = frame * frame_size + slot_of[scale, index % per_frame[scale]]
    grid = np.zeros(int(frames.sum()) * frame_size, dtype=np.uint32)
    grid[position] = symbols
    return grid[grid != 0]  # every symbol is >= U+F0000, so 0 marks an empty slot


class CrossScaleBPE(Variant):
    name = "cross_scale"
    frame_based = True

    def __init__(self, layout: CodecLayout, max_run: int | None = None, span_frames: bool | None = None):
        super().__init__(layout, max_run, span_frames)
        self.columns = depth_first_columns(layout)

    def serialize_batch(self, batch: CodeBatch) -> tuple[np.ndarray, np.ndarray]:
        symbols = self.alphabet.scale_codepoints(batch.scale, batch.codes)
        return frame_interleave(batch, symbols, self.layout, self.columns), batch.lengths.sum(axis=1)

    def pre_tokenizer(self) -> pre_tokenizers.PreTokenizer | None:
        return None if self.span_frames else frame_split(self.alphabet)
