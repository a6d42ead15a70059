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
merging many saved partials holds one dense table per pair kind, not one per partial. The figures
(`figures`) are read from the tables in one pass of slices, so reading them costs no memory in
proportion to the pairs that occur.

Counting is a compiled loop of increments (`_count_bigrams`, `_count_aligned`)
that prefetches the place of the increment a few pairs ahead (`prefetch.py`); `np.add.at` took
1.5-3x as long as the plain loop for the same increments, besides the temporaries for the keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from snac_hf.analysis.arrow_codes import ScaleCodes
from snac_hf.analysis.prefetch import prefetch

_SLICE = 1 << 20  # table entries read at a time


@dataclass
class PairFigures:
    """What the reports read from a pair table."""

    firsts: np.ndarray  # occurrences of each code as the first of a pair
    seconds: np.ndarray  # ... as the second
    distinct: int = 0  # pairs that occur
    total: int = 0
    top_keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # by count, then key
    top_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    entropy_bits: float | None = None


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
        self, firsts: ScaleCodes, seconds: ScaleCodes, groups: np.ndarray, per_group: tuple
    ) -> None:
        """Count, in each row r and each of its first groups[r] groups, the pairs of the group's
        codes of `seconds` with the codes of `firsts` covering the same span: groups are
        per_group = (a, b) codes long in `firsts` and `seconds`, and code j of a group of `seconds`
        pairs with code j * a // b of that group of `firsts` (e.g. frames: each child code with
        its parent)."""
        pairs = int(groups.sum()) * per_group[1]
        if not self._room_for(pairs):
            raise ValueError(f"{pairs} pairs in one batch exceed the {self.spill_limit} a table can hold")
        slots = np.arange(per_group[1]) * per_group[0] // per_group[1]
        _count_aligned(
            self.low,
            self.high,
            firsts.codes,
            firsts.offsets,
            seconds.codes,
            seconds.offsets,
            groups,
            per_group[0],
            slots,
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

    def figures(self, m: int = 20) -> PairFigures:
        """Every figure of the table, read in one compiled pass over it."""
        self._settle()
        wide = self.wide if self.wide is not None else np.zeros(0, np.int64)
        firsts, seconds = np.zeros(self.codebook_size, np.int64), np.zeros(self.codebook_size, np.int64)
        top_keys, top_counts = np.full(m, -1, np.int64), np.zeros(m, np.int64)
        distinct, total, weighted = _table_figures(
            self.low, self.high, wide, self.codebook_size, firsts, seconds, top_keys, top_counts
        )
        kept = top_keys >= 0
        top_keys, top_counts = top_keys[kept], top_counts[kept]
        order = np.lexsort((top_keys, -top_counts))
        figures = PairFigures(firsts, seconds, distinct, total, top_keys[order], top_counts[order])
        if total:  # Shannon entropy of the pairs: log2 T - sum(c log2 c) / T
            figures.entropy_bits = float(np.log2(total) - weighted / total) + 0.0
        return figures

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


_AHEAD = 16  # pairs between announcing an increment (`prefetch`) and making it


@njit(cache=True, nogil=True)
def _count_bigrams(low, high, codes, offsets, size):
    for row in range(offsets.size - 1):
        end = offsets[row + 1] - 1
        for i in range(offsets[row], end):
            if i + _AHEAD < end:
                prefetch(low, codes[i + _AHEAD] * size + codes[i + _AHEAD + 1])
            _increment(low, high, codes[i] * size + codes[i + 1])


@njit(cache=True, nogil=True)
def _count_aligned(
    low, high, firsts, first_offsets, seconds, second_offsets, groups, first_size, slots, size
):
    ahead = max(1, _AHEAD // slots.size)  # groups
    for row in range(groups.size):
        first, second = first_offsets[row], second_offsets[row]
        for group in range(groups[row]):
            later = group + ahead < groups[row]
            for j in range(slots.size):
                if later:
                    key = (
                        firsts[first + ahead * first_size + slots[j]] * size
                        + seconds[second + ahead * slots.size + j]
                    )
                    prefetch(low, key)
                _increment(low, high, firsts[first + slots[j]] * size + seconds[second + j])
            first += first_size
            second += slots.size


@njit(cache=True, nogil=True)
def _table_figures(low, high, wide, size, firsts, seconds, top_keys, top_counts):
    """One pass over the table: returns (distinct, total, sum of c log2 c) and fills the marginals
    and the m = top_keys.size most frequent pairs (count descending, then key ascending; unsorted,
    key -1 where fewer occur)."""
    distinct, total, weighted = 0, 0, 0.0
    m = top_keys.size
    lowest = 0  # slot of the weakest kept entry
    for key in range(low.size):
        count = np.int64(high[key]) * 256 + low[key]
        if wide.size:
            count += wide[key]
        if count == 0:
            continue
        distinct += 1
        total += count
        weighted += count * np.log2(count)
        firsts[key // size] += count
        seconds[key % size] += count
        # keys arrive ascending, so an entry only displaces the weakest with a strictly larger count
        if m and (top_keys[lowest] < 0 or count > top_counts[lowest]):
            top_keys[lowest], top_counts[lowest] = key, count
            for slot in range(m):  # the new weakest: smallest count, then largest key
                if top_keys[slot] < 0:
                    lowest = slot
                    break
                if top_counts[slot] < top_counts[lowest] or (
                    top_counts[slot] == top_counts[lowest] and top_keys[slot] > top_keys[lowest]
                ):
                    lowest = slot
    return distinct, total, weighted
