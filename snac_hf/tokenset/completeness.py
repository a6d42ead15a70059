"""Whether a token set is finished, and what an earlier state left behind once it is.

A tokenize run writes its units one by one (`.snac_hf/units/NNNNN.json` plus a shard each) and,
once every unit is done, `metadata.json` (`settings.num_units`: how many units the set has). So a
folder that holds a tokenize run's state (`.snac_hf/run.json`) is *unfinished* while it has no
`metadata.json`, or fewer unit records than its `num_units`. Every reader refuses such a folder
(`check_finished`, called by `snac_hf.tokenset.integrity.check_token_set`) with one line saying what
is missing and to rerun the same tokenize command; a reader that offers `--allow_partial` passes
`allow_partial=True`, gets a description of the part (`PartialSet`) and records it in its outputs.
The rule is keyed on the unit records and metadata, not on shard names: every split's units count.
A folder without run.json (a finished set without its resume state, Parquet from elsewhere) is
taken as it is.

Once a run finishes, reports made from an earlier state are stale: an `analysis.json` of 6 files
on the finished set of 16 (`analyze --tokens 'DIR/data/*.parquet'` while the run was unfinished,
or an older version).
`drop_stale_reports` (called when metadata.json is written) removes the analysis files snac_hf wrote
and the card's `analysis` section when they do not describe the finished set.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from snac_hf.tokenset.json_files import DamagedInputError
from snac_hf.tokenset.ownership import RUN_FILE, STATE_DIR, owned_files, remove_owned_file
from snac_hf.tokenset.schema import METADATA_FILE, read_metadata
from snac_hf.tokenset.sections import remove_section

#: Where tokenize keeps one record per work unit (`snac_hf.job.units.record_path`).
UNITS_DIR = os.path.join(STATE_DIR, "units")
_TOTAL = re.compile(r"-of-(\d+)\.parquet$")
#: The analysis files a token set may hold (`snac_hf.analysis.api`, `analysis.plots`).
ANALYSIS_FILES = (
    "analysis.json",
    "analysis.md",
    "rank_frequency.png",
    "run_lengths.png",
    "ngram_diversity.png",
)
CARD_FILE, ANALYSIS_SECTION = "README.md", "analysis"
REMEDY = "rerun the same tokenize command to finish it"


class UnfinishedTokenSetError(DamagedInputError):
    """A token set whose tokenize run has not finished (or was stopped); the message says what is missing."""


@dataclass(frozen=True)
class PartialSet:
    """The part of an unfinished token set a reader took with `allow_partial`."""

    units_done: int
    units_total: int | None  # None when no record says (every done unit failed, no shard name)
    split: str | None = None  # the unfinished split, when the set names its splits

    def describe(self) -> str:
        total = "?" if self.units_total is None else str(self.units_total)
        where = f" (split {self.split})" if self.split else ""
        return f"unfinished token set: {self.units_done} of {total} units{where}"

    def to_dict(self) -> dict:
        found = {"partial": True, "units_done": self.units_done, "units_total": self.units_total}
        return {**found, "split": self.split} if self.split else found


#: A unit record's name: `NNNNN.json` (split train) or `SPLIT-NNNNN.json` (`snac_hf.job.units`).
_RECORD = re.compile(r"^(?:(?P<split>\w+(?:\.\w+)*)-)?\d{5}\.json$")
#: A tokenize run's fingerprint: `run.json` (split train) or `run-SPLIT.json`.
_RUN = re.compile(r"^run(?:-(?P<split>\w+(?:\.\w+)*))?\.json$")
TRAIN = "train"


def _unit_records(folder: Path) -> dict[str, tuple[int, list[dict]]]:
    """Per split: how many unit records there are, and those that can be read (a damaged one is
    counted: it is `integrity.unit_records`' to name, not a missing unit)."""
    found: dict[str, tuple[int, list[dict]]] = {}
    for path in sorted((folder / UNITS_DIR).glob("*.json")):
        match = _RECORD.match(path.name)
        split = (match.group("split") if match else None) or TRAIN
        count, records = found.get(split, (0, []))
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            record = None
        found[split] = (count + 1, records + [record] if isinstance(record, dict) else records)
    return found


def _total_units(records: list[dict]) -> int | None:
    """The number of units, from a record's shard name (`...-of-NNNNN.parquet`), when one says."""
    for record in records:
        match = _TOTAL.search(str(record.get("shard") or ""))
        if match:
            return int(match.group(1))
    return None


def _started_splits(folder: Path) -> set[str]:
    """The splits a tokenize run started in `folder` (its `run.json` / `run-SPLIT.json`)."""
    state = folder / STATE_DIR
    if not state.is_dir():
        return set()
    matches = (_RUN.match(path.name) for path in state.iterdir())
    return {(m.group("split") or TRAIN) for m in matches if m}


def unfinished(folder: str | os.PathLike) -> PartialSet | None:
    """The part there is of an unfinished token set (module docstring), or None when it is finished
    (or keeps no tokenize state). A set that names its splits in metadata.json (`splits`) is
    checked split by split: a started split missing there, or one with fewer records than its
    `num_units`, is unfinished."""
    folder = Path(folder)
    started = _started_splits(folder)
    if not (folder / STATE_DIR / RUN_FILE).is_file() and not started:
        return None
    per_split = _unit_records(folder)
    meta = read_metadata(folder)
    if meta is None:
        done = sum(count for count, _ in per_split.values())
        totals = [_total_units(records) for _, records in per_split.values()]
        total = sum(totals) if totals and None not in totals else None
        return PartialSet(done, total)
    keeps_records = (folder / UNITS_DIR).is_dir()
    splits = meta.get("splits")
    if isinstance(splits, dict) and splits:
        for split in sorted(started - set(splits)):
            count, records = per_split.get(split, (0, []))
            return PartialSet(count, _total_units(records), split)
        for split, entry in splits.items():
            expected = entry.get("num_units") if isinstance(entry, dict) else None
            count = per_split.get(split, (0, []))[0]
            if isinstance(expected, int) and keeps_records and count < expected:
                return PartialSet(count, expected, split)
        return None
    expected = (meta.get("settings") or {}).get("num_units")
    count = sum(count for count, _ in per_split.values())
    if isinstance(expected, int) and keeps_records and count < expected:
        return PartialSet(count, expected)
    return None


def check_finished(folder: str | os.PathLike, allow_partial: bool = False) -> PartialSet | None:
    """None for a finished token set; for an unfinished one an `UnfinishedTokenSetError` in one line,
    or, with `allow_partial`, the `PartialSet` the caller reads (and records in its outputs)."""
    part = unfinished(folder)
    if part is None or allow_partial:
        return part
    total = "an unknown number of" if part.units_total is None else f"{part.units_total}"
    split = f" of split {part.split}" if part.split else ""
    missing = f"no {METADATA_FILE} yet" if read_metadata(folder) is None else "unit records missing"
    raise UnfinishedTokenSetError(
        f"{folder}: an unfinished token set: tokenize wrote {part.units_done} of {total} units{split} "
        f"({missing}); {REMEDY}"
    )


def drop_stale_reports(folder: str | os.PathLike, meta: dict) -> list[str]:
    """Remove the analysis files snac_hf wrote into `folder` and the card's `analysis` section when
    the folder's `analysis.json` does not describe the set of `meta` (its files and audio seconds)
    or describes a partial set; returns the removed paths."""
    folder = Path(folder)
    try:
        analysis = json.loads((folder / ANALYSIS_FILES[0]).read_text())
    except (OSError, ValueError):
        return []  # no analysis here (one written elsewhere with --report_dir cannot be compared)
    if isinstance(analysis, dict) and _describes(analysis, meta):
        return []
    owned = owned_files(folder)
    removed = [name for name in ANALYSIS_FILES if name in owned and remove_owned_file(folder, name)]
    card = folder / CARD_FILE
    if CARD_FILE in owned and card.is_file() and not card.is_symlink():
        if remove_section(card, ANALYSIS_SECTION):
            removed.append(f"{CARD_FILE} ({ANALYSIS_SECTION} section)")
    return removed


def _describes(analysis: dict, meta: dict) -> bool:
    if (analysis.get("token_set") or {}).get("partial"):
        return False
    files, seconds = analysis.get("files"), analysis.get("duration_seconds")
    expected_seconds = meta.get("total_duration_seconds")
    if files != meta.get("files_processed"):
        return False
    if isinstance(seconds, (int, float)) and isinstance(expected_seconds, (int, float)):
        return abs(seconds - expected_seconds) <= 1e-6 * max(1.0, abs(expected_seconds))
    return True
