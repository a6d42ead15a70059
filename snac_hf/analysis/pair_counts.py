"""Exact counts of ordered code pairs (a, b): bigrams within a scale, (parent, child) across scales.

A pair is the key a * V + b (V = codebook size), counted in a dense V x V table: 64 MiB of uint32
for V = 4096, whatever the dataset size. Before an addition could overflow uint32 (more than
2^32 - 1 pairs since the last spill), the table is added into an int64 table allocated then, so
counts stay exact at any size. Pages of the table that no pair touches are never allocated
(`np.zeros` maps them lazily), so small token sets cost little.

Partials travel and merge in sparse form (the keys that occur and their counts, as uint32 when they
fit); one read back with `from_arrays` stays sparse until it is counted into or read, so a process
merging its workers' partials holds one dense table per pair kind, not one per worker. The figures
(`distinct`, `total`, `top`, `entropy_bits`, `marginals`) are read from the table in slices, so
reading them costs no memory in proportion to the pairs that occur.
"""

from __future__ import annotations

import numpy as np

from snac_hf.analysis.frequency import top_entries

_SLICE = 1 << 20  # table entries read at a time


class PairCounts:
    #: Pairs that may be added between spills; a class attribute so tests can exercise the spill.
    spill_limit = int(np.iinfo(np.uint32).max)

    def __init__(self, codebook_size: int):
        self.codebook_size = codebook_size
        self.table = np.zeros(codebook_size * codebook_size, np.uint32)
        self.wide: np.ndarray | None = None  # int64 table, allocated at the first spill
        self._since_spill = 0
        self._imported: tuple[np.ndarray, np.ndarray] | None = None  # sparse, not yet in the table

    def _settle(self) -> None:
        """Count imported sparse pairs into the table."""
        if self._imported is not None:
            keys, counts = self._imported
            self._imported = None
            self.add_counts(keys, counts)

    def add_pairs(self, firsts: np.ndarray, seconds: np.ndarray) -> None:
        """Count each (firsts[i], seconds[i]) once."""
        self._settle()
        keys = firsts.astype(np.intp) * self.codebook_size + seconds
        if keys.size > self.spill_limit:
            np.add.at(self._wide(), keys, 1)
            return
        self._reserve(keys.size)
        np.add.at(self.table, keys, np.uint32(1))

    def add_counts(self, keys: np.ndarray, counts: np.ndarray) -> None:
        """Add `counts` to distinct pair `keys` (a * V + b)."""
        self._settle()
        total = int(counts.sum())
        if total > self.spill_limit:
            self._wide()[keys] += counts
            return
        self._reserve(total)
        self.table[keys] += counts.astype(np.uint32)

    def merge(self, other: PairCounts) -> None:
        if other.codebook_size != self.codebook_size:
            raise ValueError(
                f"cannot merge pair counts of codebooks {self.codebook_size} and {other.codebook_size}"
            )
        self.add_counts(*other.sparse())

    def sparse(self) -> tuple[np.ndarray, np.ndarray]:
        """The keys (a * V + b, ascending, uint32) that occur and their counts (uint32 if they fit)."""
        if self._imported is not None and self._since_spill == 0 and self.wide is None:
            return self._imported  # nothing was counted into the table: the import is the answer
        self._settle()
        keys = np.flatnonzero(self.table)
        counts = self.table[keys]
        if self.wide is not None:
            keys = np.union1d(keys, np.flatnonzero(self.wide))
            counts = self.table[keys] + self.wide[keys]
        return keys.astype(np.uint32 if self.table.size <= 1 << 32 else np.int64), _narrow(counts)

    def _slices(self):
        """(first key, counts) of consecutive slices of the table (views while nothing spilled)."""
        self._settle()
        for start in range(0, self.table.size, _SLICE):
            counts = self.table[start : start + _SLICE]
            if self.wide is not None:
                counts = counts + self.wide[start : start + _SLICE]
            yield start, counts

    def distinct(self) -> int:
        """Pairs that occur."""
        self._settle()
        if self.wide is None:
            return int(np.count_nonzero(self.table))
        return sum(int(np.count_nonzero(counts)) for _, counts in self._slices())

    def total(self) -> int:
        self._settle()
        return int(self.table.sum(dtype=np.int64)) + (int(self.wide.sum()) if self.wide is not None else 0)

    def top(self, m: int) -> tuple[np.ndarray, np.ndarray]:
        """The m most frequent pair keys and their counts, by count descending then key."""
        keys, counts = [], []
        for start, slice_counts in self._slices():
            occurring = np.flatnonzero(slice_counts)
            best = occurring[top_entries(slice_counts[occurring], m)]
            keys.append(best + start)
            counts.append(slice_counts[best].astype(np.int64))
        keys, counts = np.concatenate(keys), np.concatenate(counts)
        order = np.lexsort((keys, -counts))[:m]
        return keys[order], counts[order]

    def entropy_bits(self) -> float | None:
        """Shannon entropy (bits) of the pair distribution: log2 T - sum(c log2 c) / T."""
        total, weighted = 0, 0.0
        for _, counts in self._slices():
            counts = counts[counts > 0].astype(np.float64)
            total += counts.sum()
            weighted += float((counts * np.log2(counts)).sum())
        return float(np.log2(total) - weighted / total) + 0.0 if total else None

    def marginals(self) -> tuple[np.ndarray, np.ndarray]:
        """Counts of each first code and of each second code, over all pairs."""
        self._settle()
        size = self.codebook_size
        table = self.table.reshape(size, size)
        firsts, seconds = table.sum(axis=1, dtype=np.int64), table.sum(axis=0, dtype=np.int64)
        if self.wide is not None:
            wide = self.wide.reshape(size, size)
            firsts, seconds = firsts + wide.sum(axis=1), seconds + wide.sum(axis=0)
        return firsts, seconds

    def _reserve(self, n: int) -> None:
        if self._since_spill + n > self.spill_limit:
            self._wide()[:] += self.table
            self.table[:] = 0
            self._since_spill = 0
        self._since_spill += n

    def _wide(self) -> np.ndarray:
        if self.wide is None:
            self.wide = np.zeros(self.table.size, np.int64)
        return self.wide

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        keys, counts = self.sparse()
        return {
            f"{prefix}/keys": keys,
            f"{prefix}/counts": counts,
            f"{prefix}/codebook_size": np.array(self.codebook_size, np.int64),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> PairCounts:
        pairs = cls(int(arrays[f"{prefix}/codebook_size"]))
        pairs._imported = (np.asarray(arrays[f"{prefix}/keys"]), np.asarray(arrays[f"{prefix}/counts"]))
        return pairs


def _narrow(counts: np.ndarray) -> np.ndarray:
    """uint32 counts when every count fits, else int64."""
    if counts.size == 0 or counts.max() <= np.iinfo(np.uint32).max:
        return counts.astype(np.uint32)
    return counts.astype(np.int64)
