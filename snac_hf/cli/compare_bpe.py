"""`snac-hf compare-bpe`: every BPE variant at the same budgets, measured on held-out files.

    snac-hf compare-bpe --tokens TOKEN_SET --num_merges 0 1000 4000 16000 --output_dir cmp/

The work is `snac_hf.bpe.compare.compare`; this module is its flags and console output.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from snac_hf.bpe.compare import DEFAULT_BUDGETS, compare
from snac_hf.bpe.corpus import DEFAULT_HOLDOUT, DEFAULT_MAX_TRAIN_CHARS
from snac_hf.bpe.destination import check_comparison_destination
from snac_hf.bpe.variant import DEFAULT_MAX_RUN
from snac_hf.bpe.variants import VARIANTS
from snac_hf.cli.errors import run_command
from snac_hf.cli.parser import CommandParser
from snac_hf.cli.train_bpe import codec_name


def main(argv: list[str] | None = None, prog: str = "scripts/compare_bpe.py") -> int:
    """`snac-hf compare-bpe`: check the destination (`check_comparison_destination`), compare, print
    comparison.md, and (with --annotate_tokens) say which files of the token set got the measured
    compression."""
    parser = CommandParser(
        prog, description="Train every BPE variant at the same budgets; compare them on held-out files."
    )
    parser.add_argument(
        "--tokens",
        required=True,
        help="token-set folder, save_to_disk folder, Parquet file/glob, or Hub dataset name",
    )
    parser.add_argument(
        "--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS), help="variants to compare"
    )
    parser.add_argument(
        "--num_merges", nargs="+", type=int, default=list(DEFAULT_BUDGETS), help="merge budgets, each variant"
    )
    parser.add_argument(
        "--holdout",
        type=float,
        default=DEFAULT_HOLDOUT,
        help="fraction of files held out, by id hash (the same files as evaluate-lm's)",
    )
    parser.add_argument("--output_dir", required=True, help="comparison.md/.json/.png and tokenizers/")
    parser.add_argument(
        "--annotate_tokens",
        action="store_true",
        help="also state the measured compression in the token set's own analysis.md, analysis.json and "
        "card (a token-set folder; without this flag the token set is only read)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace tokenizers with other settings in --output_dir/tokenizers, or write into a token set",
    )
    parser.add_argument(
        "--min_frequency", type=int, default=None, help="threshold of the thresholded variant (default: 100)"
    )
    parser.add_argument(
        "--max_train_chars", type=int, default=DEFAULT_MAX_TRAIN_CHARS, help="codes to train on; 0 = no limit"
    )
    parser.add_argument(
        "--max_run",
        type=int,
        default=None,
        help=f"run-length variants: longest run symbol (default: {DEFAULT_MAX_RUN})",
    )
    parser.add_argument(
        "--span_frames", action="store_true", default=None, help="frame-based variants: merges cross frames"
    )
    parser.add_argument(
        "--codec", type=codec_name, default=None, help="codec when the token set has no metadata.json"
    )
    parser.add_argument("--split", default="train", help="the token set's split to compare (default: train)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    options = {"min_frequency": args.min_frequency, "max_run": args.max_run, "span_frames": args.span_frames}
    folder = Path(args.tokens) if os.path.isdir(args.tokens) else None
    watched = [folder / name for name in ("analysis.md", "analysis.json", "README.md")] if folder else []

    def run() -> int:
        check_comparison_destination(
            args.output_dir,
            args.tokens,
            args.variants,
            args.num_merges,
            **options,
            layout=args.codec,
            overwrite=args.overwrite,
            split=args.split,
        )
        before = {path: path.stat().st_mtime_ns for path in watched if path.is_file()}
        compare(
            args.tokens,
            args.output_dir,
            variants=args.variants,
            num_merges=args.num_merges,
            holdout=args.holdout,
            max_train_chars=args.max_train_chars or None,
            layout=args.codec,
            split=args.split,
            annotate=args.annotate_tokens,
            **options,
        )
        print((Path(args.output_dir) / "comparison.md").read_text())
        changed = [str(p) for p in watched if p.is_file() and before.get(p) != p.stat().st_mtime_ns]
        if changed:
            print(f"updated {', '.join(changed)}: the measured compression, next to the heuristic verdict")
        return 0

    return run_command(run)


if __name__ == "__main__":
    sys.exit(main(prog="python -m snac_hf.cli.compare_bpe"))
