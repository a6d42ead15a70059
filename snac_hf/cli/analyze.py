"""`snac-hf analyze` (`scripts/analyze.py`): token statistics and the BPE-potential report.

    snac-hf analyze --output_dir DIR                 # a token set; reports go into DIR
    snac-hf analyze --tokens 'DIR/data/*.parquet' --report_dir OUT
    snac-hf analyze --tokens SAVED --report_dir OUT  # a save_to_disk folder
    snac-hf analyze --tokens user/dataset --report_dir OUT --num_proc 4

Across machines: each runs `--tokens SHARE --save_partial part_i.npz`; then
`--merge_partials part_*.npz --report_dir OUT` writes the report of the whole.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

from snac_hf.analysis.api import count_source, summarize_counted, write_card_section, write_reports
from snac_hf.analysis.console import console_report
from snac_hf.analysis.partial import AnalysisConfig
from snac_hf.analysis.saved_partial import merge_partials, save_partial
from snac_hf.cli.errors import run_command
from snac_hf.cli.parser import CommandParser
from snac_hf.tokenset.hub import is_repo_id


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parser(prog: str = "scripts/analyze.py") -> argparse.ArgumentParser:
    p = CommandParser(prog, description=__doc__)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--output_dir", help="a token-set folder (as written by tokenize); reports are written into it"
    )
    where.add_argument("--tokens", help="a token-set folder, a Parquet file or glob, or a load_dataset name")
    where.add_argument(
        "--merge_partials", nargs="+", metavar="NPZ", help="merge partials saved with --save_partial"
    )
    p.add_argument("--report_dir", help="where to write the reports (default: the token-set folder)")
    p.add_argument(
        "--split",
        default="train",
        help="the split of a token-set folder or dataset name to analyze (default: train; another split "
        "needs --report_dir: a set's own reports describe its train split)",
    )
    p.add_argument(
        "--save_partial", metavar="NPZ", help="also save the partial counts, to merge with others later"
    )
    p.add_argument("--num_proc", type=_positive, default=1, help="worker threads")
    p.add_argument("--no_plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--quiet", action="store_true", help="no console report or progress bar")
    p.add_argument("--max_n", type=_positive, default=7, help="longest n-gram for the diversity table")
    p.add_argument(
        "--ngram_exact_budget",
        type=int,
        default=AnalysisConfig.distinct_budget,
        help="distinct n-grams counted exactly per scale and n; beyond: KMV estimate",
    )
    p.add_argument(
        "--heavy_hitter_budget",
        type=int,
        default=AnalysisConfig.heavy_budget,
        help="Misra-Gries counters per scale and n for top-10 coverage",
    )
    return p


def _missing_path(source: str) -> bool:
    """Whether `source` can only be a local path (not a glob, not a Hub name) and does not exist."""
    return not (os.path.exists(source) or glob.has_magic(source) or is_repo_id(source))


def _report_dir(args: argparse.Namespace) -> str | None:
    if args.report_dir:
        return args.report_dir
    folder = args.output_dir or args.tokens
    if folder and os.path.isdir(folder):
        return folder
    return None


def main(argv: list[str] | None = None, prog: str = "scripts/analyze.py") -> int:
    p = parser(prog)
    args = p.parse_args(argv)
    if args.output_dir and not os.path.isdir(args.output_dir):
        p.error(f"--output_dir {args.output_dir}: no such token-set folder")
    if args.tokens and _missing_path(args.tokens):
        p.error(f"--tokens {args.tokens}: no such file or folder")
    if args.split != "train" and not args.report_dir and not args.save_partial:
        p.error(f"--split {args.split}: give --report_dir (a token set's own reports are of its train split)")
    report_dir = _report_dir(args)
    if report_dir is None and not args.save_partial:
        p.error("--report_dir is needed unless the source is a token-set folder (or use --save_partial)")
    return run_command(lambda: run(args, report_dir))  # a missing, damaged or unreachable input: one line


def run(args: argparse.Namespace, report_dir: str | None) -> int:
    """Count (or merge), save the partial, write the reports: what `main` does with valid arguments."""
    if args.merge_partials:
        counted = merge_partials(args.merge_partials)
    else:
        counted = count_source(
            args.output_dir or args.tokens,
            num_proc=args.num_proc,
            max_n=args.max_n,
            distinct_budget=args.ngram_exact_budget,
            heavy_budget=args.heavy_hitter_budget,
            progress=not args.quiet,
            split=args.split,
        )
    if args.save_partial:
        save_partial(counted, args.save_partial)
    if report_dir is None:
        return 0
    analysis = summarize_counted(counted, args.num_proc)
    write_reports(analysis, report_dir, plots=not args.no_plots)
    if args.output_dir and args.split == "train":  # the token set's own card gets the summary
        write_card_section(analysis, args.output_dir, report_dir)
    if not args.quiet:
        print(console_report(analysis))
    print(f"reports written to {report_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(prog="python -m snac_hf.cli.analyze"))
