"""From merged counts to the analysis dict: every figure, under stable keys (analysis.json).

Top-level keys: schema_version, source, layout, layout_note, config, files, duration_seconds,
tokens, scales (one entry per scale), cross_scale, overall, recommendation; added later by other
steps: plots (the PNG names, `plots.write_plots`), bpe_measured (the best measured compression,
`bpe.compare`). Schema 2: the recommendation counts only informative checks
(`recommend.py`: per-scale `counted`, overall `mean_fraction`). Rates are fractions
(0..1); the reports show them as percentages. Figures that are estimates carry their error
(`distinct_exact`, `distinct_relative_standard_error`, `top10_coverage_max_error`).
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from snac_hf.analysis.frequency import entropy_bits, frequency_summary, gini, top_k_coverage
from snac_hf.analysis.partial import ScaleStats, TokenStats
from snac_hf.analysis.recommend import recommend
from snac_hf.analysis.transitions import bigram_summary
from snac_hf.layout import CodecLayout

SCHEMA_VERSION = 2


def scale_summary(k: int, stats: ScaleStats, codes_per_second: float) -> dict:
    frequency = frequency_summary(stats.code_counts)
    bigrams = bigram_summary(stats.bigrams, frequency["unique_tokens"])
    return {
        "scale": k,
        "codes_per_second": codes_per_second,
        **frequency,
        **bigrams,
        "repetition": stats.runs.summary(),
        "ngrams": stats.ngrams.summary(stats.code_counts, bigrams["bigrams"]),
    }


def overall_summary(stats: TokenStats, scales: list[dict]) -> dict:
    """All scales as one stream of (scale, code) symbols: V * n_scales possible symbols."""
    counts = np.concatenate([s.code_counts for s in stats.scales])
    tokens = int(counts.sum())
    repeats = sum(s["repetition"]["repeats"] for s in scales)
    return {
        "tokens": tokens,
        "unique_symbols": int(np.count_nonzero(counts)),
        "gini": gini(counts[counts > 0]),
        "top_k_coverage": top_k_coverage(counts),
        "entropy_bits": entropy_bits(counts),
        "repetition_rate": repeats / tokens if tokens else None,
        "tokens_per_second_of_audio": tokens / stats.duration if stats.duration else None,
    }


def summarize(stats: TokenStats, *, source: str, layout: CodecLayout, layout_note: str | None = None) -> dict:
    config = stats.config
    scales = [scale_summary(k, s, layout.codes_per_second[k]) for k, s in enumerate(stats.scales)]
    return {
        "schema_version": SCHEMA_VERSION,
        "source": source,
        "layout": layout.to_dict(),
        "layout_note": layout_note,
        "config": asdict(config),
        "files": stats.files,
        "duration_seconds": stats.duration,
        "tokens": sum(s["tokens"] for s in scales),
        "scales": scales,
        "cross_scale": stats.frames.summary(),
        "overall": overall_summary(stats, scales),
        "recommendation": recommend(scales),
    }
