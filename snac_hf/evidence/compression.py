"""Every BPE variant at every merge budget: trained on the train split, measured on held-out files.

For each (variant, merges) the tokenizer is trained on the train split (`snac_hf.bpe.training.
train_tokenizer` with the variant's default options, on at most `DEFAULT_MAX_TRAIN_CHARS` (20M)
symbols: files chosen by a salted hash beyond that, about 60 h of 24 kHz audio) and saved to
`tokenizers/<variant>-<merges>/`; `snac_hf.bpe.compare.evaluate` then encodes every held-out file,
decodes it back (round trip exact or not) and counts codes and tokens. One JSON record per pair
(`compression/<variant>-<merges>.json`) is written last, so a record means the tokenizer is
complete: an interrupted run redoes only the pairs without one. The raw codes are the same
measurement at 0 merges (one token per code). No torch.

**Trusted only when they match.** A record is written atomically (temporary file, then rename)
and holds, besides the measurement, what it rests on under `run` (the token set's codes digest
and identity, the layout, the split, the variant and merges: `inputs`), the SHA-256 of its saved
tokenizer (`tokenizer_sha256`, `folder_digest`: what decides its ids) and a `fingerprint` of all
of that (`runs.fingerprint`). On resume every record is checked before it is used, and its
tokenizer folder against the recorded digest: a record that cannot be read, was made for other
inputs, was edited after it was written, or whose tokenizer was changed (one merge removed) is
refused, a `RecordError` of one line naming the file, nothing deleted. Records committed without
their tokenizers (bench/evidence/) resume: a missing tokenizer is trained again (training is
deterministic) and must match the recorded digest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path

from datasets import Dataset

from snac_hf.bpe.compare import evaluate
from snac_hf.bpe.tokenizer import load_tokenizer
from snac_hf.bpe.training import train_tokenizer
from snac_hf.evidence.fingerprint import canonical
from snac_hf.evidence.plan import variant_options
from snac_hf.evidence.runs import FINGERPRINT_KEY, REMEDY, RUN_KEY, RecordError, describe_change, fingerprint
from snac_hf.layout import CodecLayout
from snac_hf.tokenset.json_files import read_json_object

logger = logging.getLogger(__name__)

TOKENIZERS_DIR, RECORDS_DIR = "tokenizers", "compression"
TOKENIZER_DIGEST_KEY = "tokenizer_sha256"
#: What a compression record must hold besides `run`, its tokenizer digest and its fingerprint.
RECORD_FIELDS = ("variant", "num_merges", "merges_learned", "vocab_size", "codes_per_token", "tokenizer")


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
    inputs: dict | None = None,
) -> list[dict]:
    """One row per (variant, merges) in that order, each loaded from its record (checked, module
    docstring) or measured now. `inputs` is what every record rests on besides its variant and
    merges (`compression_inputs`; None: nothing but those).

    `write=False` (the non-main processes of a multi-process run) only reads the records the main
    process wrote."""
    rows = []
    for variant in variants:
        for merges in budgets:
            record = record_path(output_dir, variant, merges)
            run = compression_inputs(inputs or {}, variant, merges)
            if record.is_file():
                folder = tokenizer_folder(output_dir, variant, merges)
                if write and not folder.is_dir():  # records committed without their tokenizers: train again
                    _train(train, layout, variant, merges, output_dir)
                rows.append(check_compression_record(record, output_dir, run))
                continue
            if not write:
                raise RuntimeError(f"{record} missing: the main process did not write it")
            row = _measure(train, held_out, layout, variant, merges, output_dir, held_out_seconds)
            save_compression_record(record, output_dir, row, run)
            rows.append(row)
    return rows


def record_path(output_dir: Path, variant: str, merges: int) -> Path:
    return output_dir / RECORDS_DIR / f"{tokenizer_name(variant, merges)}.json"


def compression_inputs(inputs: dict, variant: str, merges: int) -> dict:
    """What the record of `variant` at `merges` rests on: `inputs` (codes, source, layout, split)
    with the variant and merges, as it reads back from JSON."""
    return json.loads(json.dumps({**inputs, "variant": variant, "merges": merges}))


def folder_digest(folder: Path) -> str:
    """SHA-256 of what decides a saved tokenizer's ids: `tokenizer.json` (vocabulary, merges,
    pre-tokenizer, specials) and the `codec_meta` of `tokenizer_config.json` (variant, options,
    layout, alphabet) less its `training` part (which holds wall seconds). Training is
    deterministic, so a tokenizer trained again on the same split gives the same digest."""
    digest = hashlib.sha256(b"snac_hf.evidence.tokenizer/1")
    digest.update(hashlib.sha256((folder / "tokenizer.json").read_bytes()).digest())
    meta = read_json_object(folder / "tokenizer_config.json", REMEDY).get("codec_meta", {})
    digest.update(canonical({k: v for k, v in meta.items() if k != "training"}).encode())
    return digest.hexdigest()


def save_compression_record(path: Path, output_dir: Path, row: dict, run: dict) -> None:
    """Write `row` with its inputs, its tokenizer's digest and a fingerprint, atomically."""
    content = {**row, RUN_KEY: run, TOKENIZER_DIGEST_KEY: folder_digest(output_dir / row["tokenizer"])}
    content[FINGERPRINT_KEY] = fingerprint(content)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(content, indent=2) + "\n")
    os.replace(partial, path)


