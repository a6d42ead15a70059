"""Token statistics and the BPE-potential report for snac_hf token sets, without torch.

    from snac_hf.analysis import analyze, analyze_folder
    figures = analyze("tokens/train")             # dict, writes nothing
    analyze_folder("tokens/train", num_proc=2)    # + analysis.json/.md, plots, card, console

Counting (`partial`, one module per statistic) works on Arrow batches with numpy and loops compiled
by numba (no Python per code), merges exactly across batches, threads and machines, and keeps
memory bounded; `summary` turns the counts into the figures, `recommend` applies the original
script's BPE rules, and `markdown`, `console` and `plots` present them.

May import: `snac_hf.tokenset` and `snac_hf.layout`. No torch, no `tokenizers`.
"""

from snac_hf.analysis.api import (
    analyze,
    analyze_folder,
    count_source,
    summarize_counted,
    write_card_section,
    write_reports,
)
from snac_hf.analysis.partial import AnalysisConfig, TokenStats, count_batch
from snac_hf.analysis.saved_partial import Counted, load_partial, merge_partials, save_partial

__all__ = [
    "AnalysisConfig",
    "Counted",
    "TokenStats",
    "analyze",
    "analyze_folder",
    "count_batch",
    "count_source",
    "load_partial",
    "merge_partials",
    "save_partial",
    "summarize_counted",
    "write_card_section",
    "write_reports",
]
