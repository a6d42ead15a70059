"""Checks on codes before they become symbols (scales, code range, scale lengths), and the flat
batch layout in which the variants serialize many files with a handful of numpy calls.

A file of `n_samples` samples has `layout.n_codes(n_samples)` codes per scale:
`ceil(n_samples / samples_per_code(k))`. Because every stride is a multiple of the finest one,
those lengths depend only on the finest scale's length m: scale k has `ceil(m / r_k)` codes, with
`r_k = vq_strides[k] / vq_strides[-1]` (at 24 kHz, m = 47 gives 12/24/47: the last coarse frame
is partial). So the length tuples that some audio can produce are exactly
`layout.n_codes(m * samples_per_code(finest))` for m >= 0, and any other tuple is refused
here rather than silently padded or cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from snac_hf.layout.scales import CodecLayout

#: One file's codes: a 1-D integer array (or list) per scale, coarsest first.
CodesPerScale = Sequence[Sequence[int] | np.ndarray]


def check_layout(layout: CodecLayout) -> None:
    """BPE needs scales ordered coarse to fine with strides that divide each other."""
    strides = layout.vq_strides
    pairs = list(zip(strides, strides[1:], strict=False))
    if any(a % b or a <= b for a, b in pairs):
        raise ValueError(f"vq_strides {strides}: expected strictly decreasing strides that divide each other")


def expected_lengths(layout: CodecLayout, finest_length: int) -> tuple[int, ...]:
    """Codes per scale of the audio whose finest scale has `finest_length` codes."""
    return layout.n_codes(finest_length * layout.samples_per_code(layout.n_scales - 1))


def check_lengths(layout: CodecLayout, lengths: Sequence[int], what: str = "codes") -> None:
    """Refuse scale lengths that no audio length produces."""
    check_length_rows(layout, np.asarray([lengths], dtype=np.int64), [what])


def check_length_rows(layout: CodecLayout, lengths: np.ndarray, names: Sequence[str]) -> None:
    """`check_lengths` for a (files x scales) array, vectorized; the error names the first bad file."""
    ratios = np.array([s // layout.vq_strides[-1] for s in layout.vq_strides], dtype=np.int64)
    expected = -(-lengths[:, -1:] // ratios)  # ceil(m / r_k), equal to expected_lengths(layout, m)
    bad = np.flatnonzero((lengths != expected).any(axis=1))
    if bad.size:
        row = tuple(int(n) for n in lengths[bad[0]])
        raise ValueError(
            f"{names[bad[0]]}: misaligned scale lengths {row}: no audio gives these; with {row[-1]} codes "
            f"at the finest scale the layout (strides {layout.vq_strides}) expects "
            f"{expected_lengths(layout, row[-1])}"
        )


@dataclass(frozen=True)
class CodeBatch:
    """Validated codes of several files, flat: file by file, and inside a file scale by scale."""

    codes: np.ndarray  # int64, every code of every file
    lengths: np.ndarray  # int64 (files x scales)

    @property
    def n_files(self) -> int:
        return self.lengths.shape[0]

    @property
    def n_scales(self) -> int:
        return self.lengths.shape[1]

    @cached_property
    def segment(self) -> np.ndarray:
        """Per code: file * n_scales + scale."""
        return np.repeat(np.arange(self.lengths.size, dtype=np.int64), self.lengths.ravel())

    @property
    def file(self) -> np.ndarray:
        return self.segment // self.n_scales

    @property
    def scale(self) -> np.ndarray:
        return self.segment % self.n_scales

    @cached_property
    def index(self) -> np.ndarray:
        """Per code: its position inside its scale of its file."""
        sizes = self.lengths.ravel()
        return np.arange(self.codes.size, dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes)

    @cached_property
    def segment_start(self) -> np.ndarray:
        """Per code: True where a new (file, scale) stream begins."""
        starts = np.zeros(self.codes.size, dtype=bool)
        sizes = self.lengths.ravel()
        starts[(np.cumsum(sizes) - sizes)[sizes > 0]] = True
        return starts


def validate_batch(
    files: Sequence[CodesPerScale], layout: CodecLayout, names: Sequence[str] | None = None
) -> CodeBatch:
    """Check every file (scales, integer codes in range, aligned lengths); a clear error names it."""
    n_scales = layout.n_scales
    names = list(names) if names is not None else [f"file {i}" for i in range(len(files))]
    arrays: list[np.ndarray] = []
    lengths = np.zeros((len(files), n_scales), dtype=np.int64)
    for i, codes in enumerate(files):
        if isinstance(codes, np.ndarray) and codes.dtype != object:
            raise ValueError(
                f"{names[i]}: expected a list of {n_scales} 1-D arrays (one per scale, lengths differ), "
                f"got one array of shape {codes.shape}"
            )
        if len(codes) != n_scales:
            raise ValueError(
                f"{names[i]}: expected {n_scales} scales (strides {layout.vq_strides}), got {len(codes)}"
            )
        for scale, scale_codes in enumerate(codes):
            array = np.asarray(scale_codes)
            if array.ndim != 1:
                raise ValueError(f"{names[i]}: scale {scale} must be 1-D, got shape {array.shape}")
            if array.size and (not np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_):
                raise ValueError(f"{names[i]}: scale {scale} must hold integers, got dtype {array.dtype}")
            arrays.append(array)
            lengths[i, scale] = array.size
    flat = np.concatenate(arrays).astype(np.int64, copy=False) if arrays else np.zeros(0, np.int64)
    if flat.size and (flat.min() < 0 or flat.max() >= layout.codebook_size):
        position = int(np.flatnonzero((flat < 0) | (flat >= layout.codebook_size))[0])
        batch = CodeBatch(flat, lengths)
        raise ValueError(
            f"{names[int(batch.file[position])]}: scale {int(batch.scale[position])} position "
            f"{int(batch.index[position])} holds code {int(flat[position])}, "
            f"outside 0..{layout.codebook_size - 1}"
        )
    check_length_rows(layout, lengths, names)
    return CodeBatch(flat, lengths)


def validate_codes(
    codes_per_scale: CodesPerScale, layout: CodecLayout, what: str = "codes"
) -> list[np.ndarray]:
    """One file's codes as an int64 array per scale, or a ValueError that says what is wrong."""
    batch = validate_batch([codes_per_scale], layout, [what])
    return np.split(batch.codes, np.cumsum(batch.lengths[0])[:-1])
