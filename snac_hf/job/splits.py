"""The splits of one token set: metadata.json and skipped.jsonl over every split, after a run of one.

A token set holds one or more splits (`train`, `validation`, ...), one tokenize run per split into
the same folder (`snac_hf.job.output_folder` adds a split beside others made with the same codec
and settings). When a run finishes its split, the main process writes the set's files again from
the unit records of *every* split:

- metadata.json: the top-level figures (`files_processed`, `files_failed`, `files_skipped`,
  `total_duration_seconds`, `num_shards`, `scales`) are those of the whole set, as a single-split
  set always had them (so the integrity checks and older readers see the folder they know);
  `splits` holds each split's own figures (`split_figures`); `settings` are the last run's (the
  codec and encoding settings are every split's, `output_folder.SET_KEYS`);
- skipped.jsonl: this run's entries, plus the other splits' entries kept from the file (an entry
  of a split other than train carries `"split"`).
"""

from __future__ import annotations

import json
from pathlib import Path

from snac_hf.job.output_folder import split_runs
from snac_hf.job.units import split_of_record
from snac_hf.sources.skipped import SKIPPED_FILE
from snac_hf.tokenset.card import build_metadata
from snac_hf.tokenset.ownership import STATE_DIR
from snac_hf.tokenset.schema import SPLIT, read_metadata


def split_records(folder: Path, split: str) -> list[dict]:
    """The unit records of split `split` in `folder`, in unit order."""
    paths = sorted((folder / STATE_DIR / "units").glob("*.json"))
    return [json.loads(p.read_text()) for p in paths if split_of_record(p.stem) == split]


def split_figures(records: list[dict], files_skipped: int, settings: dict) -> dict:
    """One split's entry of metadata.json's `splits`."""
    return {
        "files_processed": sum(r["rows"] for r in records),
        "files_failed": sum(len(r["errors"]) for r in records),
        "files_skipped": files_skipped,
        "total_duration_seconds": round(sum(r["duration"] for r in records), 6),
        "num_shards": sum(1 for r in records if r["shard"]),
        "num_units": len(records),
        "files_per_shard": settings.get("files_per_shard"),
    }


def with_all_splits(
    folder: Path, split: str, meta: dict, records: list[dict], codec: dict
) -> tuple[dict, list[dict]]:
    """`meta` (of this run's split, from `records`) made the metadata of the whole set, and the unit
    records of every split (for errors.jsonl)."""
    old = (read_metadata(folder) or {}).get("splits", {})
    splits = {split: split_figures(records, meta["files_skipped"], meta["settings"])}
    every = list(records)
    for other in split_runs(folder):
        if other == split:
            continue
        theirs = split_records(folder, other)
        skipped = old.get(other, {}).get("files_skipped", 0)
        splits[other] = split_figures(theirs, skipped, old.get(other, {}))
        every += theirs
    ordered = dict(sorted(splits.items(), key=lambda item: (item[0] != SPLIT, item[0])))
    if len(ordered) == 1:
        return {**meta, "splits": ordered}, every
    whole = build_metadata(every, codec, meta["settings"])
    whole["kept_columns"] = meta["kept_columns"]
    whole["files_skipped"] = sum(s["files_skipped"] for s in ordered.values())
    return {**meta, **whole, "splits": ordered}, every


def merged_skipped(folder: Path, split: str, skipped: list[dict]) -> list[dict]:
    """skipped.jsonl's entries once split `split` has run: its `skipped`, then the other splits'."""
    ours = [entry if split == SPLIT else {**entry, "split": split} for entry in skipped]
    path = folder / SKIPPED_FILE
    others = []
    if path.is_file() and len(split_runs(folder)) > 1:
        for line in path.read_text().splitlines():
            entry = json.loads(line) if line.strip() else None
            if entry is not None and entry.get("split", SPLIT) != split:
                others.append(entry)
    return ours + others
