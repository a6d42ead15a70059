"""`scripts/evaluate_lm.py`: the same small LM on every tokenization, in bits per audio-second.

    python scripts/evaluate_lm.py --tokens TOKENS --variants plain rl cross_scale --num_merges 2000 \
        --output_dir lm_eval/
    accelerate launch scripts/evaluate_lm.py ...   # the same on GPUs (data-parallel training)

Writes lm_eval.md (the table), lm_eval.json (every number) and lm_eval.png (the plot) to
--output_dir, plus the tokenizers it trained; prints the table. The raw-codes baseline (0 merges,
--baseline order) is always included unless `--baseline none`. See `snac_hf.lm` for what is
measured and how the budgets are made equal. Exit status 2 for unusable arguments.
"""

from __future__ import annotations

import argparse
import logging
import sys

from snac_hf.bpe.variants import VARIANTS


def build_parser() -> argparse.ArgumentParser:
    from snac_hf.lm.settings import SETTINGS, EvaluationSettings, ModelSettings

    d, dm = EvaluationSettings(), ModelSettings()
    parser = argparse.ArgumentParser(
        prog="scripts/evaluate_lm.py", description="Bits per audio-second of a small LM for each BPE variant."
    )
    parser.add_argument("--tokens", required=True, help="token-set folder or load_dataset source")
    parser.add_argument(
        "--variants", nargs="+", default=["plain", "rl", "cross_scale"], choices=list(VARIANTS)
    )
    parser.add_argument(
        "--num_merges", nargs="+", type=int, default=[2000], help="one value, or one per variant"
    )
    parser.add_argument("--baseline", default=d.baseline, help="order of the raw-codes baseline, or 'none'")
    parser.add_argument("--output_dir", required=True)
    budget = parser.add_argument_group("budget")
    budget.add_argument("--steps", type=int, default=d.steps)
    budget.add_argument("--batch_size", type=int, default=d.batch_size, help="windows per step (per process)")
    budget.add_argument("--context", type=int, default=d.context, help="tokens per window of the baseline")
    budget.add_argument("--learning_rate", type=float, default=d.learning_rate)
    budget.add_argument("--settings", nargs="+", default=list(d.settings), choices=list(SETTINGS))
    model = parser.add_argument_group("model")
    model.add_argument("--num_layers", type=int, default=dm.num_layers)
    model.add_argument("--hidden_size", type=int, default=dm.hidden_size)
    model.add_argument("--num_heads", type=int, default=dm.num_heads)
    parser.add_argument(
        "--holdout", type=float, default=d.holdout, help="fraction of files held out (by id hash)"
    )
    parser.add_argument("--generation_tokens", type=int, default=d.generation_tokens)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument(
        "--num_threads",
        type=int,
        default=0,
        help="torch CPU threads (0: torch's default; 1 is faster for tiny models)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if len(args.num_merges) not in (1, len(args.variants)):
        parser.error(
            f"--num_merges takes one value or one per variant ({len(args.variants)}), got {args.num_merges}"
        )
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
    try:
        report = evaluate_tokenizations(
            args.tokens, args.variants, args.num_merges, settings, args.output_dir
        )
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(markdown_table(report))
    print(f"wrote {args.output_dir}/lm_eval.md, lm_eval.json, lm_eval.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
