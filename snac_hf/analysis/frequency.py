"""How unevenly codes are used: Gini, top-K coverage, entropy, Zipf slope, from a count vector.

`counts[c]` is how often code c occurs (length = codebook size, zeros included).

* *gini*: the Gini coefficient of the frequencies of the codes that occur (as the original
  script computed it from a Counter, which has no zero entries). With x_1 <= ... <= x_n those
  frequencies: G = 2 * sum(i * x_i) / (n * sum(x)) - (n + 1) / n. 0 when every occurring code is
  equally frequent; it approaches 1 when one code dominates many rare ones.
* *gini_codebook*: the same over all codebook entries, unused ones counting as 0, so it also
  reflects unused codes; one code alone gives (V - 1) / V.
* *top-K coverage*: share of all tokens taken by the K most frequent codes.
* *entropy*: Shannon entropy of the code distribution, in bits per token.
* *Zipf slope*: least-squares slope of log(frequency) against log(rank) over the occurring codes
  (rank 1 = most frequent), i.e. the exponent s of frequency ~ rank^s (about -1 for Zipf's law;
  0 for a flat distribution).
"""

from __future__ import annotations

import numpy as np

COVERAGE_K = (1, 10, 100, 1000)


def gini(counts: np.ndarray) -> float | None:
    """Gini coefficient of `counts` as given (pass `counts[counts > 0]` for occurring codes only)."""
    x = np.sort(np.asarray(counts, np.float64))
    n = x.size
    if n == 0 or x.sum() == 0:
        return None
    ranks = np.arange(1, n + 1)
    return float(2.0 * (ranks * x).sum() / (n * x.sum()) - (n + 1) / n)


def top_k_coverage(counts: np.ndarray, ks: tuple[int, ...] = COVERAGE_K) -> dict[str, float | None]:
    total = counts.sum()
    descending = np.sort(counts)[::-1]
    return {str(k): float(descending[:k].sum() / total) if total else None for k in ks}


def entropy_bits(counts: np.ndarray) -> float | None:
    """Shannon entropy in bits of the distribution proportional to `counts`."""
    counts = np.asarray(counts, np.float64)
    total = counts.sum()
    if total == 0:
        return None
    p = counts[counts > 0] / total
    return float(-(p * np.log2(p)).sum() + 0.0)


def zipf_slope(counts: np.ndarray) -> float | None:
    """Slope of log(frequency) vs log(rank) over the occurring codes (None if fewer than 2)."""
    frequencies = np.sort(counts[counts > 0])[::-1].astype(np.float64)
    if frequencies.size < 2:
        return None
    ranks = np.arange(1, frequencies.size + 1)
    slope, _ = np.polyfit(np.log(ranks), np.log(frequencies), 1)
    return float(slope)


def top_entries(counts: np.ndarray, m: int) -> np.ndarray:
    """Indices of the m largest `counts`, by count descending then index ascending.

    Sort-based: `np.partition` degrades badly on the many equal counts real data has."""
    m = min(m, counts.size)
    if m == 0:
        return np.zeros(0, np.intp)
    floor = np.sort(counts)[-m]
    above = np.flatnonzero(counts > floor)
    above = above[np.argsort(-counts[above], kind="stable")]
    return np.concatenate([above, np.flatnonzero(counts == floor)[: m - above.size]])


def most_common(counts: np.ndarray, m: int) -> list[list[int]]:
    """The m most frequent codes as [code, count], by count descending then code."""
    return [[int(code), int(counts[code])] for code in top_entries(counts, m) if counts[code] > 0]


def frequency_summary(counts: np.ndarray, m: int = 20) -> dict:
    occurring = np.flatnonzero(counts)
    return {
        "tokens": int(counts.sum()),
        "unique_tokens": int(occurring.size),
        "min_token": int(occurring[0]) if occurring.size else None,
        "max_token": int(occurring[-1]) if occurring.size else None,
        "most_common": most_common(counts, m),
        "gini": gini(counts[occurring]),
        "gini_codebook": gini(counts),
        "top_k_coverage": top_k_coverage(counts),
        "entropy_bits": entropy_bits(counts),
        "zipf_slope": zipf_slope(counts),
        "rank_frequency": [int(c) for c in np.sort(counts[occurring])[::-1]],
    }
