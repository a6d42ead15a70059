"""`snac-hf train-bpe`: train one BPE variant into a tokenizer folder (no torch).

    snac-hf train-bpe --tokens TOKEN_SET --variant rl --num_merges 8000 --output_dir tok/

The work is `snac_hf.bpe.training.train_tokenizer`; this module is its flags.
"""

from __future__ import annotations

import argparse
import logging
import sys

from snac_hf.bpe.corpus import DEFAULT_MAX_TRAIN_CHARS
from snac_hf.bpe.training import train_tokenizer
from snac_hf.bpe.variant import DEFAULT_MAX_RUN
from snac_hf.bpe.variants import VARIANTS
from snac_hf.cli.errors import run_command
from snac_hf.cli.parser import CommandParser
from snac_hf.layout import layout_for


def codec_name(text: str) -> str:
    """`--codec`'s value when it names a published SNAC model (`snac_24khz` ...), else a usage error."""
    try:
        layout_for(text)
    except KeyError as error:
        raise argparse.ArgumentTypeError(error.args[0]) from None
    return text


def build_parser(prog: str = "scripts/train_bpe.py") -> argparse.ArgumentParser:
    parser = CommandParser(
        prog,
        description="Train a BPE variant over SNAC code symbols; save it as a Hugging Face tokenizer folder.",
    )
    parser.add_argument(
        "--tokens",
        required=True,
        help="token-set folder, save_to_disk folder, Parquet file/glob, or Hub dataset name",
    )
    parser.add_argument("--variant", choices=list(VARIANTS), default="plain", help="BPE variant (README.md)")
    parser.add_argument("--num_merges", type=int, default=8000, help="merges to learn")
    parser.add_argument(
        "--min_frequency",
        type=int,
        default=None,
        help="fewest occurrences of a pair to merge (default: 100 for thresholded, else 2)",
    )
    parser.add_argument("--output_dir", required=True, help="the tokenizer folder to write")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a tokenizer with other settings in --output_dir, or write into a token-set folder",
    )
    parser.add_argument(
        "--max_train_chars",
        type=int,
        default=DEFAULT_MAX_TRAIN_CHARS,
        help="train on at most this many codes (~145 bytes of RAM each); 0 = no limit",
    )
    parser.add_argument(
        "--max_run",
        type=int,
        default=None,
        help=f"rl variants: longest run symbol (default: {DEFAULT_MAX_RUN})",
    )
    parser.add_argument(
        "--span_frames",
        action="store_true",
        default=None,
        help="frame-based variants: let merges cross frames",
    )
    parser.add_argument(
        "--stage1_merges",
        type=int,
        default=None,
        help="hierarchical: merges of stage 1 (default: half of --num_merges)",
    )
    parser.add_argument("--split", default="train", help="the token set's split to train on (default: train)")
    parser.add_argument(
        "--codec",
        type=codec_name,
        default=None,
        help="codec when the token set has no metadata.json and cannot be inferred (snac_24khz ...)",
    )
    return parser


def main(argv: list[str] | None = None, prog: str = "scripts/train_bpe.py") -> int:
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return run_command(lambda: _train(args))


def _train(args: argparse.Namespace) -> int:
    train_tokenizer(
        args.tokens,
        variant=args.variant,
        num_merges=args.num_merges,
        min_frequency=args.min_frequency,
        output_dir=args.output_dir,
        max_train_chars=args.max_train_chars or None,
        layout=args.codec,
        max_run=args.max_run,
        span_frames=args.span_frames,
        stage1_merges=args.stage1_merges,
        overwrite=args.overwrite,
        split=args.split,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(prog="python -m snac_hf.cli.train_bpe"))
