"""n-gram diversity and top-10 coverage of one scale, n = 1..max_n, never across files.

An n-gram is n consecutive codes of one scale inside one file; a file of L codes has
max(0, L - n + 1) of them. For each n:

* *diversity* = distinct n-grams / total n-grams (1.0: every n-gram occurs once; small: a few
  n-grams repeat a lot);
* *top-10 coverage* = occurrences of the 10 most frequent n-grams / total n-grams.

n = 1 and n = 2 are exact (from the code counts and the pair table). For n >= 3 the distinct
n-grams of a large set do not fit in memory: their count comes from a `DistinctSketch` (exact up
to its budget, then a k-minimum-values estimate with relative standard error 1/sqrt(k-2)), and
the top-10 coverage from `HeavyHitters` (exact while the summaries of every n of the scale still
hold all their keys, i.e. up to the heavy-hitter budget of distinct n-grams; after that a lower
bound at most `top10_coverage_max_error` below the truth). The report says which applied.

Per batch the work is one pass per n over the codes: the keys of all n-grams are built from those
of the (n-1)-grams (`hashing.extend_keys`). Heavy-hitter candidates shrink level by level: an
n-gram occurring more than T times in a batch has an (n-1)-prefix occurring more than T times
there, so only positions whose prefix was a candidate are examined at level n (the a-priori
principle); what that leaves out occurs at most the previous level's `dropped` count.
"""

from __future__ import annotations

import numpy as np

from snac_hf.analysis.arrow_codes import ScaleCodes
from snac_hf.analysis.distinct import DistinctSketch
from snac_hf.analysis.frequency import top_entries
from snac_hf.analysis.hashing import extend_keys, mix
from snac_hf.analysis.heavy_hitters import HeavyHitters, batch_heavy_keys, heavy_threshold

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

    def count(self, scale: ScaleCodes, batch_code_counts: np.ndarray) -> None:
        """Count the n-grams of one batch; `batch_code_counts` is the batch's bincount of codes."""
        for n in range(1, self.max_n + 1):
            self.totals[n] += np.maximum(scale.lengths - n + 1, 0).sum()
        # Exact (T = 0) until some summary has had to drop a key; then the bucket pre-filter.
        lossy = any(summary.error for summary in self.heavy.values())
        threshold = heavy_threshold(scale.codes.size) if lossy else 0
        # Level 1 is exact: the positions of codes counted more than T in the batch.
        rare = batch_code_counts[batch_code_counts <= threshold]
        dropped = int(rare.max(initial=0))
        candidates = np.flatnonzero(batch_code_counts[scale.codes] > threshold)
        codes = scale.codes.astype(np.uint64)
        # Level n overwrites level n-1 in place: keys[i] and hashes[i] are those of the n-gram at i.
        # (Level 1's hashes are never read: two codes always pack into one key.)
        keys, hashes, scratch = codes.copy(), np.empty_like(codes), np.empty_like(codes)
        for n in range(2, self.max_n + 1):
            starts = codes.size - n + 1
            if starts <= 0:
                break
            keys = extend_keys(
                keys[:starts], hashes[:starts], codes[n - 1 :], n, self.codebook_size, out=keys[:starts]
            )
            hashes = mix(keys, out=hashes[:starts], scratch=scratch[:starts])
            if n >= SKETCHED_FROM:
                self._count_distinct(n, hashes, scale.remaining)
            candidates = candidates[: np.searchsorted(candidates, starts)]  # sorted: cut, not mask
            candidates = candidates[scale.remaining[candidates] >= n]
            found, counts, positions, level_dropped = batch_heavy_keys(hashes[candidates], threshold)
            dropped = max(dropped, level_dropped)
            candidates = candidates[positions]
            if n >= SKETCHED_FROM:
                self.heavy[n].add(found, counts, dropped)

    def _count_distinct(self, n: int, hashes: np.ndarray, remaining: np.ndarray) -> None:
        sketch = self.distinct[n]
        admitted = sketch.admissible(hashes)
        sketch.add(hashes[admitted[remaining[admitted] >= n]])

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
