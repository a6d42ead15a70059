"""Bigrams and transition sparsity of one scale, from the exact pair counts.

A bigram is two consecutive codes (a, b) of one scale inside one file (pairs never span files).

* *unique bigrams*: distinct (a, b) that occur.
* *bigram diversity*: unique bigrams / V^2, the share of all codebook pairs that occur (V = 4096
  gives 16,777,216 possible).
* *transition sparsity*: 1 - unique bigrams / U^2, where U is the number of codes that occur in
  this scale: the share of transitions among the codes in use that never happen. It differs from
  1 - diversity by ignoring codes the scale never uses.
"""

from __future__ import annotations

from snac_hf.analysis.pair_counts import PairCounts


def bigram_summary(pairs: PairCounts, unique_tokens: int, m: int = 20) -> dict:
    """Bigram and transition figures of one scale from its pair table."""
    size = pairs.codebook_size
    figures = pairs.figures(m)
    unique, top_keys, top_counts = figures.distinct, figures.top_keys, figures.top_counts
    possible = unique_tokens * unique_tokens
    return {
        "bigrams": {
            "total": figures.total,
            "unique": unique,
            "possible": size * size,
            "diversity": unique / (size * size),
            "top": [[int(key // size), int(key % size), int(n)] for key, n in zip(top_keys, top_counts)],
        },
        "transitions": {
            "distinct": unique,
            "possible": possible,
            "sparsity": 1.0 - unique / possible if possible else None,
        },
    }
