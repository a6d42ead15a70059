"""`snac-hf evaluate-lm` (`scripts/evaluate_lm.py`): the same small LM on every tokenization, in bits
per audio-second.

    snac-hf evaluate-lm --tokens TOKENS --variants plain rl cross_scale --num_merges 2000 \
        --output_dir lm_eval/
    accelerate launch scripts/evaluate_lm.py ...   # the same on GPUs (data-parallel training)

Writes lm_eval.md (the table), lm_eval.json (every number) and lm_eval.png (the plot) to
--output_dir, plus the tokenizers it trained; prints the table. The raw-codes baseline (0 merges,
--baseline order) is always included unless `--baseline none`. See `snac_hf.lm` for what is
measured and how the budgets are made equal. The token set and --output_dir are checked before
torch is imported. Exit status 2 for unusable arguments or inputs, in one line (`snac_hf.cli.errors`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from snac_hf.bpe.variants import VARIANTS
from snac_hf.cli.errors import run_command
from snac_hf.cli.parser import CommandParser


def build_parser(prog: str = "scripts/evaluate_lm.py") -> argparse.ArgumentParser:
    from snac_hf.bpe.corpus import DEFAULT_HOLDOUT
    from snac_hf.lm.settings import SETTINGS, EvaluationSettings, ModelSettings

    d, dm = EvaluationSettings(), ModelSettings()
    parser = CommandParser(prog, description="Bits per audio-second of a small LM for each BPE variant.")
    parser.add_argument(
        "--tokens", required=True, help="token-set folder, save_to_disk folder, or Hub dataset name"
    )
    parser.add_argument(
        "--split", default="train", help="the token set's split to use (default: train; held out from it)"
    )
    parser.add_argument(
        "--variants", nargs="+", default=["plain", "rl", "cross_scale"], choices=list(VARIANTS)
    )
    parser.add_argument(
        "--num_merges", nargs="+", type=int, default=[2000], help="one value, or one per variant"
    )
    parser.add_argument("--baseline", default=d.baseline, help="order of the raw-codes baseline, or 'none'")
    parser.add_argument("--output_dir", required=True, help="lm_eval.md/.json/.png and tokenizers/")
    budget = parser.add_argument_group("budget")
    budget.add_argument("--steps", type=int, default=d.steps, help="training steps per model")
    budget.add_argument("--batch_size", type=int, default=d.batch_size, help="windows per step (per process)")
    budget.add_argument("--context", type=int, default=d.context, help="tokens per window of the baseline")
    budget.add_argument("--learning_rate", type=float, default=d.learning_rate)
    budget.add_argument("--settings", nargs="+", default=list(d.settings), choices=list(SETTINGS))
    model = parser.add_argument_group("model")
    model.add_argument("--num_layers", type=int, default=dm.num_layers)
    model.add_argument("--hidden_size", type=int, default=dm.hidden_size)
    model.add_argument("--num_heads", type=int, default=dm.num_heads)
    parser.add_argument(
        "--holdout",
        type=float,
        default=DEFAULT_HOLDOUT,
        help="fraction of files held out, by id hash (the same files as compare-bpe's)",
    )
    parser.add_argument("--generation_tokens", type=int, default=d.generation_tokens)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument(
        "--num_threads",
        type=int,
        default=0,
        help="torch CPU threads; 0 = torch's choice, 1 is faster for tiny models",
    )
    return parser


def main(argv: list[str] | None = None, prog: str = "scripts/evaluate_lm.py") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if len(args.num_merges) not in (1, len(args.variants)):
        parser.error(
            f"--num_merges takes one value or one per variant ({len(args.variants)}), got {args.num_merges}"
        )
    return run_command(lambda: evaluate(args))


def check_inputs(args: argparse.Namespace) -> None:
    """The token set opens (`open_source`) and --output_dir is a folder that holds no token set."""
    from snac_hf.bpe.corpus import open_source
    from snac_hf.tokenset.schema import token_set_marker

    open_source(args.tokens, args.split)
    if os.path.exists(args.output_dir) and not os.path.isdir(args.output_dir):
        raise NotADirectoryError(f"--output_dir {args.output_dir} is a file; give the path of a folder")
    marker = token_set_marker(args.output_dir) if os.path.isdir(args.output_dir) else None
    if marker is not None:
        raise ValueError(
            f"--output_dir {args.output_dir} holds a token set or dataset ({marker}); give another folder"
        )


def evaluate(args: argparse.Namespace) -> int:
    """Check the inputs (before torch loads), evaluate every tokenization, print the table."""
    check_inputs(args)
    import torch

    from snac_hf.lm.experiment import evaluate_tokenizations
    from snac_hf.lm.report import markdown_table
    from snac_hf.lm.settings import EvaluationSettings, ModelSettings

    if args.num_threads > 0:
        torch.set_num_threads(args.num_threads)

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("snac_hf.bpe", "datasets", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings = EvaluationSettings(
        model=ModelSettings(args.num_layers, args.hidden_size, args.num_heads),
        steps=args.steps,
        batch_size=args.batch_size,
        context=args.context,
        learning_rate=args.learning_rate,
        holdout=args.holdout,
        baseline=None if args.baseline.lower() == "none" else args.baseline,
        settings=tuple(args.settings),
        generation_tokens=args.generation_tokens,
        seed=args.seed,
    )
    report = evaluate_tokenizations(
        args.tokens, args.variants, args.num_merges, settings, args.output_dir, split=args.split
    )
    print(markdown_table(report))
    print(f"wrote {args.output_dir}/lm_eval.md, lm_eval.json, lm_eval.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(prog="python -m snac_hf.cli.evaluate_lm"))
