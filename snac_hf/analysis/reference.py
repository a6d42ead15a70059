"""The exact statistics in plain Python, in the original script's style (`Counter` over lists).

About two orders of magnitude slower than the numpy path. It pins the definitions down in their
simplest form: the tests compare the fast path with it, and `bench/analysis_throughput.py` times
it as the baseline. It computes every exact figure of the report (no sketches: memory grows with
the data, so use it on samples only).
"""

from __future__ import annotations

import math
from collections import Counter

import pyarrow.parquet as pq

from snac_hf.tokenset.schema import n_scales_of, parquet_files, tokens_column

Rows = list[list[list[int]]]  # rows[file][scale] = codes


def read_rows(folder: str, max_tokens: int | None = None) -> Rows:
    """The code lists of a token-set folder's first files (all of them, or up to `max_tokens`)."""
    rows: Rows = []
    tokens = 0
    for path in parquet_files(folder):
        table = pq.read_table(path)
        columns = [table.column(tokens_column(k)).to_pylist() for k in range(n_scales_of(table.column_names))]
        for row in zip(*columns):
            rows.append([list(codes or []) for codes in row])
            tokens += sum(len(codes) for codes in rows[-1])
            if max_tokens is not None and tokens >= max_tokens:
                return rows
    return rows


def gini(values: list[int]) -> float | None:
    values = sorted(values)
    n, total = len(values), sum(values)
    if n == 0 or total == 0:
        return None
    return 2 * sum(i * x for i, x in enumerate(values, start=1)) / (n * total) - (n + 1) / n


def entropy(counter: Counter) -> float | None:
    total = sum(counter.values())
    if total == 0:
        return None
    return -sum(c / total * math.log2(c / total) for c in counter.values())


def top_coverage(counter: Counter, k: int, total: int) -> float | None:
    return sum(c for _, c in counter.most_common(k)) / total if total else None


def scale_statistics(sequences: list[list[int]], codebook_size: int, max_n: int = 7) -> dict:
    counts, bigrams, runs = Counter(), Counter(), Counter()
    ngrams = {n: Counter() for n in range(1, max_n + 1)}
    for codes in sequences:
        counts.update(codes)
        bigrams.update(zip(codes, codes[1:]))
        run = 1
        for i in range(1, len(codes) + 1):
            if i < len(codes) and codes[i] == codes[i - 1]:
                run += 1
            else:
                runs[run] += 1
                run = 1
        for n in ngrams:
            ngrams[n].update(tuple(codes[i : i + n]) for i in range(len(codes) - n + 1))
    tokens = sum(counts.values())
    repeats = tokens - sum(runs.values()) if tokens else 0
    unique = len(counts)
    return {
        "tokens": tokens,
        "unique_tokens": unique,
        "gini": gini(list(counts.values())),
        "gini_codebook": gini(list(counts.values()) + [0] * (codebook_size - unique)) if tokens else None,
        "entropy_bits": entropy(counts),
        "top_k_coverage": {str(k): top_coverage(counts, k, tokens) for k in (1, 10, 100, 1000)},
        "unique_bigrams": len(bigrams),
        "sparsity": 1 - len(bigrams) / unique**2 if unique else None,
        "repetition_rate": repeats / tokens if tokens else None,
        "mean_run_length": tokens / sum(runs.values()) if tokens else None,
        "max_run_length": max(runs) if tokens else 0,
        "run_length_histogram": sorted([length, n] for length, n in runs.items()) if tokens else [],
        "ngrams": [
            {
                "n": n,
                "total": sum(c.values()),
                "distinct": len(c),
                "top10_coverage": top_coverage(c, 10, sum(c.values())),
            }
            for n, c in ngrams.items()
        ],
    }


def frame_statistics(rows: Rows, codes_per_frame: tuple[int, ...]) -> dict:
    frames = Counter()
    parent_child = [Counter() for _ in codes_per_frame[1:]]
    for row in rows:
        n_frames = min(len(codes) // c for codes, c in zip(row, codes_per_frame))
        for f in range(n_frames):
            parts = [codes[f * c : (f + 1) * c] for codes, c in zip(row, codes_per_frame)]
            frames[tuple(code for part in parts for code in part)] += 1
            for k in range(1, len(parts)):
                for slot, child in enumerate(parts[k]):
                    parent = parts[k - 1][slot * codes_per_frame[k - 1] // codes_per_frame[k]]
                    parent_child[k - 1][parent, child] += 1
    total = sum(frames.values())
    conditional = []
    for pairs in parent_child:
        parents, children = Counter(), Counter()
        for (parent, child), n in pairs.items():
            parents[parent] += n
            children[child] += n
        joint = entropy(pairs)
        conditional.append(
            {
                "child_entropy_bits": entropy(children),
                "conditional_entropy_bits": None if joint is None else joint - entropy(parents),
            }
        )
    return {
        "frames": total,
        "distinct_frames": len(frames),
        "top10_frame_coverage": top_coverage(frames, 10, total),
        "conditional_entropy": conditional,
    }


def analyze_rows(
    rows: Rows, codes_per_frame: tuple[int, ...], codebook_size: int = 4096, max_n: int = 7
) -> dict:
    return {
        "scales": [
            scale_statistics([row[k] for row in rows], codebook_size, max_n)
            for k in range(len(codes_per_frame))
        ],
        "cross_scale": frame_statistics(rows, codes_per_frame),
    }
