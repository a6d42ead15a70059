"""The analysis entry points: `analyze` (figures only) and `analyze_folder` (figures + reports).

Partials from several machines: each runs `count_source(...)` on its share and `save_partial`,
then one `merge_partials` + `summarize_counted` produces the report (the CLI's `--save_partial`
and `--merge_partials`; saving, checking and merging partials is `saved_partial.py`).
"""

from __future__ import annotations

import json
import os
import time

from datasets import Dataset

from snac_hf.analysis.compute import compute_stats
from snac_hf.analysis.console import console_report
from snac_hf.analysis.markdown import card_section, report
from snac_hf.analysis.partial import AnalysisConfig
from snac_hf.analysis.saved_partial import Counted, repeated_shard
from snac_hf.analysis.sources import resolve
from snac_hf.analysis.summary import summarize
from snac_hf.layout import CodecLayout
from snac_hf.layout.codes import check_layout
from snac_hf.tokenset.ownership import owned_files, record_written
from snac_hf.tokenset.sections import write_section

JSON_FILE, REPORT_FILE, CARD_FILE, CARD_SECTION = "analysis.json", "analysis.md", "README.md", "analysis"


def count_source(
    source: str | Dataset,
    *,
    num_proc: int = 1,
    layout: CodecLayout | None = None,
    max_n: int = 7,
    distinct_budget: int = AnalysisConfig.distinct_budget,
    heavy_budget: int = AnalysisConfig.heavy_budget,
    progress: bool = False,
    split: str = "train",
) -> Counted:
    """Count a source (see `sources.resolve`) into merged partial statistics.

    The layout is checked as for BPE training (`bpe.codes.check_layout`), and so is every file's
    number of codes per scale (`TokenStats.count`); a shard given twice (same footer digest) is an error.
    """
    start = time.perf_counter()
    resolved = resolve(source, layout=layout, num_shards=num_proc, split=split)
    check_layout(resolved.layout)
    shards = [unit.identity() for unit in resolved.units]
    if repeated := repeated_shard(shards):
        raise ValueError(f"{repeated[0]['path']} and {repeated[1]['path']} are the same shard: give it once")
    config = AnalysisConfig(
        codebook_size=resolved.layout.codebook_size,
        codes_per_frame=resolved.layout.codes_per_frame,
        max_n=max_n,
        distinct_budget=distinct_budget,
        heavy_budget=heavy_budget,
    )
    stats = compute_stats(resolved.units, config, num_proc=num_proc, progress=progress)
    seconds = time.perf_counter() - start
    return Counted(stats, resolved.description, resolved.layout, resolved.layout_note, seconds, shards)


def summarize_counted(counted: Counted, num_proc: int = 1) -> dict:
    analysis = summarize(
        counted.stats, source=counted.source, layout=counted.layout, layout_note=counted.layout_note
    )
    tokens = analysis["tokens"]
    analysis["run"] = {
        "seconds": counted.seconds,
        "num_proc": num_proc,
        "tokens_per_second": tokens / counted.seconds if counted.seconds else None,
    }
    return analysis


def analyze(source: str | Dataset, *, num_proc: int = 1, **options) -> dict:
    """All figures of a token set as a dict (the content of analysis.json); writes nothing.

    `source`: a token-set folder, a Parquet file or glob, a `load_dataset` name, or a
    `datasets.Dataset`. `options`: `layout`, `max_n`, `distinct_budget`, `heavy_budget`, `progress`,
    `split` (of a folder or dataset name; default train).
    """
    return summarize_counted(count_source(source, num_proc=num_proc, **options), num_proc)


def write_reports(analysis: dict, directory: str, *, plots: bool = True) -> list[str]:
    """Write analysis.json, the `analysis` section of analysis.md and (unless `plots` is False) the
    PNG plots; returns the paths."""
    check_report_file(os.path.join(directory, JSON_FILE))
    os.makedirs(directory, exist_ok=True)
    plot_names = []
    if plots:
        from snac_hf.analysis.plots import PLOTTERS, write_plots  # matplotlib only when plotting

        record_written(directory, list(PLOTTERS))  # ours in a token set: --overwrite may remove them
        plot_names = write_plots(analysis, directory)
    record_written(directory, [JSON_FILE, REPORT_FILE])
    paths = [os.path.join(directory, name) for name in (JSON_FILE, REPORT_FILE, *plot_names)]
    with open(paths[0], "w") as f:
        json.dump(analysis, f, indent=1, ensure_ascii=False)
        f.write("\n")
    # analysis.md as a replaceable section: other tools' sections there (compare_bpe's measured
    # results) survive a new analysis.
    write_section(paths[1], CARD_SECTION, report(analysis, plot_names))
    return paths


def check_report_file(path: str) -> None:
    """Refuse to replace an `analysis.json` that snac_hf did not write (a `ValueError` saying what to
    do): ours is recorded in a token set's `.snac_hf/written/`, or, in a report folder elsewhere, is a
    JSON object with this module's `schema_version` and `scales`."""
    if not os.path.lexists(path):
        return
    folder, name = os.path.split(path)
    if name in owned_files(folder or "."):
        return
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        ours = isinstance(data, dict) and "schema_version" in data and "scales" in data
    except (OSError, ValueError):
        ours = False
    if not ours:
        raise ValueError(
            f"{path} exists and is not a snac_hf analysis; nothing was written. Move it, or give "
            "another --report_dir"
        )


def write_card_section(analysis: dict, folder: str, report_dir: str | None = None) -> None:
    """Set the `analysis` section of the token set's dataset card (created if missing); it links
    to analysis.md when the reports sit next to the card."""
    same_place = report_dir is None or os.path.abspath(report_dir) == os.path.abspath(folder)
    link = REPORT_FILE if same_place else None
    record_written(folder, [CARD_FILE])
    write_section(os.path.join(folder, CARD_FILE), CARD_SECTION, card_section(analysis, link))


def analyze_folder(
    folder: str,
    *,
    num_proc: int = 1,
    plots: bool = True,
    console: bool = True,
    report_dir: str | None = None,
    **options,
) -> dict:
    """Analyze a token-set folder: write the reports into it (or `report_dir`), print the console
    report, and set the `analysis` section of the folder's dataset card (README.md)."""
    analysis = analyze(folder, num_proc=num_proc, **options)
    write_reports(analysis, report_dir or folder, plots=plots)
    write_card_section(analysis, folder, report_dir)
    if console:
        print(console_report(analysis))
    return analysis
