"""Distinct counting in bounded memory: exact up to a budget, k-minimum-values beyond it.

The sketch keeps the `capacity` (k) smallest distinct 64-bit hashes it has seen. While it has
seen at most k distinct hashes it holds all of them and the count is exact. Once a hash had to be
dropped it is *saturated*, and the number of distinct values is estimated from the k-th smallest
hash h_k, read as a fraction U_k = (h_k + 1) / 2^64 of the hash space (Beyer et al., "On synopses
for distinct-value estimation under multiset operations", SIGMOD 2007):

    D_hat = (k - 1) / U_k,     relative standard error <= 1 / sqrt(k - 2)

(1 / sqrt(2^18 - 2) = 0.2 % for the default budget; about 95 % of estimates fall within twice
that). Merging is exact and order-free: the k smallest hashes of a union are the k smallest of the
union of both sides' k smallest, so merged partials equal a single pass bit for bit.

Hashes arrive in batches; candidates are buffered and compacted (sort, unique, cut to k) only when
the buffer holds k of them, and once saturated a batch is first filtered against the current k-th
smallest hash, so most batches cost one comparison per hash.
"""

from __future__ import annotations

import math

import numpy as np

from snac_hf.analysis.hashing import distinct_keys


class DistinctSketch:
    def __init__(self, capacity: int):
        if capacity < 3:
            raise ValueError(f"distinct-count budget must be at least 3, got {capacity}")
        self.capacity = capacity
        self.values = np.zeros(0, np.uint64)  # sorted, unique, at most `capacity`
        self.saturated = False
        self._pending: list[np.ndarray] = []
        self._pending_size = 0

    def admission_limit(self) -> np.uint64:
        """The largest hash that could enter the sketch now: any until it saturates, then those
        below its k-th smallest value (a cheap pre-filter; `add` filters again)."""
        if not self.saturated:
            return np.uint64(np.iinfo(np.uint64).max)
        return np.uint64(self.values[-1] - np.uint64(1))  # values are distinct: values[-1] > 0

    def admissible(self, hashes: np.ndarray) -> np.ndarray:
        """Indices of the `hashes` that could enter the sketch (`admission_limit`)."""
        if not self.saturated:
            return np.arange(hashes.size)
        return np.flatnonzero(hashes <= self.admission_limit())

    def add(self, hashes: np.ndarray) -> None:
        """Add a batch of uint64 hashes (duplicates allowed)."""
        if self.saturated:
            hashes = hashes[hashes < self.values[-1]]
        if hashes.size:
            self._pending.append(hashes)
            self._pending_size += hashes.size
            if self._pending_size >= self.capacity:
                self._compact()

    def merge(self, other: DistinctSketch) -> None:
        if other.capacity != self.capacity:
            raise ValueError(
                f"cannot merge distinct sketches of budgets {self.capacity} and {other.capacity}"
            )
        other._compact()
        self.add(other.values)
        self._compact()
        self.saturated |= other.saturated  # after adding: `add` filters by this side's own state

    def _compact(self) -> None:
        if not self._pending:
            return
        values = np.concatenate([self.values, *self._pending])
        self._pending, self._pending_size = [], 0
        if values.size > 2 * self.capacity:
            # The k smallest distinct values are among the 2k smallest values unless duplicates
            # fill more than half of those: select them in linear time, and sort only them.
            smallest = distinct_keys(np.partition(values, 2 * self.capacity)[: 2 * self.capacity + 1])
            if smallest.size > self.capacity:
                values = smallest
        values = distinct_keys(values)
        if values.size > self.capacity:
            values = values[: self.capacity]
            self.saturated = True
        self.values = values

    def more_than(self, n: int) -> bool:
        """Whether more than `n` (at most `capacity`) distinct hashes were added; cheap once saturated."""
        if self.saturated:
            return True
        if self.values.size + self._pending_size <= n:
            return False
        self._compact()
        return self.saturated or self.values.size > n

    @property
    def exact(self) -> bool:
        self._compact()
        return not self.saturated

    def estimate(self) -> float:
        """The number of distinct hashes added: exact while not saturated, else the KMV estimate."""
        self._compact()
        if not self.saturated:
            return float(self.values.size)
        fraction = (float(self.values[-1]) + 1.0) / 2.0**64
        return (self.capacity - 1) / fraction

    def relative_standard_error(self) -> float:
        return 0.0 if self.exact else 1.0 / math.sqrt(self.capacity - 2)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        self._compact()
        return {
            f"{prefix}/values": self.values,
            f"{prefix}/state": np.array([self.capacity, int(self.saturated)], np.int64),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> DistinctSketch:
        capacity, saturated = (int(v) for v in arrays[f"{prefix}/state"])
        sketch = cls(capacity)
        sketch.values = np.asarray(arrays[f"{prefix}/values"], np.uint64)
        sketch.saturated = bool(saturated)
        return sketch
