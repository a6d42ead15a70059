"""`snac-hf offline-model` (`scripts/make_offline_model.py`): build a SNAC model folder without the Hub.

snac-hf offline-model                       # fitted model into the cache (reused if there); prints its path
snac-hf offline-model --out DIR             # ... into DIR (seconds: committed codebooks)
snac-hf offline-model --random --out DIR    # seeded-random weights (degenerate codes)
snac-hf offline-model --refit --out DIR [--save_codebooks FILE]   # fit the codebooks again (minutes)

A refit needs real speech (--audio_dir, checked before anything is built). Exit status 2 for unusable
arguments, in one line (`snac_hf.cli.errors`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from snac_hf.cli.errors import run_command
from snac_hf.cli.parser import CommandParser
from snac_hf.codec.codebook_fit import (
    build_committed_model,
    build_fitted_model,
    bundled_speech_files,
    ensure_offline_model,
    save_codebooks,
)
from snac_hf.codec.model_folder import DEFAULT_MODEL
from snac_hf.codec.offline import build_random_model

REPO_SPEECH = Path(__file__).resolve().parents[2] / "tests" / "data" / "speech"
DEFAULT_ITERATIONS = 25


def build_parser(prog: str = "scripts/make_offline_model.py") -> argparse.ArgumentParser:
    parser = CommandParser(
        prog, description="Build a SNAC model folder offline (see snac_hf/codec/codebook_fit.py)."
    )
    parser.add_argument("--out", help="model folder to write (default: the snac_hf cache, reused if present)")
    parser.add_argument("--random", action="store_true", help="seeded-random weights, no fitting")
    parser.add_argument(
        "--refit", action="store_true", help="fit the codebooks to --audio_dir instead of the committed ones"
    )
    parser.add_argument("--save_codebooks", help="with --refit: also write the fitted codebooks (.npy) here")
    parser.add_argument("--audio_dir", default=str(REPO_SPEECH), help="real speech to fit on (--refit)")
    parser.add_argument("--no_synthesis", action="store_true", help="do not add espeak-ng speech to the fit")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="architecture")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS, help="k-means iterations")
    return parser


def main(argv: list[str] | None = None, prog: str = "scripts/make_offline_model.py") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    fit_flags = args.no_synthesis or args.iterations != DEFAULT_ITERATIONS or args.save_codebooks
    if fit_flags and not args.refit:
        parser.error("--no_synthesis/--iterations/--save_codebooks are settings of a fit: add --refit")
    if args.refit and (args.out is None or args.random):
        parser.error("--refit needs --out DIR (the cache holds the committed build) and no --random")
    if args.model != DEFAULT_MODEL and not (args.random or args.refit):
        parser.error("committed codebooks exist for 24 kHz only: add --refit (or --random) and --out DIR")
    if args.out is None and args.model != DEFAULT_MODEL:
        parser.error("--model needs --out (the cache holds the default architecture)")
    return run_command(lambda: build(args))


def build(args: argparse.Namespace) -> int:
    """Check --audio_dir and --out when they will be used, build (or find) the folder, print its path."""
    started = time.perf_counter()
    kind = "random" if args.random else "fitted"
    if args.out is not None and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise NotADirectoryError(f"--out {args.out} is a file; give the path of a folder")
    if args.refit and not os.path.isdir(args.audio_dir):
        raise FileNotFoundError(
            f"--audio_dir {args.audio_dir}: no such folder (the real speech the codebooks are fit to; "
            "tests/data/speech of a snac_hf checkout)"
        )
    if args.out is None:
        path = ensure_offline_model(kind, args.audio_dir, args.seed)
    elif args.random:
        path = build_random_model(args.out, args.model, args.seed)
    elif args.refit:
        files = bundled_speech_files(args.audio_dir)
        path = build_fitted_model(
            args.out, files, not args.no_synthesis, args.model, args.seed, args.iterations
        )
        if args.save_codebooks:
            digest = save_codebooks(path, args.save_codebooks)
            print(f"codebooks: {args.save_codebooks} (sha256 {digest})")
    elif args.seed != 0:
        raise ValueError("--seed other than 0 has no committed codebooks: add --refit")
    else:
        path = build_committed_model(args.out)
    print(f"{kind} SNAC model folder: {path} ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(prog="python -m snac_hf.cli.make_offline_model"))
