"""`scripts/make_offline_model.py`: build a SNAC model folder without the Hub.

python scripts/make_offline_model.py                 # fitted model into the cache; prints its path
python scripts/make_offline_model.py --out DIR       # ... into DIR
python scripts/make_offline_model.py --random --out DIR   # seeded-random weights (degenerate codes)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from snac_hf.codebook_fit import build_fitted_model, bundled_speech_files, ensure_offline_model
from snac_hf.codec import DEFAULT_MODEL
from snac_hf.offline_model import build_random_model

REPO_SPEECH = Path(__file__).resolve().parents[2] / "tests" / "data" / "speech"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/make_offline_model.py", description=__doc__.split("\n")[0])
    parser.add_argument("--out", help="model folder to write (default: the snac_hf cache, reused if present)")
    parser.add_argument("--random", action="store_true", help="seeded-random weights, no fitting")
    parser.add_argument(
        "--audio_dir", default=str(REPO_SPEECH), help="real speech to fit on (default: %(default)s)"
    )
    parser.add_argument("--no_synthesis", action="store_true", help="do not add espeak-ng speech to the fit")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="architecture (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--iterations", type=int, default=25, help="k-means iterations (default: 25)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    kind = "random" if args.random else "fitted"
    if args.out is None:
        if args.model != DEFAULT_MODEL or args.no_synthesis or args.iterations != 25:
            parser.error("--model/--no_synthesis/--iterations need --out (the cache holds the default build)")
        path = ensure_offline_model(kind, args.audio_dir, args.seed)
    elif args.random:
        path = build_random_model(args.out, args.model, args.seed)
    else:
        files = bundled_speech_files(args.audio_dir)
        path = build_fitted_model(
            args.out, files, not args.no_synthesis, args.model, args.seed, args.iterations
        )
    print(f"{kind} SNAC model folder: {path} ({time.perf_counter() - started:.0f} s)")
    return 0
