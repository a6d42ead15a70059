"""Repetition: runs of one code repeated back to back within one file and scale.

A *run* is a maximal stretch of equal consecutive codes of one scale inside one file (a file
boundary always ends a run). Every code belongs to exactly one run, so with h[L] the number of
runs of length L:

    tokens = sum L * h[L]        runs = sum h[L]        repeats = tokens - runs

*repetition rate* = repeats / tokens: the fraction of codes equal to the previous code of the same
scale in the same file. *mean run length* = tokens / runs (all runs, length 1 included);
*mean repeat run length* averages the runs of length >= 2 only. The histogram h merges by
addition, so partials combine exactly. The longest runs are kept with their code, file id and
start position, ordered by (length descending, id, start) so that any split of the data keeps the
same ones.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

from snac_hf.analysis.arrow_codes import ScaleCodes

_FIELDS = ("length", "code", "start")


class RunCounts:
    def __init__(self, keep: int = 10):
        self.keep = keep
        self.histogram = np.zeros(1, np.int64)  # histogram[L]: runs of length L
        self.longest = {name: np.zeros(0, np.int64) for name in _FIELDS}
        self.longest_ids = np.zeros(0, str)

    def count(self, scale: ScaleCodes, ids: pa.Array | None) -> None:
        if scale.codes.size == 0:
            return
        codes, offsets, longest_row = scale.codes, scale.offsets, int(scale.lengths.max())
        if self.longest["length"].size == self.keep:
            # only runs at least as long as the shortest listed can enter the list: one pass
            floor = max(2, int(self.longest["length"][-1]))
            histogram, rows, starts, lengths = _runs(codes, offsets, longest_row, floor)
        else:  # the histogram says how long the `keep` longest runs are; runs of 1 are not listed
            histogram = _runs(codes, offsets, longest_row, longest_row + 1)[0]
            runs_at_least = np.cumsum(histogram[::-1])[::-1]  # runs_at_least[L]: runs of length >= L
            floor = max(2, int(np.flatnonzero(runs_at_least >= self.keep).max(initial=0)))
            _, rows, starts, lengths = _runs(codes, offsets, longest_row, floor)
        self._add_histogram(histogram)
        row_ids = np.array(
            pc.take(ids, pa.array(rows)).to_pylist() if ids is not None else [""] * rows.size, str
        )
        found = {"length": lengths, "code": scale.codes[starts], "start": starts - scale.offsets[rows]}
        self._merge_longest(found, row_ids)

    def _add_histogram(self, histogram: np.ndarray) -> None:
        if histogram.size > self.histogram.size:
            histogram, self.histogram = self.histogram, histogram.astype(np.int64)
        self.histogram[: histogram.size] += histogram

    def _merge_longest(self, found: dict[str, np.ndarray], found_ids: np.ndarray) -> None:
        merged = {name: np.concatenate([self.longest[name], found[name]]) for name in _FIELDS}
        ids = np.concatenate([self.longest_ids, found_ids.astype(str)])
        order = np.lexsort((merged["start"], ids, -merged["length"]))[: self.keep]
        self.longest = {name: merged[name][order] for name in _FIELDS}
        self.longest_ids = ids[order]

    def merge(self, other: RunCounts) -> None:
        self._add_histogram(other.histogram)
        self._merge_longest(other.longest, other.longest_ids)

    def summary(self) -> dict:
        lengths = np.arange(self.histogram.size)
        tokens = int((lengths * self.histogram).sum())
        runs = int(self.histogram.sum())
        repeat_runs = int(self.histogram[2:].sum())
        observed = np.flatnonzero(self.histogram)
        return {
            "repetition_rate": (tokens - runs) / tokens if tokens else None,
            "repeats": tokens - runs,
            "runs": runs,
            "mean_run_length": tokens / runs if runs else None,
            "mean_repeat_run_length": (
                float((lengths[2:] * self.histogram[2:]).sum() / repeat_runs) if repeat_runs else None
            ),
            "max_run_length": int(observed[-1]) if observed.size else 0,
            "run_length_histogram": [[int(n), int(self.histogram[n])] for n in observed],
            "longest_runs": [
                {"length": int(length), "code": int(code), "id": str(file_id), "start": int(start)}
                for length, code, start, file_id in zip(
                    *(self.longest[name] for name in _FIELDS), self.longest_ids, strict=True
                )
            ],
        }

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        arrays = {f"{prefix}/histogram": self.histogram, f"{prefix}/longest_ids": self.longest_ids}
        arrays.update({f"{prefix}/longest_{name}": self.longest[name] for name in _FIELDS})
        arrays[f"{prefix}/keep"] = np.array(self.keep, np.int64)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> RunCounts:
        runs = cls(int(arrays[f"{prefix}/keep"]))
        runs.histogram = np.asarray(arrays[f"{prefix}/histogram"], np.int64)
        runs.longest = {name: np.asarray(arrays[f"{prefix}/longest_{name}"], np.int64) for name in _FIELDS}
        runs.longest_ids = np.asarray(arrays[f"{prefix}/longest_ids"], str)
        return runs


@njit(cache=True, nogil=True)
def _runs(codes, offsets, longest_row, floor):
    """histogram[L] = runs of length L in the rows codes[offsets[r]:offsets[r + 1]], and
    (rows, starts, lengths) of every run of at least `floor` codes, in order."""
    histogram = np.zeros(longest_row + 1, np.int64)
    rows, starts, lengths = [0][:0], [0][:0], [0][:0]  # typed empty lists of int
    for row in range(offsets.size - 1):
        start, end = offsets[row], offsets[row + 1]
        for i in range(start + 1, end + 1):
            if i == end or codes[i] != codes[i - 1]:
                histogram[i - start] += 1
                if i - start >= floor:
                    rows.append(row)
                    starts.append(start)
                    lengths.append(i - start)
                start = i
    return histogram, np.array(rows, np.int64), np.array(starts, np.int64), np.array(lengths, np.int64)
