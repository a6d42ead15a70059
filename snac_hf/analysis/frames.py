"""Cross-scale statistics: frame tuples and how much a coarse code tells about its children.

A *frame* is one code of scale 0 with the codes of every finer scale that cover the same time:
`layout.codes_per_frame` = (1, 2, 4) codes of scales 0, 1, 2 at 24 kHz (7 per frame), (1, 2, 4, 8)
with four scales. A file contributes F = min_k floor(L_k / codes_per_frame[k]) complete frames
(L_k = its codes of scale k); the codes after them, a partial last frame (snac_hf keeps codes
that start inside the audio, so scales can end at different points of it), are left out of every
statistic here and counted in `tail_codes_excluded`.

* *distinct frames*: distinct tuples of all the frame's codes, in scale order (exact up to the
  sketch budget, then estimated; see `distinct.py`), and the top-10 frame coverage.
* *conditional entropy* H(child | parent), for each scale k >= 1: child = a code of scale k, parent
  = the code of scale k-1 covering the same time (slot s of scale k has parent slot
  s * codes_per_frame[k-1] // codes_per_frame[k]). From the exact joint counts n(p, c):
  H(C | P) = H(P, C) - H(P) in bits. With H(C), the child's entropy over the same pairs, the
  mutual information I = H(C) - H(C | P) says how many bits of a child its parent predicts.
  These are plug-in estimates: with few pairs per distinct parent (`pairs_per_parent`) H(C | P)
  comes out too low and I too high, so compare sets of similar size.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from snac_hf.analysis.arrow_codes import ScaleCodes
from snac_hf.analysis.distinct import DistinctSketch
from snac_hf.analysis.frequency import entropy_bits
from snac_hf.analysis.hashing import tuple_hashes
from snac_hf.analysis.heavy_hitters import HeavyHitters, batch_heavy_keys, beyond_budget, heavy_threshold
from snac_hf.analysis.ngrams import TOP
from snac_hf.analysis.pair_counts import PairCounts


class FrameCounts:
    def __init__(
        self, codes_per_frame: tuple[int, ...], codebook_size: int, distinct_budget: int, heavy_budget: int
    ):
        self.codes_per_frame = tuple(codes_per_frame)
        self.codebook_size = codebook_size
        self.frames = 0
        self.tail_codes = np.zeros(len(codes_per_frame), np.int64)
        self.distinct = DistinctSketch(distinct_budget)
        self.heavy = HeavyHitters(heavy_budget)
        self.parent_child = [PairCounts(codebook_size) for _ in codes_per_frame[1:]]
        self._frames = np.zeros((0, sum(codes_per_frame)), np.int64)

    def count(self, scales: list[ScaleCodes]) -> None:
        frames_per_row = np.min(
            [s.lengths // c for s, c in zip(scales, self.codes_per_frame, strict=True)], axis=0
        )
        total = int(frames_per_row.sum())
        self.frames += total
        self.tail_codes += [
            int(s.lengths.sum()) - total * c for s, c in zip(scales, self.codes_per_frame, strict=True)
        ]
        if total == 0:
            return
        frames = self._frame_codes(scales, frames_per_row)
        hashes = tuple_hashes(frames, self.codebook_size)
        self.distinct.add(hashes[self.distinct.admissible(hashes)])
        threshold = heavy_threshold(total) if beyond_budget(self.distinct, self.heavy) else 0
        keys, counts, _, dropped = batch_heavy_keys(hashes, threshold)
        self.heavy.add(keys, counts, dropped)
        for k, pairs in enumerate(self.parent_child, start=1):
            pairs.add_aligned(scales[k - 1], scales[k], frames_per_row, self.codes_per_frame[k - 1 : k + 1])

    def _frame_codes(self, scales: list[ScaleCodes], frames_per_row: np.ndarray) -> np.ndarray:
        """A (frames, codes per frame) array: each complete frame's codes, scale by scale."""
        frames = self._buffer(int(frames_per_row.sum()))
        column = 0
        for scale, per_frame in zip(scales, self.codes_per_frame, strict=True):
            _gather_frames(scale.codes, scale.offsets, frames_per_row, per_frame, frames, column)
            column += per_frame
        return frames

    def _buffer(self, frames: int) -> np.ndarray:
        """A (frames, codes per frame) work array, kept from batch to batch: a fresh one costs more to
        map into memory (page faults) than filling it."""
        if self._frames.shape[0] < frames:
            self._frames = np.empty((frames, sum(self.codes_per_frame)), np.int64)
        return self._frames[:frames]

    def merge(self, other: FrameCounts) -> None:
        if other.codes_per_frame != self.codes_per_frame:
            raise ValueError(
                f"cannot merge frames of {self.codes_per_frame} and {other.codes_per_frame} codes"
            )
        self.frames += other.frames
        self.tail_codes += other.tail_codes
        self.distinct.merge(other.distinct)
        self.heavy.merge(other.heavy)
        for mine, theirs in zip(self.parent_child, other.parent_child, strict=True):
            mine.merge(theirs)

    def summary(self) -> dict:
        distinct = min(self.distinct.estimate(), self.frames)  # an estimate can overshoot
        rse = self.distinct.relative_standard_error()
        top = int(self.heavy.top_counts(TOP).sum())
        coverage = top / self.frames if self.frames else None
        return {
            "frames": self.frames,
            "codes_per_frame": list(self.codes_per_frame),
            "tail_codes_excluded": [int(n) for n in self.tail_codes],
            "distinct_frames": round(distinct) if rse else int(distinct),
            "distinct_exact": rse == 0.0,
            "distinct_relative_standard_error": rse,
            "frame_diversity": distinct / self.frames if self.frames else None,
            "top10_frame_coverage": coverage,
            "top10_coverage_max_error": min(TOP * self.heavy.error / self.frames, 1 - coverage)
            if self.frames
            else 0.0,
            "conditional_entropy": [
                self._conditional_entropy(k) for k in range(1, len(self.codes_per_frame))
            ],
        }

    def _conditional_entropy(self, k: int) -> dict:
        pairs = self.parent_child[k - 1]
        figures = pairs.figures(m=0)
        parents, children = figures.firsts, figures.seconds
        joint, child = figures.entropy_bits, entropy_bits(children)
        given_parent = None if joint is None else max(joint - entropy_bits(parents), 0.0)
        total, distinct_parents = int(children.sum()), int(np.count_nonzero(parents))
        return {
            "parent_scale": k - 1,
            "child_scale": k,
            "pairs": total,
            "pairs_per_parent": total / distinct_parents if distinct_parents else None,
            "child_entropy_bits": child,
            "conditional_entropy_bits": given_parent,
            "mutual_information_bits": None if child is None else max(child - given_parent, 0.0),
        }

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        arrays = {
            f"{prefix}/codes_per_frame": np.array(self.codes_per_frame, np.int64),
            f"{prefix}/state": np.array([self.codebook_size, self.frames], np.int64),
            f"{prefix}/tail_codes": self.tail_codes,
        }
        arrays.update(self.distinct.to_arrays(f"{prefix}/distinct"))
        arrays.update(self.heavy.to_arrays(f"{prefix}/heavy"))
        for k, pairs in enumerate(self.parent_child, start=1):
            arrays.update(pairs.to_arrays(f"{prefix}/parent_child{k}"))
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> FrameCounts:
        codes_per_frame = tuple(int(c) for c in arrays[f"{prefix}/codes_per_frame"])
        codebook_size, frames = (int(v) for v in arrays[f"{prefix}/state"])
        counts = cls(codes_per_frame, codebook_size, distinct_budget=3, heavy_budget=10)
        counts.frames = frames
        counts.tail_codes = np.asarray(arrays[f"{prefix}/tail_codes"], np.int64)
        counts.distinct = DistinctSketch.from_arrays(arrays, f"{prefix}/distinct")
        counts.heavy = HeavyHitters.from_arrays(arrays, f"{prefix}/heavy")
        counts.parent_child = [
            PairCounts.from_arrays(arrays, f"{prefix}/parent_child{k}")
            for k in range(1, len(codes_per_frame))
        ]
        return counts


@njit(cache=True, nogil=True)
def _gather_frames(codes, offsets, frames_per_row, per_frame, frames, column):
    """frames[f, column:column + per_frame] = the codes of one scale in frame f, frames row by row."""
    f = 0
    for row in range(frames_per_row.size):
        for frame in range(frames_per_row[row]):
            first = offsets[row] + frame * per_frame
            for slot in range(per_frame):
                frames[f, column + slot] = codes[first + slot]
            f += 1
