"""Windowed scale order: a lossless serialization of a file's codes that streams.

Definition. The file's time axis is cut into windows of `window_frames` (W) frames (a frame is one
coarse code and the finer codes under it, `layout.codes_per_frame`: 1 + 2 + 4 at 24 kHz). For
each window in time order, write every code of the window's coarsest scale in time order, then
every code of the next scale, ..., then the finest: code i of scale k belongs to window
`i // (W * codes_per_frame[k])`. A partial last window (or frame) keeps the codes that exist;
nothing is padded. So

- W = 1 is frame by frame with the scales in turn (`hierarchical`'s order, `scale_major_columns`);
- W >= the file's frames is scale by scale (`plain`'s order: every coarse code, then every middle one,
  then every fine one);
- in between, a generator can emit window after window: it needs W frames of audio ahead, a
  streaming latency of `window_seconds(layout, W)` (W x `samples_per_code(0)` samples: 85.3 ms per
  frame at 24 kHz, so W = 3 / 12 / 47 is 0.26 / 1.02 / 4.01 s).

Inverse. Within each scale the codes stay in time order, so putting every code back into its scale
in order of appearance restores the file (`from_windowed`; the BPE variants' `split_files` does
the same, since every symbol names its scale). Numpy only.
"""

from __future__ import annotations

import numpy as np

from snac_hf.layout.codes import CodeBatch, CodesPerScale, validate_batch
from snac_hf.layout.scales import CodecLayout


def check_window(window_frames: int) -> int:
    """`window_frames` as an int, or a ValueError when it is not a whole number of frames >= 1."""
    if isinstance(window_frames, bool) or int(window_frames) != window_frames or window_frames < 1:
        raise ValueError(f"window_frames must be a whole number of frames >= 1, got {window_frames!r}")
    return int(window_frames)


def window_seconds(layout: CodecLayout, window_frames: int) -> float:
    """The audio a window of `window_frames` frames spans: the streaming latency of that order."""
    return check_window(window_frames) * layout.samples_per_code(0) / layout.sampling_rate


def frames_for_seconds(layout: CodecLayout, seconds: float) -> int:
    """The whole number of frames (at least 1) closest to `seconds` of audio."""
    return max(1, round(seconds * layout.sampling_rate / layout.samples_per_code(0)))


def windowed_order(batch: CodeBatch, layout: CodecLayout, window_frames: int) -> np.ndarray:
    """Indices into `batch.codes` (file by file, scale by scale) that put every file's codes in
    windowed scale order (module docstring); files stay one after another."""
    per_frame = np.asarray(layout.codes_per_frame, dtype=np.int64)
    window = batch.index // (check_window(window_frames) * per_frame[batch.scale])
    return np.lexsort((batch.index, batch.scale, window, batch.file))  # last key is the primary one


def to_windowed(
    codes_per_scale: CodesPerScale, layout: CodecLayout, window_frames: int
) -> tuple[np.ndarray, np.ndarray]:
    """One file's (codes, scale of each code) in windowed scale order (validated first)."""
    batch = validate_batch([codes_per_scale], layout, ["codes"])
    order = windowed_order(batch, layout, window_frames)
    return batch.codes[order], batch.scale[order]


def from_windowed(codes: np.ndarray, scales: np.ndarray, layout: CodecLayout) -> list[np.ndarray]:
    """Codes per scale from any order that keeps each scale in time order (the inverse of `to_windowed`)."""
    codes, scales = np.asarray(codes, np.int64), np.asarray(scales, np.int64)
    return [codes[scales == k] for k in range(layout.n_scales)]
