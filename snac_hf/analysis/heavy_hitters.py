"""Heavy hitters (the most frequent keys) in bounded memory, with a deterministic error bound.

Used for the top-10 coverage of n-grams (n >= 3) and frame tuples, whose distinct keys do not fit
in memory. Two steps, each of which can only *under*-count a key, by a tracked amount:

1. Per batch, `batch_heavy_keys` (for n-grams, the compiled loop of `ngrams.py` at the first
   level) counts the keys' hashes in 2^16 buckets (top 16 bits). Buckets counted more than
   T = batch size // 32768 (twice the mean bucket load: few buckets get there
   by chance collisions alone) are *heavy*; their keys are counted exactly by sorting, the others
   dropped. Every dropped key occurred at most D times in the batch, D = the largest count of a
   bucket that is not heavy (D <= T), and keys of heavy buckets counted <= D are dropped too.
   Until the summary below has had to drop a key, or certainly will (`beyond_budget`), T = 0:
   every key is counted exactly (D = 0), so the counts are exact for up to `capacity` distinct
   keys.
2. The kept counts feed a Misra-Gries summary of `capacity` counters in its mergeable form
   (Agarwal et al., "Mergeable summaries", PODS 2012): add the counters of both sides and, if
   more than `capacity` keys remain, subtract the (capacity+1)-th largest count c from all and
   drop those not above zero.

Guarantee: for every key, true - error <= estimate <= true, where error = the sum of every batch's
D plus every c subtracted: at most N / 32768 + N / (capacity + 1) for N keys counted. The sum of
the 10 largest estimates therefore lies at most 10 * error below the true top-10 total, and never
above it. error == 0 means the counts are exact.
"""

from __future__ import annotations

import numpy as np

from snac_hf.analysis.distinct import DistinctSketch
from snac_hf.analysis.hashing import count_keys

BUCKETS = 1 << 16
BUCKET_SHIFT = np.uint64(48)  # a key's bucket: the top 16 bits of its hash


def heavy_threshold(batch_size: int) -> int:
    """T for a batch of `batch_size` keys: twice the mean load of the 2^16 buckets."""
    return batch_size >> 15


def batch_heavy_keys(hashes: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Keys of `hashes` that may occur more than `threshold` times, with their exact counts.

    Returns (keys, counts, positions, dropped): `positions` marks where the keys of heavy buckets
    occur (a superset of where the returned keys occur); every key not returned occurs at most
    `dropped` times."""
    if threshold == 0:
        keys, counts = count_keys(hashes)
        return keys, counts, np.ones(hashes.size, bool), 0
    buckets = (hashes >> BUCKET_SHIFT).astype(np.intp)
    bucket_counts = np.bincount(buckets, minlength=BUCKETS)
    heavy = bucket_counts > threshold
    dropped = int(bucket_counts[~heavy].max(initial=0))
    positions = heavy[buckets]
    keys, counts = count_keys(hashes[positions])
    kept = counts > dropped
    return keys[kept], counts[kept], positions, dropped


def beyond_budget(distinct: DistinctSketch, summary: HeavyHitters) -> bool:
    """Whether `summary` has lost exactness or must lose it: it has dropped a key, or the distinct
    sketch of the same keys has seen more distinct keys than the summary can hold. Until then the
    batch step counts every key exactly (T = 0); sorting every key of a large batch only to drop
    most of them at once was the costliest step of a first batch."""
    if summary.error:
        return True
    return distinct.capacity >= summary.capacity and distinct.more_than(summary.capacity)


class HeavyHitters:
    """A Misra-Gries summary: at most `capacity` (key, count) pairs and the error bound."""

    def __init__(self, capacity: int):
        if capacity < 10:
            raise ValueError(f"heavy-hitter budget must be at least 10 counters, got {capacity}")
        self.capacity = capacity
        self.keys = np.zeros(0, np.uint64)
        self.counts = np.zeros(0, np.int64)
        self.error = 0
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending_size = 0

    def add(self, keys: np.ndarray, counts: np.ndarray, dropped: int = 0) -> None:
        """Add exact counts of distinct `keys`; any key left out occurred at most `dropped` times."""
        self.error += int(dropped)
        if keys.size:
            self._pending.append((keys, counts.astype(np.int64)))
            self._pending_size += keys.size
            if self._pending_size >= self.capacity:
                self._compact()

    def merge(self, other: HeavyHitters) -> None:
        if other.capacity != self.capacity:
            raise ValueError(f"cannot merge heavy hitters of budgets {self.capacity} and {other.capacity}")
        other._compact()
        self.add(other.keys, other.counts, other.error)
        self._compact()

    def _compact(self) -> None:
        if not self._pending:
            return
        keys = np.concatenate([self.keys, *(k for k, _ in self._pending)])
        counts = np.concatenate([self.counts, *(c for _, c in self._pending)])
        self._pending, self._pending_size = [], 0
        keys, counts = count_keys(keys, weights=counts)
        if keys.size > self.capacity:
            cut = int(np.sort(counts)[keys.size - self.capacity - 1])  # the (capacity+1)-th largest
            counts -= cut
            self.error += cut
            kept = counts > 0
            keys, counts = keys[kept], counts[kept]
        self.keys, self.counts = keys, counts

    def top_counts(self, m: int) -> np.ndarray:
        """The m largest estimated counts, largest first (each a lower bound of the true count)."""
        self._compact()
        return np.sort(self.counts)[::-1][:m].copy()

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        self._compact()
        return {
            f"{prefix}/keys": self.keys,
            f"{prefix}/counts": self.counts,
            f"{prefix}/state": np.array([self.capacity, self.error], np.int64),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> HeavyHitters:
        capacity, error = (int(v) for v in arrays[f"{prefix}/state"])
        summary = cls(capacity)
        summary.keys = np.asarray(arrays[f"{prefix}/keys"], np.uint64)
        summary.counts = np.asarray(arrays[f"{prefix}/counts"], np.int64)
        summary.error = error
        return summary
