"""One small LM per tokenization, trained under equal budgets, measured on a held-out split.

Two budget settings, both reported:

- `equal_audio` (same audio-seconds seen): every step holds `batch_size` windows of the same
  *audio duration* `window_seconds` (= `context` tokens of the raw-codes baseline, or of the
  tokenization with the most tokens per second when there is no baseline); a tokenization with
  fewer tokens per audio-second has shorter windows, i.e. fewer tokens per step. Same steps, so
  the same audio-seconds seen by every model. Held-out windows have the same duration.
- `equal_steps` (same optimizer steps and tokens per step): windows of `context` tokens for all;
  a tokenization with fewer tokens per second sees more audio in those steps.

The window length in tokens of a tokenization is `settings.equal_audio_window`: `max(8,
round(window_seconds * tokens per audio-second of its train split))`. The model, seed,
learning-rate schedule and held-out files are the same for all. Models with the same
tokenization, window and steps are trained once (the baseline is identical in both settings).

The report also holds the uniform and unigram reference levels (`references.py`), computed from
the codes of the same train / held-out split, and the token set's codec (its metadata.json).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path

import torch

from snac_hf.bpe.corpus import open_source, resolve_layout, split_by_id
from snac_hf.lm.measure import generation_speed, held_out_nll
from snac_hf.lm.model import build_model, parameter_counts
from snac_hf.lm.references import reference_levels
from snac_hf.lm.report import describe_data, plot_results, write_markdown
from snac_hf.lm.sequences import Tokenization, make_tokenization
from snac_hf.lm.settings import SETTINGS, EvaluationSettings, equal_audio_window
from snac_hf.lm.train import Budget, make_accelerator, train_model
from snac_hf.tokenset.schema import read_metadata

logger = logging.getLogger(__name__)

RESULTS_FILE = "lm_eval.json"
TABLE_FILE = "lm_eval.md"
PLOT_FILE = "lm_eval.png"


def evaluate_tokenizations(
    source: str | os.PathLike,
    variants: list[str],
    num_merges: list[int],
    settings: EvaluationSettings,
    output_dir: str | os.PathLike,
    split: str = "train",
) -> dict:
    """Train and measure every tokenization of the token set's `split` (its files are split again
    into train and held out); write lm_eval.{json,md,png} to `output_dir`.

    `num_merges` holds one value for all variants or one per variant; a row whose tokenizer learned
    fewer merges than asked is named with both (`plain (99/2,000 merges)`). The report's `data` names the
    codec from `source`'s metadata.json (when it is a token-set folder); `references` holds the
    uniform and unigram levels of the held-out split.
    """
    if len(num_merges) not in (1, len(variants)):
        raise ValueError(
            f"--num_merges takes one value or one per variant ({len(variants)}), got {num_merges}"
        )
    unknown = [s for s in settings.settings if s not in SETTINGS]
    if unknown:
        raise ValueError(f"unknown budget setting(s) {unknown}; known: {', '.join(SETTINGS)}")
    merges = num_merges * len(variants) if len(num_merges) == 1 else num_merges
    output = Path(output_dir)
    dataset, folder = open_source(str(source), split)
    layout = resolve_layout(dataset, folder, None)
    train_set, held_out_set = split_by_id(dataset, settings.holdout)
    if len(train_set) == 0 or len(held_out_set) == 0:
        raise ValueError(
            f"holdout {settings.holdout} leaves {len(train_set)} train and {len(held_out_set)} held-out files"
        )
    accelerator = make_accelerator()
    plan = [(f"{v} ({m} merges)", v, m) for v, m in zip(variants, merges, strict=True)]
    if settings.baseline:
        plan.insert(0, (f"raw codes ({settings.baseline} order, 0 merges)", settings.baseline, 0))
    tokenizations: list[Tokenization] = []
    with accelerator.main_process_first():  # the main process trains and saves, the others load
        for i, (name, variant, m) in enumerate(plan):
            logger.info("tokenizer %s", name)
            tokenizer_dir = output / "tokenizers" / f"{i}_{variant}_{m}"
            load_saved = not accelerator.is_main_process
            made = make_tokenization(
                name, variant, m, train_set, held_out_set, layout, tokenizer_dir, load_saved
            )
            if made.tokenizer.num_merges != m:  # training stopped early: say learned / requested
                made.name = f"{variant} ({made.tokenizer.num_merges:,}/{m:,} merges)"
            tokenizations.append(made)
    reference = (
        tokenizations[0] if settings.baseline else max(tokenizations, key=lambda t: t.train.tokens_per_second)
    )
    window_seconds = settings.context / reference.train.tokens_per_second

    rows, trained = [], {}
    for setting in settings.settings:
        for t in tokenizations:
            window = settings.context
            if setting == "equal_audio":
                window = equal_audio_window(window_seconds, t.train.tokens_per_second)
            key = (t.name, window)
            reused = key in trained
            if not reused:
                trained[key] = measure_one(t, window, settings, accelerator)
            rows.append({"setting": setting, **trained[key], "same_model_as_other_setting": reused})
    held_out_seconds = tokenizations[0].held_out.seconds
    report = {
        "data": describe_data(
            dataset, train_set, held_out_set, read_metadata(folder) if folder else None, split
        ),
        "settings": {**settings.to_dict(), "window_seconds_equal_audio": window_seconds},
        "references": reference_levels(train_set, held_out_set, layout, held_out_seconds),
        "results": rows,
    }
    if accelerator.is_main_process:
        output.mkdir(parents=True, exist_ok=True)
        (output / RESULTS_FILE).write_text(json.dumps(report, indent=2) + "\n")
        write_markdown(report, output / TABLE_FILE)
        plot_results(report, output / PLOT_FILE)
    return report


def score_held_out(model, t: Tokenization, window: int, accelerator) -> dict:
    """{"nats", "bits", "tokens"} of the held-out split, every process scoring its share."""
    nll = held_out_nll(
        model, t.held_out.sequences, window, t.tokenizer.pad_token_id,
        part=(accelerator.process_index, accelerator.num_processes),
    )  # fmt: skip
    if accelerator.num_processes > 1:  # every process scored its share of the windows: add them up
        totals = torch.tensor([nll["nats"], nll["tokens"]], dtype=torch.float64, device=accelerator.device)
        nats, tokens = accelerator.reduce(totals, "sum").tolist()
        nll = {"nats": nats, "bits": nats / math.log(2), "tokens": int(round(tokens))}
    return nll


def measure_one(t: Tokenization, window: int, settings: EvaluationSettings, accelerator) -> dict:
    """Train one model on `t` with windows of `window` tokens; measure it on the held-out split.

    With `settings.checkpoints`, the held-out split is also scored after each of those steps (the
    last one is the end of training): the record's `checkpoints` holds, per checkpoint, `steps`,
    `tokens_seen`, `audio_seconds_seen`, `train_seconds` (so far), `held_out_bits` and
    `bits_per_second`; the record's other numbers are the end's."""
    started = time.perf_counter()
    budget = Budget(settings.steps, settings.batch_size, window, settings.learning_rate)
    model = build_model(t.tokenizer.vocab_size, settings.model, t.special_ids, settings.seed)
    params = parameter_counts(model)
    curve: list[dict] = []
    processes = accelerator.num_processes

    def at_checkpoint(steps: int, checkpoint_model, train_seconds: float) -> None:
        nll = score_held_out(checkpoint_model, t, window, accelerator)
        tokens = steps * settings.batch_size * processes * window
        curve.append(
            {
                "steps": steps,
                "tokens_seen": tokens,
                "audio_seconds_seen": tokens / t.train.tokens_per_second,
                "train_seconds": train_seconds,
                "held_out_bits": nll["bits"],
                "bits_per_second": nll["bits"] / t.held_out.seconds,
            }
        )

    checkpoints = tuple(c for c in settings.checkpoints if c < settings.steps)  # the end is scored below
    trained = train_model(
        model, t.train.stream(), budget, settings.seed, accelerator, checkpoints, at_checkpoint
    )
    model = trained.pop("model")
    nll = score_held_out(model, t, window, accelerator)
    prompt = [t.tokenizer.bos_token_id, t.tokenizer.audio_start_token_id]
    new_tokens = max(1, min(settings.generation_tokens, window - len(prompt)))
    speed = generation_speed(model, prompt, new_tokens, t.held_out.tokens_per_second, settings.seed)
    train_tps = t.train.tokens_per_second
    seen_seconds = settings.steps * settings.batch_size * trained["processes"] * window / train_tps
    logger.info("%s window %d: %.1f bits/s (%.0f s)", t.name, window, nll["bits"] / t.held_out.seconds,
                time.perf_counter() - started)  # fmt: skip
    if settings.checkpoints:
        at_checkpoint_end = {
            "steps": settings.steps,
            "tokens_seen": settings.steps * settings.batch_size * trained["processes"] * window,
            "audio_seconds_seen": seen_seconds,
            "train_seconds": trained["train_seconds"],
            "held_out_bits": nll["bits"],
            "bits_per_second": nll["bits"] / t.held_out.seconds,
        }
        curve.append(at_checkpoint_end)
    record = {
        "name": t.name,
        "variant": t.variant,
        "num_merges_requested": t.num_merges_requested,
        "num_merges": t.tokenizer.num_merges,
        "vocab_size": t.tokenizer.vocab_size,
        "tokens_per_second": t.held_out.tokens_per_second,
        "tokens_per_second_train": train_tps,
        "window_tokens": window,
        "window_seconds": window / train_tps,
        "steps": settings.steps,
        "tokens_seen": settings.steps * settings.batch_size * trained["processes"] * window,
        "audio_seconds_seen": seen_seconds,
        "parameters_embedding": params["embedding"],
        "parameters_non_embedding": params["non_embedding"],
        "train_seconds": trained["train_seconds"],
        "final_train_loss": trained["final_loss"],
        "held_out_bits": nll["bits"],
        "held_out_tokens": nll["tokens"],
        "held_out_seconds": t.held_out.seconds,
        "bits_per_second": nll["bits"] / t.held_out.seconds,
        "bits_per_token": nll["bits"] / nll["tokens"],
        "generation_tokens_per_second": speed["tokens_per_second"],
        "generation_audio_seconds_per_second": speed["audio_seconds_per_second"],
    }
    if settings.checkpoints:
        record["checkpoints"] = curve
    return record
