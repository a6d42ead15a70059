"""Accuracy of the analysis' estimates against the exact plain-Python reference, beyond the budgets.

    python bench/analysis_accuracy.py                 # the first 1M tokens of the bench's 25M set
    python bench/analysis_accuracy.py --folder DIR --tokens 2e6 --budget 4096

Writes the first --tokens tokens of a token-set folder (default: the one `analysis_throughput.py`
made) to a temporary token set, analyzes it with the default budgets (or --budget), and compares
every estimated figure with `snac_hf.analysis.reference`: each distinct n-gram / frame count in
standard errors of its k-minimum-values estimate, and each top-10 coverage against its stated
lower-bound interval. Prints a Markdown section for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import tempfile

import pyarrow.parquet as pq

from snac_hf.analysis import analyze
from snac_hf.analysis.reference import analyze_rows, read_rows
from snac_hf.layout import layout_for
from snac_hf.tokenset.schema import parquet_files, rows_to_table, shard_name, write_parquet

LAYOUT = layout_for("snac_24khz")


def estimated_figures(fast: dict, exact: dict) -> list[tuple[str, dict, dict]]:
    """(name, fast entry, exact entry) of every figure the fast path estimated."""
    pairs = []
    for k, (scale, truth) in enumerate(zip(fast["scales"], exact["scales"], strict=True)):
        for row, true_row in zip(scale["ngrams"], truth["ngrams"], strict=True):
            if not row["distinct_exact"] or row["top10_coverage_max_error"]:
                pairs.append((f"scale {k}, n = {row['n']}", row, true_row))
    frames = fast["cross_scale"]
    true_frames = exact["cross_scale"]
    entry = {
        "distinct": frames["distinct_frames"],
        "distinct_exact": frames["distinct_exact"],
        "distinct_relative_standard_error": frames["distinct_relative_standard_error"],
        "top10_coverage": frames["top10_frame_coverage"],
        "top10_coverage_max_error": frames["top10_coverage_max_error"],
    }
    truth = {
        "distinct": true_frames["distinct_frames"],
        "top10_coverage": true_frames["top10_frame_coverage"],
    }
    if not entry["distinct_exact"] or entry["top10_coverage_max_error"]:
        pairs.append(("frames", entry, truth))
    return pairs


def first_durations(folder: str, n_rows: int) -> list[float]:
    """The durations of a token-set folder's first `n_rows` files, in `read_rows`' order (the row
    checks every reader applies refuse codes under another file's duration)."""
    durations: list[float] = []
    for path in parquet_files(folder):
        durations += pq.read_table(path, columns=["duration"]).column("duration").to_pylist()
        if len(durations) >= n_rows:
            break
    return durations[:n_rows]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--folder", default="/tmp/snac_hf_bench_analysis/tokens_25M-v2")
    p.add_argument("--tokens", type=float, default=1e6)
    p.add_argument("--budget", type=int, default=None, help="distinct and heavy-hitter budget")
    args = p.parse_args()
    rows = read_rows(args.folder, max_tokens=int(args.tokens))
    durations = first_durations(args.folder, len(rows))
    options = {} if args.budget is None else {"distinct_budget": args.budget, "heavy_budget": args.budget}
    with tempfile.TemporaryDirectory() as folder:
        table = rows_to_table(
            [
                {"id": f"{i:07d}", "file_path": "", "duration": duration, "codes": row}
                for i, (row, duration) in enumerate(zip(rows, durations, strict=True))
            ],
            LAYOUT.n_scales,
        )
        write_parquet(table, f"{folder}/{shard_name(0, 1)}")
        fast = analyze(folder, layout=LAYOUT, **options)
    exact = analyze_rows(rows, codes_per_frame=LAYOUT.codes_per_frame)
    lines = [
        f"Estimates vs the exact reference on {fast['tokens']:,} tokens (budget {args.budget or 'default'}):",
        "",
        "| figure | distinct (est.) | distinct (exact) | error / s.e. | top-10 cov. (est.) | exact | bound |",
        "|---|---|---|---|---|---|---|",
    ]
    worst, outside = 0.0, 0
    for name, row, truth in estimated_figures(fast, exact):
        rse = row["distinct_relative_standard_error"]
        z = (row["distinct"] / truth["distinct"] - 1) / rse if rse else 0.0
        worst = max(worst, abs(z))
        low = row["top10_coverage"]
        inside = low <= truth["top10_coverage"] + 1e-12 <= low + row["top10_coverage_max_error"] + 2e-12
        outside += not inside
        lines.append(
            f"| {name} | {row['distinct']:,} | {truth['distinct']:,} | {z:+.2f} | {low:.5f} | "
            f"{truth['top10_coverage']:.5f} | {'inside' if inside else 'OUTSIDE'} "
            f"(+{row['top10_coverage_max_error']:.5f}) |"
        )
    lines += [
        "",
        f"Largest distinct-count error: {worst:.2f} standard errors; "
        f"coverages outside their bound: {outside}.",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
