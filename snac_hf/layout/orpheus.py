"""The Orpheus frame layout: which code of a SNAC frame sits at each position, numpy only.

A *frame* is one coarse code and its children (`scales.CodecLayout.codes_per_frame`). Orpheus
(canopylabs) writes the 7 codes of a SNAC 24 kHz frame f (scales 0, 1, 2; strides 4, 2, 1) as

    position p:  0      1        2        3          4          5          6
    code:        c0[f]  c1[2f]   c2[4f]   c2[4f+1]   c1[2f+1]   c2[4f+2]   c2[4f+3]

i.e. every code of the frame in order of (start time, scale): each code right before the codes
it overlaps (`frame_positions` gives that order for any SNAC layout: 15 positions with four
scales). An Orpheus id names its position and its code, so each position has its own 4,096 ids.
Two users of this order: the Orpheus export (`snac_hf.export.orpheus`: whole frames of many files
gathered from Arrow buffers, `whole_frames` and `gather_frames`) and the `orpheus` baseline of the
evidence run (`snac_hf.lm.orpheus_tokens`: every code of a file with its position, the partial last
frame kept, `position_codes`, and back, `codes_of_positions`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from snac_hf.layout.codes import CodeBatch
from snac_hf.layout.scales import CodecLayout

#: The codec layout the Orpheus layout is defined for (SNAC 24 kHz): strides and codes per frame.
ORPHEUS_STRIDES = (4, 2, 1)
CODES_PER_FRAME = (1, 2, 4)
FRAME_CODES = 7
#: For each frame position: the scale of its code, and the code's index among that scale's codes
#: of the frame (scale 1 has 2 codes per frame, scale 2 has 4); `frame_positions` of SNAC 24 kHz.
POSITION_SCALE = (0, 1, 2, 2, 1, 2, 2)
POSITION_INDEX = (0, 0, 0, 1, 1, 2, 3)


def frame_positions(layout: CodecLayout) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(scale, index in the frame) of each position of a frame of `layout`: every code of the
    frame sorted by (start time, scale), start time of code j of scale k = j * vq_strides[k]."""
    per_frame = layout.codes_per_frame
    slots = sorted(
        (j * layout.vq_strides[k], k, j) for k in range(layout.n_scales) for j in range(per_frame[k])
    )
    return tuple(k for _, k, _ in slots), tuple(j for _, _, j in slots)


def whole_frames(lengths: np.ndarray) -> np.ndarray:
    """Whole frames of each file from its codes per scale (files x 3 array): the frames whose 7
    codes are all there, `min(n0, n1 // 2, n2 // 4)` (= n2 // 4 for the lengths of real audio)."""
    lengths = np.asarray(lengths, dtype=np.int64).reshape(-1, 3)
    return (lengths // np.asarray(CODES_PER_FRAME, dtype=np.int64)).min(axis=1)


def gather_frames(
    values: Sequence[np.ndarray], offsets: Sequence[np.ndarray], frames: np.ndarray
) -> np.ndarray:
    """The codes of the first `frames[j]` whole 24 kHz frames of many files, one row of 7 codes
    (in position order) per frame, file after file, int32.

    `values[k]` is scale k's flat code buffer and `offsets[k]` the start of each file's codes in it
    (an Arrow list array's values and offsets). Algorithm: number every output frame, find its file
    and its index inside the file (`np.repeat`), then for each of the 7 positions gather
    `values[scale][start of the file's scale codes + frame index * codes per frame + index in frame]`.
    """
    frames = np.asarray(frames, dtype=np.int64)
    total = int(frames.sum())
    file_of_frame = np.repeat(np.arange(frames.size, dtype=np.int64), frames)
    first_frame = np.cumsum(frames) - frames
    frame_in_file = np.arange(total, dtype=np.int64) - first_frame[file_of_frame]
    codes = np.empty((total, FRAME_CODES), dtype=np.int32)
    starts = [
        np.asarray(offsets[k], dtype=np.int64)[: frames.size][file_of_frame] + frame_in_file * per_frame
        for k, per_frame in enumerate(CODES_PER_FRAME)
    ]
    for p, (scale, index) in enumerate(zip(POSITION_SCALE, POSITION_INDEX, strict=True)):
        codes[:, p] = values[scale][starts[scale] + index]
    return codes


def position_codes(batch: CodeBatch, layout: CodecLayout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(position, code, codes per file): every code of a validated batch in frame order, file after
    file, with its frame position (`frame_positions`).

    Nothing is dropped: a partial last frame (real audio's lengths: 48/97/193 codes for 4.1 s at
    24 kHz) holds the codes whose start time is inside the audio, which are the first positions of
    a full frame, so they keep their positions. Algorithm: every code gets its slot in a grid of
    full frames (frame = its index // its scale's codes per frame, slot = the position of
    (scale, index % codes per frame)); one scatter, the empty slots of partial frames dropped."""
    scales, indices = frame_positions(layout)
    size = len(scales)
    per_frame = np.asarray(layout.codes_per_frame, dtype=np.int64)
    slot_of = np.zeros((layout.n_scales, int(per_frame.max())), dtype=np.int64)
    slot_of[scales, indices] = np.arange(size)
    frames = batch.lengths[:, 0]
    first_frame = np.cumsum(frames) - frames
    slot = slot_of[batch.scale, batch.index % per_frame[batch.scale]]
    cell = (first_frame[batch.file] + batch.index // per_frame[batch.scale]) * size + slot
    grid = np.full(int(frames.sum()) * size, -1, dtype=np.int64)
    grid[cell] = np.arange(cell.size)
    order = grid[grid >= 0]  # which code fills each occupied slot, in frame order
    return slot[order], np.asarray(batch.codes, dtype=np.int64)[order], batch.lengths.sum(axis=1)


def codes_of_positions(positions: np.ndarray, codes: np.ndarray, layout: CodecLayout) -> list[np.ndarray]:
    """One file's codes per scale (int64) from its (position, code) pairs in frame order: the
    inverse of `position_codes`. Frame order keeps each scale's codes in time order, so a stable
    sort by the positions' scales is the whole inverse."""
    scale_of = np.asarray(frame_positions(layout)[0], dtype=np.int64)[np.asarray(positions, dtype=np.int64)]
    order = np.argsort(scale_of, kind="stable")
    bounds = np.cumsum(np.bincount(scale_of, minlength=layout.n_scales))[:-1]
    return np.split(np.asarray(codes, dtype=np.int64)[order], bounds)