def check_compression_record(path: Path, output_dir: Path, run: dict) -> dict:
    """The measurement in the record `path`, or a `RecordError` naming what does not match."""
    data = read_json_object(path, REMEDY)
    missing = [k for k in (*RECORD_FIELDS, RUN_KEY, TOKENIZER_DIGEST_KEY, FINGERPRINT_KEY) if k not in data]
    if missing:
        raise RecordError(
            f"{path}: not a complete compression record (no {', '.join(missing[:3])}); {REMEDY}"
        )
    if data[RUN_KEY] != run:
        change = describe_change(run, data[RUN_KEY]) if isinstance(data[RUN_KEY], dict) else "its run"
        raise RecordError(f"{path}: it was made for other inputs ({change}); {REMEDY}")
    try:
        expected = fingerprint({k: v for k, v in data.items() if k != FINGERPRINT_KEY})
    except ValueError:
        expected = None  # a non-finite number: no fingerprint matches it
    if data[FINGERPRINT_KEY] != expected:
        raise RecordError(
            f"{path}: it was edited after it was written (its fingerprint does not match its content); "
            + REMEDY
        )
    folder = output_dir / str(data["tokenizer"])
    complete = (folder / "tokenizer.json").is_file() and (folder / "tokenizer_config.json").is_file()
    if not complete or folder_digest(folder) != data[TOKENIZER_DIGEST_KEY]:
        state = "is missing" if not complete else "differs from the one its record was written with"
        raise RecordError(
            f"{folder}: the tokenizer of {path.name} {state} (its files do not match the record's "
            f"{TOKENIZER_DIGEST_KEY}); nothing was changed: remove the tokenizer and {path} to train it "
            "again, or give another --output_dir"
        )
    return {k: v for k, v in data.items() if k not in (RUN_KEY, TOKENIZER_DIGEST_KEY, FINGERPRINT_KEY)}


def _train(train: Dataset, layout: CodecLayout, variant: str, merges: int, output_dir: Path) -> Path:
    base, options = variant_options(variant)  # plain_w12: plain in windowed scale order
    return train_tokenizer(
        train,
        variant=base,
        num_merges=merges,
        output_dir=tokenizer_folder(output_dir, variant, merges),
        layout=layout,  # trained on at most train-bpe's default 20M symbols (subsampled by file)
        **options,
    )


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
    folder = _train(train, layout, variant, merges, output_dir)
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
