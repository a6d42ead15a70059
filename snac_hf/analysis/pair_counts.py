"""Exact counts of ordered code pairs (a, b): bigrams within a scale, (parent, child) across scales.

A pair is the key a * V + b (V = codebook size), counted in a dense V x V table whatever the
dataset size, in two tiers: `low` holds each count modulo 256 (uint8, 16 MiB for V = 4096) and
`high` the carries (uint32: count = 256 * high + low). Counting touches `high` only once per 256
occurrences of a pair, so the hot table is a quarter of a uint32 one and stays in cache far more
often; the increments are random accesses, and with a 64 MiB uint32 table they were bound by
memory latency. Before an addition could overflow `high` (more than 2^40 - 2^8 pairs since the last
spill), both tiers are added into an int64 table allocated then, so counts stay exact at any size.
Pages that no pair touches are never allocated (`np.zeros` maps them lazily), so small token sets
cost little.

Partials travel and merge in sparse form (the keys that occur and their counts, as uint32 when they
fit); one read back with `from_arrays` stays sparse until it is counted into or read, so a process
merging its workers' partials holds one dense table per pair kind, not one per worker. The figures
(`distinct`, `total`, `top`, `entropy_bits`, `marginals`) are read from the tables in slices, so
reading them costs no memory in proportion to the pairs that occur.

Counting is a compiled loop of increments (`_count_pairs`, `_count_bigrams`); `np.add.at` took
1.5-3x as long for the same increments into one uint32 table, besides the temporaries for the keys.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from snac_hf.analysis.arrow_codes import ScaleCodes
from snac_hf.analysis.frequency import top_entries

_SLICE = 1 << 20  # table entries read at a time


class PairCounts:
    #: Pairs that may be added between spills (`high` cannot overflow below it); a class attribute
    #: so tests can exercise the spill.
    spill_limit = int(np.iinfo(np.uint32).max) << 8

    def __init__(self, codebook_size: int):
        self.codebook_size = codebook_size
        self.low = np.zeros(codebook_size * codebook_size, np.uint8)  # counts modulo 256
        self.high = np.zeros(codebook_size * codebook_size, np.uint32)  # carries out of `low`
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
        if self._room_for(firsts.size):
            _count_pairs(self.low, self.high, firsts, seconds, self.codebook_size)
        else:
            np.add.at(self._wide(), firsts.astype(np.int64) * self.codebook_size + seconds, 1)

    def add_bigrams(self, codes: np.ndarray, offsets: np.ndarray) -> None:
        """Count each pair of consecutive codes inside a row; row r is codes[offsets[r]:offsets[r+1]]."""
        pairs = int(np.maximum(np.diff(offsets) - 1, 0).sum())
        if self._room_for(pairs):
            _count_bigrams(self.low, self.high, codes, offsets, self.codebook_size)
        else:
            inside = np.ones(codes.size, bool)
            inside[offsets[1:] - 1] = False  # a row's last code starts no pair
            firsts = np.flatnonzero(inside[:-1])
            np.add.at(self._wide(), codes[firsts] * self.codebook_size + codes[firsts + 1], 1)

    def add_aligned(
        self, firsts: ScaleCodes, seconds: ScaleCodes, per_row: np.ndarray, ratio: tuple[int, int]
    ) -> None:
        """Count, in each row r and for i < per_row[r], the pair of the i-th code of `seconds` with
        the code of `firsts` at i * ratio[0] // ratio[1] (e.g. each child code with its parent)."""
        pairs = int(per_row.sum())
        if not self._room_for(pairs):
            raise ValueError(f"{pairs} pairs in one batch exceed the {self.spill_limit} a table can hold")
        _count_aligned(
            self.low,
            self.high,
            firsts.codes,
            firsts.offsets,
            seconds.codes,
            seconds.offsets,
            per_row,
            ratio[0],
            ratio[1],
            self.codebook_size,
        )

    def add_counts(self, keys: np.ndarray, counts: np.ndarray) -> None:
        """Add `counts` to distinct pair `keys` (a * V + b)."""
        if not self._room_for(int(counts.sum())):
            self._wide()[keys] += counts
            return
        total = self.low[keys] + counts.astype(np.int64)
        self.low[keys] = (total & 0xFF).astype(np.uint8)
        self.high[keys] += (total >> 8).astype(np.uint32)

    def _room_for(self, pairs: int) -> bool:
        """Whether `pairs` more fit in the two tiers (spilling them into `wide` first if needed);
        if not even an empty table holds them, they go straight into `wide`."""
        self._settle()
        if pairs > self.spill_limit:
            return False
        if self._since_spill + pairs > self.spill_limit:
            wide = self._wide()
            for start in range(0, wide.size, _SLICE):  # in slices: no table-sized temporary
                part = slice(start, start + _SLICE)
                wide[part] += self.high[part].astype(np.int64) * 256 + self.low[part]
            self.low[:] = 0
            self.high[:] = 0
            self._since_spill = 0
        self._since_spill += pairs
        return True

    def _wide(self) -> np.ndarray:
        if self.wide is None:
            self.wide = np.zeros(self.low.size, np.int64)
        return self.wide

    def merge(self, other: PairCounts) -> None:
        if other.codebook_size != self.codebook_size:
            raise ValueError(
                f"cannot merge pair counts of codebooks {self.codebook_size} and {other.codebook_size}"
            )
        if other._imported is not None:  # sparse: add what occurs
            self.add_counts(*other.sparse())
            return
        self._room_for(other._since_spill)  # both tables are in memory: add them slice by slice
        for start in range(0, self.low.size, _SLICE):
            part = slice(start, start + _SLICE)
            low = self.low[part] + other.low[part].astype(np.uint16)
            self.low[part] = low.astype(np.uint8)  # modulo 256
            self.high[part] += other.high[part] + (low >> 8).astype(np.uint32)
            if other.wide is not None:
                self._wide()[part] += other.wide[part]

    def sparse(self) -> tuple[np.ndarray, np.ndarray]:
        """The keys (a * V + b, ascending, uint32) that occur and their counts (uint32 if they fit)."""
        if self._imported is not None and self._since_spill == 0 and self.wide is None:
            return self._imported  # nothing was counted into the table: the import is the answer
        keys, counts = [], []
        for start, slice_counts in self._slices():
            occurring = np.flatnonzero(slice_counts)
            keys.append(occurring + start)
            counts.append(slice_counts[occurring])
        key_type = np.uint32 if self.low.size <= 1 << 32 else np.int64
        return np.concatenate(keys).astype(key_type), _narrow(np.concatenate(counts))

    def _slices(self):
        """(first key, int64 counts) of consecutive slices of the table."""
        self._settle()
        for start in range(0, self.low.size, _SLICE):
            part = slice(start, start + _SLICE)
            counts = self.high[part].astype(np.int64) * 256 + self.low[part]
            if self.wide is not None:
                counts += self.wide[part]
            yield start, counts

    def distinct(self) -> int:
        """Pairs that occur."""
        return sum(int(np.count_nonzero(counts)) for _, counts in self._slices())

    def total(self) -> int:
        return sum(int(counts.sum()) for _, counts in self._slices())

    def top(self, m: int) -> tuple[np.ndarray, np.ndarray]:
        """The m most frequent pair keys and their counts, by count descending then key."""
        keys, counts = [], []
        for start, slice_counts in self._slices():
            occurring = np.flatnonzero(slice_counts)
            best = occurring[top_entries(slice_counts[occurring], m)]
            keys.append(best + start)
            counts.append(slice_counts[best])
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
        size = self.codebook_size
        firsts, seconds = np.zeros(size, np.int64), np.zeros(size, np.int64)
        for start, counts in self._slices():  # a slice is whole rows: _SLICE is a multiple of V
            rows = counts.reshape(-1, size) if counts.size % size == 0 else None
            if rows is None:  # a codebook whose rows do not divide the slice: entry by entry
                keys = np.arange(start, start + counts.size)
                np.add.at(firsts, keys // size, counts)
                np.add.at(seconds, keys % size, counts)
                continue
            firsts[start // size : start // size + rows.shape[0]] += rows.sum(axis=1)
            seconds += rows.sum(axis=0)
        return firsts, seconds

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


@njit(cache=True, inline="always")
def _increment(low, high, key):
    count = np.uint8(low[key] + np.uint8(1))  # wraps at 256
    low[key] = count
    if count == 0:
        high[key] += np.uint32(1)


@njit(cache=True, nogil=True)
def _count_pairs(low, high, firsts, seconds, size):
    for i in range(firsts.size):
        _increment(low, high, firsts[i] * size + seconds[i])


@njit(cache=True, nogil=True)
def _count_bigrams(low, high, codes, offsets, size):
    for row in range(offsets.size - 1):
        for i in range(offsets[row], offsets[row + 1] - 1):
            _increment(low, high, codes[i] * size + codes[i + 1])


@njit(cache=True, nogil=True)
def _count_aligned(low, high, firsts, first_offsets, seconds, second_offsets, per_row, num, den, size):
    for row in range(per_row.size):
        first, second = first_offsets[row], second_offsets[row]
        for i in range(per_row[row]):
            _increment(low, high, firsts[first + i * num // den] * size + seconds[second + i])
