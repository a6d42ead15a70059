"""Every BPE variant at every merge budget: trained on the train split, measured on held-out files.

For each (variant, merges) the tokenizer is trained on the train split (`snac_hf.bpe.training.
train_tokenizer` with the variant's default options, on at most `DEFAULT_MAX_TRAIN_CHARS` (20M)
symbols: files chosen by a salted hash beyond that, about 60 h of 24 kHz audio) and saved to
`tokenizers/<variant>-<merges>/`; `snac_hf.bpe.compare.evaluate` then encodes every held-out file,
decodes it back (round trip exact or not) and counts codes and tokens. One JSON record per pair
(`compression/<variant>-<merges>.json`) is written last, so a record means the tokenizer is
complete: an interrupted run redoes only the pairs without one. The raw codes are the same
measurement at 0 merges (one token per code). No torch.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from datasets import Dataset

from snac_hf.bpe.compare import evaluate
from snac_hf.bpe.tokenizer import load_tokenizer
from snac_hf.bpe.training import train_tokenizer
from snac_hf.layout import CodecLayout

logger = logging.getLogger(__name__)

TOKENIZERS_DIR, RECORDS_DIR = "tokenizers", "compression"


def tokenizer_name(variant: str, merges: int) -> str:
    return f"{variant}-{merges}"


def tokenizer_folder(output_dir: Path, variant: str, merges: int) -> Path:
    return output_dir / TOKENIZERS_DIR / tokenizer_name(variant, merges)


def measure_compression(
    train: Dataset,
    held_out: Dataset,
    layout: CodecLayout,
    variants: tuple[str, ...],
    budgets: tuple[int, ...],
    output_dir: Path,
    held_out_seconds: float,
    write: bool = True,
) -> list[dict]:
    """One row per (variant, merges) in that order, each loaded from its record or measured now.

    `write=False` (the non-main processes of a multi-process run) only reads the records the main
    process wrote."""
    rows = []
    for variant in variants:
        for merges in budgets:
            record = output_dir / RECORDS_DIR / f"{tokenizer_name(variant, merges)}.json"
            if record.is_file():
                rows.append(json.loads(record.read_text()))
                continue
            if not write:
                raise RuntimeError(f"{record} missing: the main process did not write it")
            row = _measure(train, held_out, layout, variant, merges, output_dir, held_out_seconds)
            record.parent.mkdir(parents=True, exist_ok=True)
            record.write_text(json.dumps(row, indent=2) + "\n")
            rows.append(row)
    return rows


def _measure(
    train: Dataset,
    held_out: Dataset,
    layout: CodecLayout,
    variant: str,
    merges: int,
    output_dir: Path,
    held_out_seconds: float,
) -> dict:
    started = time.perf_counter()
    folder = train_tokenizer(
        train,
        variant=variant,
        num_merges=merges,
        output_dir=tokenizer_folder(output_dir, variant, merges),
        layout=layout,  # trained on at most train-bpe's default 20M symbols (subsampled by file)
    )
    train_seconds = time.perf_counter() - started
    tokenizer = load_tokenizer(folder)
    measured = evaluate(tokenizer, held_out)
    logger.info(
        "%s %d merges: %d learned, %.3f codes/token on held-out files (train %.0f s)",
        variant, merges, tokenizer.num_merges, measured["codes_per_token"], train_seconds,
    )  # fmt: skip
    return {
        "variant": variant,
        "num_merges": merges,
        "merges_learned": tokenizer.num_merges,
        "vocab_size": tokenizer.vocab_size,
        "train_seconds": train_seconds,
        **measured,
        "tokens_per_second": measured["tokens"] / held_out_seconds,
        "tokenizer": str(folder.relative_to(output_dir)),
    }
