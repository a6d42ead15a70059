"""`snac-hf evidence` (`scripts/evidence.py`): which BPE variant serves an audio LM, on your tokens.

    snac-hf evidence --tokens TOKENS --output_dir evidence/ --preset cpu-small
    accelerate launch scripts/evidence.py --tokens TOKENS --output_dir evidence/ --preset gpu

Splits the token set (by a salted hash of the file id, or `--split_by speaker`), trains every BPE
variant at every merge budget and measures compression on the held-out files, trains the same
small LM along the merge curve (each serialization's raw codes, every variant at every
`--lm_merges` budget, the orpheus layout; every seed), then at the best budget and at 0 with more
seeds, longer, and on held-out voices (`--voices_by speaker`), and writes evidence.md,
evidence.json and evidence.png with a verdict that says only what the spread over seeds supports
(`snac_hf.evidence`). Rerun the same command after an interruption:
finished tokenizers and trainings are kept, each training's record checked first against the
token set's codes and the settings (a record copied from another run, or edited, is refused in
one line naming it; `snac_hf.evidence.runs`). A preset sets every size; flags override it. The
token set and --output_dir are checked before torch is imported; a user's mistake is one line,
exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace

from snac_hf.bpe.variants import VARIANTS
from snac_hf.cli.errors import run_command
from snac_hf.cli.parser import CommandParser
from snac_hf.evidence.settings import PRESETS, EvidenceSettings, preset
from snac_hf.lm.settings import SETTINGS

#: Flags that override a preset's LM budget and model, and the settings field each sets.
LM_FLAGS = ("steps", "batch_size", "context", "learning_rate")
MODEL_FLAGS = ("num_layers", "hidden_size", "num_heads")


def build_parser(prog: str = "scripts/evidence.py") -> argparse.ArgumentParser:
    parser = CommandParser(prog, description=__doc__.split("\n\n")[0] + "\n\n" + __doc__.split("\n\n")[1])
    parser.add_argument(
        "--tokens", required=True, help="token-set folder, save_to_disk folder, or Hub dataset"
    )
    parser.add_argument(
        "--split", default="train", help="the token set's split to use (default: train; held out from it)"
    )
    parser.add_argument("--output_dir", required=True, help="evidence.md/.json/.png, tokenizers/, runs/")
    parser.add_argument(
        "--preset",
        default="cpu-small",
        choices=list(PRESETS),
        help="sizes of the run (see snac_hf.evidence.settings)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an evidence run with other settings"
    )
    chosen = parser.add_argument_group("overrides of the preset")
    chosen.add_argument(
        "--variants", nargs="+", choices=list(VARIANTS), help="BPE variants (default: all six)"
    )
    chosen.add_argument("--budgets", nargs="+", type=int, help="merge budgets of the compression table")
    chosen.add_argument(
        "--lm_merges",
        nargs="+",
        type=int,
        help="the curve: merges the LMs train at, every variant (0 = raw codes)",
    )
    chosen.add_argument("--no_orpheus", action="store_true", help="leave out the orpheus baseline row")
    chosen.add_argument(
        "--windows",
        nargs="*",
        type=int,
        help="raw codes in windowed scale order, frames per window (85.3 ms each at 24 kHz); none: no "
        "flag value",
    )
    chosen.add_argument(
        "--checkpoints",
        nargs="*",
        type=int,
        help="steps after which each training is scored on the held-out split (none: only at the end)",
    )
    chosen.add_argument(
        "--seeds", nargs="+", type=int, help="LM seeds of the curve (3 or more for a verdict)"
    )
    chosen.add_argument(
        "--more_seeds",
        nargs="*",
        type=int,
        help="seeds added at the best budget and at 0 (none: no flag value)",
    )
    chosen.add_argument(
        "--longer", type=int, help="steps multiple of the longer training at the best budget and 0 (0: none)"
    )
    chosen.add_argument(
        "--voices_by",
        help="column of the held-out-voices split, required when named (presets: speaker, where the token "
        "set has it); none: no such split",
    )
    chosen.add_argument("--voices_share", type=float, help="least share of the audio in held-out voices")
    chosen.add_argument("--split_by", help="column whose values are held out together (e.g. speaker)")
    chosen.add_argument("--holdout", type=float, help="fraction of split keys held out")
    chosen.add_argument("--settings", nargs="+", choices=list(SETTINGS), help="LM budget settings")
    for name in LM_FLAGS:
        chosen.add_argument(f"--{name}", type=float if name == "learning_rate" else int)
    for name in MODEL_FLAGS:
        chosen.add_argument(f"--{name}", type=int)
    parser.add_argument("--num_threads", type=int, default=0, help="torch CPU threads; 0 = torch's choice")
    return parser


def settings_from(args: argparse.Namespace) -> EvidenceSettings:
    """The preset with every given flag applied."""
    base = preset(args.preset)
    model = replace(
        base.lm.model, **{f: getattr(args, f) for f in MODEL_FLAGS if getattr(args, f) is not None}
    )
    lm = replace(
        base.lm, model=model, **{f: getattr(args, f) for f in LM_FLAGS if getattr(args, f) is not None}
    )
    if args.settings:
        lm = replace(lm, settings=tuple(args.settings))
    if args.checkpoints is not None:
        lm = replace(lm, checkpoints=tuple(args.checkpoints))
    overrides = {
        "variants": tuple(args.variants) if args.variants else None,
        "budgets": tuple(args.budgets) if args.budgets else None,
        "lm_merges": tuple(args.lm_merges) if args.lm_merges else None,
        "orpheus": False if args.no_orpheus else None,
        "windows": tuple(args.windows) if args.windows is not None else None,
        "seeds": tuple(args.seeds) if args.seeds else None,
        "more_seeds": tuple(args.more_seeds) if args.more_seeds is not None else None,
        "longer": args.longer,
        "voices_share": args.voices_share,
        "split_by": args.split_by,
        "holdout": args.holdout,
    }
    settings = replace(base, lm=lm, **{k: v for k, v in overrides.items() if v is not None})
    if args.voices_by is not None:  # asked for by name: a token set without the column is refused
        voices_by = None if args.voices_by == "none" else args.voices_by
        settings = replace(settings, voices_by=voices_by, voices_optional=False)
    return settings


def check_inputs(args: argparse.Namespace, settings: EvidenceSettings) -> None:
    """Values that cannot work, then the token set and --output_dir exactly as `evaluate-lm`
    checks them (`snac_hf.cli.evaluate_lm.check_inputs`), before torch loads."""
    from snac_hf.cli import evaluate_lm

    if min(settings.budgets) < 1:
        raise ValueError("--budgets must be at least 1 merge (the raw codes are always included)")
    if min(settings.lm_merges) < 0 or len(set(settings.lm_merges)) != len(settings.lm_merges):
        raise ValueError(
            f"--lm_merges {list(settings.lm_merges)}: give distinct budgets of at least 0 merges "
            "(0 = raw codes)"
        )
    seeds = [*settings.seeds, *settings.more_seeds]
    if len(set(seeds)) != len(seeds):
        raise ValueError(
            f"--seeds {list(settings.seeds)} and --more_seeds {list(settings.more_seeds)} repeat a seed"
        )
    if settings.windows and (
        min(settings.windows) < 1 or len(set(settings.windows)) != len(settings.windows)
    ):
        raise ValueError(
            f"--windows {list(settings.windows)}: give distinct whole numbers of frames, at least 1"
        )
    checkpoints = settings.lm.checkpoints
    if checkpoints and (
        list(checkpoints) != sorted(set(checkpoints))
        or checkpoints[0] < 1
        or checkpoints[-1] != settings.lm.steps
    ):
        raise ValueError(
            f"--checkpoints {list(checkpoints)}: give ascending distinct steps of at least 1, the last one "
            f"--steps ({settings.lm.steps})"
        )
    if settings.longer < 0:
        raise ValueError(f"--longer {settings.longer}: give a steps multiple of at least 1, or 0 for none")
    if settings.lm.steps < 1 or settings.lm.batch_size < 1 or settings.lm.context < 8:
        raise ValueError("--steps and --batch_size must be at least 1 and --context at least 8")
    evaluate_lm.check_inputs(args)


def main(argv: list[str] | None = None, prog: str = "scripts/evidence.py") -> int:
    args = build_parser(prog).parse_args(argv)
    return run_command(lambda: evidence(args))


def evidence(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    check_inputs(args, settings)
    import torch

    from snac_hf.evidence.experiment import run_evidence
    from snac_hf.evidence.report import MARKDOWN_FILE, verdict_sentences

    if args.num_threads > 0:
        torch.set_num_threads(args.num_threads)
    main_process = os.environ.get("RANK", "0") == "0"  # under `accelerate launch`, one console voice
    logging.basicConfig(level=logging.INFO if main_process else logging.WARNING, format="%(message)s")
    for noisy in ("snac_hf.bpe", "datasets", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    report = run_evidence(
        args.tokens, args.output_dir, settings, overwrite=args.overwrite, token_split=args.split
    )
    if "verdict" in report:  # the main process
        for title, said in verdict_sentences(report):
            print(f"{title}:")
            for sentence in said:
                print(f"  {sentence}")
        print(f"wrote {os.path.join(args.output_dir, MARKDOWN_FILE)}, evidence.json, evidence.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(prog="python -m snac_hf.cli.evidence"))
