"""n-gram diversity and top-10 coverage of one scale, n = 1..max_n, never across files.

An n-gram is n consecutive codes of one scale inside one file; a file of L codes has
max(0, L - n + 1) of them. For each n:

* *diversity* = distinct n-grams / total n-grams (1.0: every n-gram occurs once; small: a few
  n-grams repeat a lot);
* *top-10 coverage* = occurrences of the 10 most frequent n-grams / total n-grams.

n = 1 and n = 2 are exact (from the code counts and the pair table). For n >= 3 the distinct
n-grams of a large set do not fit in memory: their count comes from a `DistinctSketch` (exact up
to its budget, then a k-minimum-values estimate with relative standard error 1/sqrt(k-2)), and
the top-10 coverage from `HeavyHitters` (exact while every summary of the scale can hold all its
keys, i.e. up to the heavy-hitter budget of distinct n-grams; after that a lower bound at most
`top10_coverage_max_error` below the truth). The report says which applied.

Per batch, two steps:

1. Distinct counts (`_sketch_ngrams`, compiled): the keys of the n-grams at a block of positions
   grow level by level, n = 2..max_n (`hashing.extend_key`); each n >= 3 hashes its keys, and the
   hashes the sketch may admit are collected. Level-major inside blocks because the keys of one n
   at neighbouring positions are independent, so their hashing pipelines; a loop growing one
   position's n-grams from n to n + 1 waited on each hash and was 5x slower.
2. Heavy hitters: the n = 3 hashes are also counted into 2^16 buckets (`heavy_hitters.py`). Only
   the positions in heavy buckets are candidates, and an n-gram occurring more than T times has a
   prefix occurring more than T times (the a-priori principle), so from one n to the next only
   the candidates' keys grow (`_extend_at`) and are bucketed again; what is left out occurred at
   most the largest `dropped` count of the levels so far.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from snac_hf.analysis.arrow_codes import ScaleCodes
from snac_hf.analysis.distinct import DistinctSketch
from snac_hf.analysis.frequency import top_entries
from snac_hf.analysis.hashing import code_bits, extend_key, mix, mix_key, packable
from snac_hf.analysis.heavy_hitters import (
    BUCKET_SHIFT,
    BUCKETS,
    HeavyHitters,
    batch_heavy_keys,
    beyond_budget,
    heavy_threshold,
)

TOP = 10  # coverage of the TOP most frequent n-grams

SKETCHED_FROM = 3  # n-grams of n >= 3 use sketches; n = 1, 2 are exact


class NgramCounts:
    def __init__(self, max_n: int, codebook_size: int, distinct_budget: int, heavy_budget: int):
        self.max_n = max_n
        self.codebook_size = codebook_size
        self.totals = np.zeros(max_n + 1, np.int64)  # totals[n], n = 1..max_n
        sketched = range(SKETCHED_FROM, max_n + 1)
        self.distinct = {n: DistinctSketch(distinct_budget) for n in sketched}
        self.heavy = {n: HeavyHitters(heavy_budget) for n in sketched}
        self._first_hashes = np.zeros(0, np.uint64)

    def _first_level_buffer(self, size: int) -> np.ndarray:
        """The first level's hashes, kept from batch to batch: a fresh array costs more to map into
        memory (page faults) than the kernel takes to fill it."""
        if self._first_hashes.size < size:
            self._first_hashes = np.empty(size, np.uint64)
        return self._first_hashes

    def count(self, scale: ScaleCodes) -> None:
        """Count the n-grams of one batch of codes."""
        for n in range(1, self.max_n + 1):
            self.totals[n] += np.maximum(scale.lengths - n + 1, 0).sum()
        if scale.codes.size == 0 or self.max_n < SKETCHED_FROM:
            return
        buckets, first_hashes = self._count_distinct(scale)
        self._count_heavy(scale, buckets, first_hashes)

    def _count_distinct(self, scale: ScaleCodes) -> tuple[np.ndarray, np.ndarray]:
        """Step 1; returns the heavy-hitter buckets of the first sketched level and its hashes."""
        levels = range(SKETCHED_FROM, self.max_n + 1)
        limits = np.array([self.distinct[n].admission_limit() for n in levels], np.uint64)
        buckets = np.zeros(BUCKETS, np.int32)
        first_hashes = self._first_level_buffer(scale.codes.size)
        # Fresh, so that only the pages written are mapped: once the sketches are saturated, few.
        admitted = np.empty((len(levels), scale.codes.size), np.uint64)
        collected = _sketch_ngrams(
            scale.codes,
            scale.offsets,
            self.max_n,
            *self._key_shape(),
            limits,
            buckets,
            first_hashes,
            admitted,
        )
        for level, n in enumerate(levels):
            self.distinct[n].add(admitted[level, : collected[level]].copy())
        return buckets, first_hashes

    def _count_heavy(self, scale: ScaleCodes, buckets: np.ndarray, first_hashes: np.ndarray) -> None:
        """Step 2. Exact (T = 0: every bucket heavy) until some summary of the scale has had to drop
        a key, or will have to (`beyond_budget`)."""
        codes, offsets = scale.codes, scale.offsets
        lossy = any(beyond_budget(self.distinct[n], self.heavy[n]) for n in self.heavy)
        threshold = heavy_threshold(codes.size) if lossy else 0
        is_heavy = buckets > threshold
        dropped = int(buckets[~is_heavy].max(initial=0))
        starts = _heavy_positions(first_hashes, offsets, is_heavy, int(buckets[is_heavy].sum()))
        row_ends = offsets[np.searchsorted(offsets, starts, side="right")]
        keys = codes[starts].astype(np.uint64)  # the candidates' keys and hashes, grown n by n
        hashes = mix(keys)
        for n in range(2, self.max_n + 1):
            inside = row_ends - starts >= n
            starts, row_ends, keys, hashes = starts[inside], row_ends[inside], keys[inside], hashes[inside]
            _extend_at(codes, starts, keys, hashes, n, *self._key_shape())
            if n < SKETCHED_FROM:
                continue
            found, counts, positions, level_dropped = batch_heavy_keys(hashes, threshold)
            dropped = max(dropped, level_dropped)
            starts, row_ends, keys, hashes = (a[positions] for a in (starts, row_ends, keys, hashes))
            self.heavy[n].add(found, counts, dropped)

    def _key_shape(self) -> tuple[np.uint64, int]:
        """(bits per code, codes packed exactly in a key): `hashing.code_bits`, `hashing.packable`."""
        return np.uint64(code_bits(self.codebook_size)), packable(self.codebook_size)

    def merge(self, other: NgramCounts) -> None:
        if other.max_n != self.max_n:
            raise ValueError(f"cannot merge n-gram counts up to n={self.max_n} and n={other.max_n}")
        self.totals += other.totals
        for n in self.distinct:
            self.distinct[n].merge(other.distinct[n])
            self.heavy[n].merge(other.heavy[n])

    def summary(self, code_counts: np.ndarray, bigrams: dict) -> list[dict]:
        """One entry per n; the code counts and the bigram figures (`transitions.bigram_summary`,
        whose top list is longer than 10) give n = 1 and n = 2 exactly."""
        rows = []
        for n in range(1, self.max_n + 1):
            total = int(self.totals[n])
            if n == 1:
                distinct, rse, top, error = np.count_nonzero(code_counts), 0.0, _top_sum(code_counts), 0
            elif n == 2:
                distinct, rse, top, error = (
                    bigrams["unique"],
                    0.0,
                    sum(c for _, _, c in bigrams["top"][:TOP]),
                    0,
                )
            else:
                sketch, heavy = self.distinct[n], self.heavy[n]
                # an estimate can overshoot; there are never more distinct n-grams than n-grams
                distinct, rse = min(sketch.estimate(), total), sketch.relative_standard_error()
                top, error = int(heavy.top_counts(TOP).sum()), heavy.error
            coverage = top / total if total else None
            rows.append(
                {
                    "n": n,
                    "total": total,
                    "distinct": round(distinct) if rse else int(distinct),
                    "diversity": distinct / total if total else None,
                    "distinct_exact": rse == 0.0,
                    "distinct_relative_standard_error": rse,
                    "top10_coverage": coverage,
                    "top10_coverage_max_error": min(TOP * error / total, 1 - coverage) if total else 0.0,
                }
            )
        return rows

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        arrays = {
            f"{prefix}/totals": self.totals,
            f"{prefix}/config": np.array([self.max_n, self.codebook_size], np.int64),
        }
        for n in self.distinct:
            arrays.update(self.distinct[n].to_arrays(f"{prefix}/distinct{n}"))
            arrays.update(self.heavy[n].to_arrays(f"{prefix}/heavy{n}"))
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> NgramCounts:
        max_n, codebook_size = (int(v) for v in arrays[f"{prefix}/config"])
        ngrams = cls(max_n, codebook_size, distinct_budget=3, heavy_budget=10)
        ngrams.totals = np.asarray(arrays[f"{prefix}/totals"], np.int64)
        for n in ngrams.distinct:
            ngrams.distinct[n] = DistinctSketch.from_arrays(arrays, f"{prefix}/distinct{n}")
            ngrams.heavy[n] = HeavyHitters.from_arrays(arrays, f"{prefix}/heavy{n}")
        return ngrams


def _top_sum(counts: np.ndarray) -> int:
    return int(counts[top_entries(counts, TOP)].sum())


_BLOCK = 1024  # positions whose keys and hashes stay in the L1/L2 cache while every n is done


@njit(cache=True, nogil=True)
def _sketch_ngrams(codes, offsets, max_n, bits, packed_max, limits, buckets, first_hashes, admitted):
    """Hash the n-grams for n = SKETCHED_FROM..max_n (level n - SKETCHED_FROM) and collect those at
    or below `limits[level]` as admitted[level, :collected[level]]; returns `collected`. The
    first level's hashes are also written to first_hashes[start] (meaningless where the n-gram
    would cross the end of its row) and counted into `buckets` (the heavy-hitter buckets).

    Level-major inside blocks of positions: the keys of one n at neighbouring positions do not
    depend on each other, so their hashing pipelines (a loop growing one position's n-grams from
    n to n + 1 waited on each hash: 5x slower), and the block's keys stay in cache."""
    collected = np.zeros(max_n - SKETCHED_FROM + 1, np.int64)
    keys, key_hashes = np.empty(_BLOCK, np.uint64), np.empty(_BLOCK, np.uint64)
    row_ends = np.empty(_BLOCK, np.int64)
    row = 0
    for start in range(0, codes.size, _BLOCK):
        block = min(_BLOCK, codes.size - start)
        for j in range(block):
            while offsets[row + 1] <= start + j:
                row += 1
            row_ends[j] = offsets[row + 1]
            keys[j] = np.uint64(codes[start + j])
            if packed_max < 2:
                key_hashes[j] = mix_key(keys[j])
        for n in range(2, max_n + 1):
            level = n - SKETCHED_FROM
            if level < 0 and n < packed_max:  # the key is packed and its hash is not needed
                for j in range(block):
                    if start + j + n <= row_ends[j]:  # else the n-gram would cross its row's end
                        keys[j] = (keys[j] << bits) | np.uint64(codes[start + j + n - 1])
                continue
            # the hashes are a statistic here (level >= 0) or extend n-grams too long to pack
            limit = limits[level] if level >= 0 else np.uint64(0)
            found = collected[level] if level >= 0 else 0
            for j in range(block):
                if start + j + n > row_ends[j]:
                    continue
                code = np.uint64(codes[start + j + n - 1])
                keys[j] = key = extend_key(keys[j], key_hashes[j], code, n, bits, packed_max)
                key_hashes[j] = key_hash = mix_key(key)
                if level < 0:
                    continue
                if key_hash <= limit:
                    admitted[level, found] = key_hash
                    found += 1
                if level == 0:
                    first_hashes[start + j] = key_hash
                    buckets[key_hash >> BUCKET_SHIFT] += 1
            if level >= 0:
                collected[level] = found
    return collected


@njit(cache=True, nogil=True)
def _heavy_positions(hashes, offsets, heavy, size):
    """The `size` starts of SKETCHED_FROM-grams inside rows whose hash falls in a `heavy` bucket."""
    found = np.empty(size, np.int64)
    collected = 0
    for row in range(offsets.size - 1):
        for i in range(offsets[row], offsets[row + 1] - SKETCHED_FROM + 1):
            if heavy[hashes[i] >> BUCKET_SHIFT]:
                found[collected] = i
                collected += 1
    return found


@njit(cache=True, nogil=True)
def _extend_at(codes, starts, keys, hashes, n, bits, packed_max):
    """Turn the keys and hashes of the (n-1)-grams at `starts` into those of the n-grams, in place."""
    for k in range(starts.size):
        keys[k] = extend_key(keys[k], hashes[k], np.uint64(codes[starts[k] + n - 1]), n, bits, packed_max)
        hashes[k] = mix_key(keys[k])
