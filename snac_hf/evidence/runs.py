"""One JSON record per finished LM training: what makes an evidence run resumable.

A training is identified by its tokenization (`raw` or `<variant>-<merges>`), its window in
tokens and its seed; the budget settings map onto windows (`equal_audio` and `equal_steps` give
the raw codes the same window, so that model is trained once and serves both). The record
(`runs/<tokenization>/window<W>-seed<S>.json`) is written atomically (temporary file, then
rename) after the training and its measurements, so it exists only for a complete training; an
interrupted run redoes only the trainings without one. Which settings the records belong to is
fixed by the folder's `evidence_config.json` (see `experiment.check_config`). No torch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

RUNS_DIR = "runs"


def record_path(output_dir: Path, tokenization: str, window: int, seed: int) -> Path:
    return output_dir / RUNS_DIR / tokenization / f"window{window}-seed{seed}.json"


def load_record(output_dir: Path, tokenization: str, window: int, seed: int) -> dict | None:
    path = record_path(output_dir, tokenization, window, seed)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None  # a damaged record is a training to redo, not an error


def save_record(output_dir: Path, tokenization: str, window: int, seed: int, record: dict) -> None:
    path = record_path(output_dir, tokenization, window, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(partial, path)
