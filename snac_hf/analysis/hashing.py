"""64-bit keys for tuples of codes (n-grams, frames), built one code at a time.

A tuple of up to `64 // code_bits` codes (5 codes of 12 bits for a 4096-entry codebook) is
*packed* exactly: key = c0 << (code_bits * (n-1)) | ... | c_{n-1}, so distinct tuples have distinct
keys. Longer tuples continue from the mixed key of their prefix: key_n = mix(key_{n-1}) ^ c_{n-1},
a 64-bit hash whose collisions among D distinct tuples number D^2 / 2^65 in expectation
(about 0.03 for a billion distinct 7-grams), which the reports neglect.

`mix` is the splitmix64 finalizer (xorshift-multiply twice, then xorshift), a bijection of uint64,
so the hash of a packed key is collision-free too. It spreads every input bit over all output bits,
as the k-minimum-values sketch (`distinct.py`) and the heavy-hitter buckets (`heavy_hitters.py`)
assume. (A cheaper one-multiply mixer overestimated distinct 3-grams by 0.5 % on Zipf-distributed
codes; with this one the bias was not measurable.)

`mix_key` and `extend_key` work on one key and are compiled with numba, so that a loop over
positions (`ngrams.py`) keeps a tuple's key in a register while it grows code by code; in numpy
every step of every length was a pass over a whole-array temporary. `mix` and `tuple_hashes` are
the same functions over arrays.

Distinct keys are found by sorting (`distinct_keys`, `count_keys`): numpy 2.4's `np.unique`
without counts takes a hash-table path that is ~100x slower than a sort on a million uint64.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)  # splitmix64
_S1, _S2, _S3 = np.uint64(30), np.uint64(27), np.uint64(31)


def code_bits(codebook_size: int) -> int:
    """Bits needed for one code: 12 for 4096 codes."""
    return max(1, int(codebook_size - 1).bit_length())


def packable(codebook_size: int) -> int:
    """How many codes fit exactly in one 64-bit key."""
    return 64 // code_bits(codebook_size)


@njit(cache=True, inline="always")
def mix_key(key):
    """The splitmix64 finalizer of one uint64."""
    key = (key ^ (key >> _S1)) * _M1
    key = (key ^ (key >> _S2)) * _M2
    return key ^ (key >> _S3)


@njit(cache=True, inline="always")
def extend_key(key, key_hash, code, length, bits, packed_max):
    """The key of a tuple of `length` codes from the key of its first `length - 1` codes (and that
    key's `mix_key` hash) and its last code; all uint64 but `length` and `packed_max` (ints) and
    `bits` (uint64)."""
    if length <= packed_max:
        return (key << bits) | code
    return key_hash ^ code


@njit(cache=True, nogil=True)
def _mix_all(keys, out):
    for i in range(keys.size):
        out[i] = mix_key(keys[i])


@njit(cache=True, nogil=True)
def _tuple_hashes(columns, bits, packed_max, out):
    length = columns.shape[1]
    for i in range(columns.shape[0]):
        key = np.uint64(columns[i, 0])
        key_hash = mix_key(key) if packed_max < 2 or length == 1 else np.uint64(0)
        for n in range(2, length + 1):
            key = extend_key(key, key_hash, np.uint64(columns[i, n - 1]), n, bits, packed_max)
            if n == length or n >= packed_max:  # the hash is the result, or extends the next key
                key_hash = mix_key(key)
        out[i] = key_hash


def mix(keys: np.ndarray) -> np.ndarray:
    """`mix_key` of every value of a uint64 array (a new array)."""
    keys = np.ascontiguousarray(keys, np.uint64)
    out = np.empty_like(keys)
    _mix_all(keys, out)
    return out


def tuple_hashes(columns: np.ndarray | list[np.ndarray], codebook_size: int) -> np.ndarray:
    """`mix` hashes of the tuples formed by the rows of `columns`, a (tuples, length) array of
    non-negative integer codes (or a list of one array per position)."""
    columns = np.column_stack(columns) if isinstance(columns, list) else columns
    out = np.empty(columns.shape[0], np.uint64)
    _tuple_hashes(columns, np.uint64(code_bits(codebook_size)), packable(codebook_size), out)
    return out


def _starts_of_groups(ordered: np.ndarray) -> np.ndarray:
    """Indices where a new value begins in a sorted array."""
    return np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))


def distinct_keys(keys: np.ndarray) -> np.ndarray:
    """The distinct values of `keys`, ascending."""
    ordered = np.sort(keys)
    return ordered[_starts_of_groups(ordered)] if ordered.size else ordered


def count_keys(keys: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of `keys`, ascending, and how often each occurs (or the sum of the
    `weights` of its occurrences)."""
    if keys.size == 0:
        return keys, np.zeros(0, np.int64)
    order = np.argsort(keys) if weights is not None else None
    ordered = keys[order] if order is not None else np.sort(keys)
    starts = _starts_of_groups(ordered)
    if weights is None:
        return ordered[starts], np.diff(np.append(starts, ordered.size))
    return ordered[starts], np.add.reduceat(weights[order], starts)
