"""metadata.json, errors.jsonl and the dataset card of a token set, from the unit records.

Each work unit of a tokenize run leaves a record (rows written, failures, audio seconds, and a
bincount of codes per scale). Counts add, so the figures of the whole set are sums of records,
however many processes wrote them; the main process writes these files once all units are done.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml
from datasets import Features

from snac_hf.sections import replace_section
from snac_hf.tokenset import ERRORS_FILE, METADATA_FILE, token_features

TOP_CODES = 10


def scale_stats(counts: np.ndarray) -> dict:
    """min/max/unique/most common codes of one scale from its bincount."""
    used = np.flatnonzero(counts)
    top = np.argsort(-counts, kind="stable")[:TOP_CODES]
    return {
        "total_tokens": int(counts.sum()),
        "unique_tokens": int(used.size),
        "min": int(used[0]) if used.size else None,
        "max": int(used[-1]) if used.size else None,
        "most_common": [[int(code), int(counts[code])] for code in top if counts[code] > 0],
    }


def build_metadata(records: Sequence[dict], codec: dict, settings: dict) -> dict:
    n_scales = codec["layout"]["n_scales"]
    counts = [np.zeros(codec["layout"]["codebook_size"], np.int64) for _ in range(n_scales)]
    for record in records:
        for k in range(n_scales):
            counts[k] += np.asarray(record["counts"][k], np.int64)
    return {
        "files_processed": sum(r["rows"] for r in records),
        "files_failed": sum(len(r["errors"]) for r in records),
        "total_duration_seconds": round(sum(r["duration"] for r in records), 6),
        "num_shards": sum(1 for r in records if r["shard"]),
        "codec": codec,
        "settings": settings,
        "scales": {f"scale_{k}": scale_stats(counts[k]) for k in range(n_scales)},
    }


def write_errors(folder: Path, records: Sequence[dict]) -> int:
    errors = [e for r in records for e in r["errors"]]
    with open(folder / ERRORS_FILE, "w") as f:
        for error in errors:
            f.write(json.dumps(error, ensure_ascii=False) + "\n")
    return len(errors)


def card_yaml(n_scales: int, kept: Features | None = None) -> str:
    """The card's YAML header: features and tags.

    No `configs:` entry on purpose: `load_dataset` finds `data/train-*.parquet` by itself, and with
    `configs` in a local folder's card datasets 5.2 caches the folder under a key that ignores its
    path, so two token sets of the same folder name returned each other's rows (test_tokenset.py).
    """
    header = {
        "dataset_info": {"features": token_features(n_scales, kept)._to_yaml_list()},
        "tags": ["audio", "snac", "audio-tokens", "snac_hf"],
    }
    return "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n"


def card_summary(meta: dict) -> str:
    codec = meta["codec"]
    layout = codec["layout"]
    rates = " / ".join(f"{r:.2f}" for r in layout["codes_per_second"])
    lines = [
        "# SNAC token set",
        "",
        f"Audio encoded with SNAC (`{codec['name']}`"
        + (f", checkpoint `{codec['checkpoint']}`" if codec["checkpoint"] else "")
        + f") by snac_hf: {layout['n_scales']} scales at {rates} codes per second, "
        f"codes 0..{layout['codebook_size'] - 1}, scale 0 coarsest.",
        "",
    ]
    if codec.get("notice"):
        lines += [f"> **Note:** {codec['notice']}", ""]
    lines += [
        f"- files: {meta['files_processed']} encoded, {meta['files_failed']} failed (see `errors.jsonl`)",
        f"- audio: {meta['total_duration_seconds'] / 3600:.4f} hours",
        f"- precision: {meta['settings']['precision']}, segment {meta['settings']['segment_seconds']} s, "
        f"context {meta['settings']['context_seconds']} s",
        "",
        "| scale | tokens | unique | min | max |",
        "|---|---|---|---|---|",
    ]
    for name, s in meta["scales"].items():
        lines.append(f"| {name} | {s['total_tokens']} | {s['unique_tokens']} | {s['min']} | {s['max']} |")
    lines += [
        "",
        "Columns per file: `id`, `file_path`, `duration`, and per scale k `tokens_scale_k` (int16 codes),",
        "`n_tokens_scale_k`, `shape_scale_k`. Load with `datasets.load_dataset(<this folder or repo>)`.",
    ]
    return "\n".join(lines)


def write_card(folder: Path, meta: dict) -> None:
    """README.md: YAML header (features, configs) + summary; other tools' sections are kept."""
    path = folder / "README.md"
    old = path.read_text() if path.exists() else ""
    body = old.split("---\n", 2)[2] if old.startswith("---\n") and old.count("---\n") >= 2 else old
    body = replace_section(body, "summary", card_summary(meta))
    kept = Features.from_dict(meta["kept_columns"]) if meta.get("kept_columns") else None
    text = card_yaml(meta["codec"]["layout"]["n_scales"], kept) + "\n" + body.lstrip("\n")
    tmp = path.with_name(".README.md.partial")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_metadata(folder: Path, meta: dict) -> None:
    tmp = folder / f".{METADATA_FILE}.partial"
    tmp.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, folder / METADATA_FILE)
