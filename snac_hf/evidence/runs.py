"""One JSON record per finished LM training: what makes an evidence run resumable.

A training is identified (`Training`) by its tokenization (`raw-<serialization>`, `<variant>-<merges>`
or `orpheus`, `plan`), its window in tokens, its steps (the longer training has 4x) and its seed; the
budget settings map onto windows (`equal_audio` and `equal_steps` give the raw codes the same
window, so that model is trained once and serves both). The record
(`runs/<tokenization>/window<W>-steps<N>-seed<S>.json`; the held-out-voices split keeps its own
`runs/` in its own folder) is written atomically (temporary file, then
rename) after the training and its measurements, so it exists only for a complete training; an
interrupted run redoes only the trainings without one. Which settings the records belong to is
fixed by the folder's `evidence_config.json` (see `experiment.check_config`). No torch.

A record holds the measurements (`NUMBERS`, each finite, and `TEXTS`), the training's inputs
under `run` (the token set's codes digest and identity, the layout, the split, the tokenization,
window, seed, process count and LM settings: `experiment.run_inputs`) and a `fingerprint`: the
SHA-256 of all of that (`fingerprint.digest`). On resume every record is checked before it is
used: one that cannot be read, lacks a field, holds a non-finite number (Python's json reads
`NaN`), was made for another training (copied from another seed, run or token set) or was edited
after it was written (its fingerprint no longer matches) is refused: a `RecordError`, one line
naming the file, saying to remove it (that model is then trained again) or to use another
--output_dir. A record is never silently reused, and never deleted by this module: it may be
the only copy of someone's measurement.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import NamedTuple

from snac_hf.evidence.fingerprint import digest
from snac_hf.tokenset.json_files import DamagedInputError, read_json_object

RUNS_DIR = "runs"
RUN_KEY, FINGERPRINT_KEY = "run", "fingerprint"
#: The measurements of a record (`snac_hf.lm.experiment.measure_one`): each a finite number.
NUMBERS = (
    "num_merges_requested",
    "num_merges",
    "vocab_size",
    "tokens_per_second",
    "tokens_per_second_train",
    "window_tokens",
    "window_seconds",
    "steps",
    "tokens_seen",
    "audio_seconds_seen",
    "parameters_embedding",
    "parameters_non_embedding",
    "train_seconds",
    "final_train_loss",
    "held_out_bits",
    "held_out_tokens",
    "held_out_seconds",
    "bits_per_second",
    "bits_per_token",
    "generation_tokens_per_second",
    "generation_audio_seconds_per_second",
)
TEXTS = ("name", "variant")
#: The learning curve of a training (optional): per checkpoint, these finite numbers.
CHECKPOINTS_KEY = "checkpoints"
CHECKPOINT_NUMBERS = (
    "steps", "tokens_seen", "audio_seconds_seen", "train_seconds", "held_out_bits", "bits_per_second",
    "train_flops",
)  # fmt: skip
REMEDY = "nothing was changed: remove it to train that model again, or give another --output_dir"
_NAME = re.compile(r"window(\d+)-steps(\d+)-seed(-?\d+)\.json")


class RecordError(DamagedInputError):
    """A run record that cannot be used for this run; the message names it and what to do."""


class Training(NamedTuple):
    """What identifies one LM training of a run (and names its record)."""

    tokenization: str
    window: int
    steps: int
    seed: int


def record_path(output_dir: Path, training: Training) -> Path:
    name = f"window{training.window}-steps{training.steps}-seed{training.seed}.json"
    return output_dir / RUNS_DIR / training.tokenization / name


def record_files(output_dir: Path) -> list[tuple[Path, Training]]:
    """Every record file under `runs/` with the training its name says, sorted."""
    found = []
    for path in sorted((output_dir / RUNS_DIR).glob("*/*.json")):
        match = _NAME.fullmatch(path.name)
        if match:
            found.append((path, Training(path.parent.name, int(match[1]), int(match[2]), int(match[3]))))
    return found


def load_record(output_dir: Path, training: Training, run: dict) -> dict | None:
    """The measurements of `training` (whose inputs `run` describes), or None when it has no record
    yet. A record that is there but not usable for `run` is a `RecordError` (module docstring)."""
    path = record_path(output_dir, training)
    if not path.is_file():
        return None
    return check_record(path, run)


def check_record(path: Path, run: dict) -> dict:
    """The measurements in the record `path`, after the checks of the module docstring."""
    data = read_json_object(path, REMEDY)
    problem = record_problem(data, run)
    if problem:
        raise RecordError(f"{path}: {problem}; {REMEDY}")
    return {k: v for k, v in data.items() if k not in (RUN_KEY, FINGERPRINT_KEY)}


def record_problem(data: dict, run: dict) -> str | None:
    """Why `data` is not a usable record of the training `run`, or None."""
    missing = [k for k in (*TEXTS, *NUMBERS, RUN_KEY, FINGERPRINT_KEY) if k not in data]
    if missing:
        return f"not a complete run record (no {', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})"
    problem = measurement_problem(data)
    if problem:
        return problem
    saved = data[RUN_KEY]
    if not isinstance(saved, dict):
        return f"its {RUN_KEY} is not a JSON object"
    if saved != run:
        return f"it was made for another training ({describe_change(run, saved)})"
    try:
        expected = fingerprint({k: v for k, v in data.items() if k != FINGERPRINT_KEY})
    except ValueError:  # a non-finite number outside the measurements
        return "it holds a non-finite number"
    if data[FINGERPRINT_KEY] != expected:
        return "it was edited after it was written (its fingerprint does not match its content)"
    return None


def describe_change(run: dict, saved: dict) -> str:
    """What differs between this run's inputs and a record's, in words (the first two keys)."""
    ours, theirs = _flat(run), _flat(saved)
    changed = sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))
    shown = "; ".join(
        f"{k} {_short(theirs.get(k))} where this run has {_short(ours.get(k))}" for k in changed[:2]
    )
    more = f" and {len(changed) - 2} more" if len(changed) > 2 else ""
    return f"its {shown}{more}"


def measurement_problem(record: dict) -> str | None:
    """The first measurement that is not a finite number (or a text that is not one), or None."""
    for key in NUMBERS:
        value = record.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return f"its {key} is {json.dumps(value)}, not a finite number"
    for key in TEXTS:
        if not isinstance(record.get(key), str):
            return f"its {key} is {json.dumps(record.get(key))}, not a text"
    checkpoints = record.get(CHECKPOINTS_KEY, [])
    if not isinstance(checkpoints, list) or not all(isinstance(c, dict) for c in checkpoints):
        return f"its {CHECKPOINTS_KEY} is not a list of JSON objects"
    for checkpoint in checkpoints:
        for key in CHECKPOINT_NUMBERS:
            value = checkpoint.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                return f"its {CHECKPOINTS_KEY} hold {key} {json.dumps(value)}, not a finite number"
    return None


def fingerprint(content: dict) -> str:
    """SHA-256 of a record's content (measurements and `run`), as it reads back from JSON."""
    return digest(json.loads(json.dumps(content)))


def save_record(output_dir: Path, training: Training, record: dict, run: dict) -> None:
    """Write the measurements `record` of `training` (inputs `run`) with its fingerprint (atomically).

    A measurement that is not finite (a diverged training) is a ValueError: it would make every
    mean and verdict of the report NaN, and its record could not be used on resume."""
    problem = measurement_problem(record)
    if problem:
        raise ValueError(
            f"the LM on {training.tokenization} (window {training.window}, {training.steps} steps, seed "
            f"{training.seed}): {problem}: the training diverged "
            "or measured nothing; lower --learning_rate or change the sizes, and rerun (finished trainings "
            "are kept)"
        )
    content = {**record, RUN_KEY: run}
    content[FINGERPRINT_KEY] = fingerprint(content)
    path = record_path(output_dir, training)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(content, indent=2) + "\n")
    os.replace(partial, path)


def _flat(value: dict, prefix: str = "") -> dict:
    """Nested dicts as one level of dotted keys (`lm.model.hidden_size`)."""
    flat = {}
    for key, item in value.items():
        if isinstance(item, dict) and item:
            flat.update(_flat(item, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = item
    return flat


def _short(value: object, limit: int = 60) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."
