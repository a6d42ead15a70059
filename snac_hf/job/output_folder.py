"""The output folder of a tokenize run: may this run write there, resume there, or must it stop?

`check_output_location` (before the model loads): `--output_dir` must be a folder or creatable as
one, writable, and not inside `--input_dir` unless everything in it is snac_hf's (then a scan of
the input leaves it out). `check_output` (every process, before anyone writes): a folder whose
run file (`.snac_hf/run.json`, for a split other than train `.snac_hf/run-SPLIT.json`) equals this
run's fingerprint is resumed; an empty or missing folder is started; a token set that holds other
splits made with the same codec and encoding settings (`SET_KEYS`) gets this split added beside
them; any other is refused, naming what differs (`differences`), unless `overwrite=True`, and even
then when a file snac_hf did not write (`snac_hf.tokenset.ownership`) sits where the run writes:
under `data/` or `.snac_hf/`, or at one of `TOKEN_SET_FILES`. `reset_output` (main process) then
removes exactly the files snac_hf wrote (only this split's, when the other splits stay) and starts
the folder or the split. Other files stay where they are; a refusal changes nothing on disk.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

from snac_hf.sources.skipped import SKIPPED_FILE
from snac_hf.tokenset.ownership import (
    LEGACY_NAMES,
    MANIFEST_FILE,
    RUN_FILE,
    STATE_DIR,
    WRITTEN_DIR,
    files_under,
    is_inside,
    new_manifest,
    owned_files,
    partial_of,
    remove_empty_dirs,
    remove_owned,
)
from snac_hf.tokenset.schema import DATA_DIR, SPLIT

#: Fingerprint keys every split of one token set shares (one codec, one way of encoding, one set of
#: columns); the others (`inputs`, `files_per_shard`, `split`) are each split's own.
SET_KEYS = (
    "kept_columns",
    "codec",
    "segment_samples",
    "context_samples",
    "precision",
    "arithmetic",
    "padding_codes",
)

__all__ = ["RUN_FILE", "STATE_DIR", "check_output", "check_output_location", "reset_output"]

#: Top-level files of a token set: those older versions wrote, and skipped.jsonl; a writer adding
#: one adds it here.
TOKEN_SET_FILES = (*sorted(LEGACY_NAMES), SKIPPED_FILE)


class OutputExistsError(RuntimeError):
    """The output folder holds something other than this run's token set."""


class OutputLocationError(ValueError):
    """`--output_dir` cannot be this run's output folder (a file, unwritable, inside the input)."""


def check_output_location(input_dir: str | None, output_dir: str) -> None:
    """Refuse an `--output_dir` that is a file, cannot be created or written, or lies in (or is)
    `--input_dir` while holding a file snac_hf did not write. Changes nothing on disk."""
    out = Path(output_dir)
    if os.path.lexists(out) and not out.is_dir():
        raise OutputLocationError(f"--output_dir {out} exists and is not a folder; give the path of a folder")
    existing = next(p for p in (out.absolute(), *out.absolute().parents) if os.path.lexists(p))
    if not existing.is_dir():
        raise OutputLocationError(f"--output_dir {out} cannot be created: {existing} is a file")
    if not os.access(existing, os.R_OK | os.W_OK | os.X_OK):
        raise OutputLocationError(f"--output_dir {out}: no permission to read and write in {existing}")
    if input_dir is None or not os.path.isdir(input_dir) or not is_inside(out, input_dir):
        return
    foreign = first_foreign_file(out)
    if foreign is not None:
        raise OutputLocationError(
            f"--output_dir {out} is inside --input_dir {input_dir} and holds files snac_hf did not write "
            f"(e.g. {foreign}): they would be read as input or replaced. Nothing was changed. Give an "
            "--output_dir outside --input_dir."
        )


def first_foreign_file(folder: Path) -> str | None:
    """The first file (walk order) under `folder` that snac_hf did not write, or None."""
    if not folder.is_dir():
        return None
    owned = owned_files(folder)
    for directory, _, files in os.walk(folder):
        for name in files:
            relative = (Path(directory) / name).relative_to(folder).as_posix()
            if relative not in owned:
                return relative
    return None


def in_the_way(folder: Path) -> list[str]:
    """Files snac_hf did not write at the places a run writes (sorted); a directory or link standing
    where a token-set file goes is listed with a trailing `/`."""
    owned = owned_files(folder)
    found = [p for d in (DATA_DIR, STATE_DIR) for p in files_under(folder, d)]
    for name in (p for n in TOKEN_SET_FILES for p in (n, partial_of(n))):
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            found.append(name + "/")
        elif os.path.lexists(path):
            found.append(name)
    return sorted(p for p in found if p not in owned)


def run_file(split: str = SPLIT) -> str:
    """The file under `.snac_hf/` holding a split's fingerprint: `run.json` for train (what single-split
    sets always had), `run-SPLIT.json` for any other split."""
    return RUN_FILE if split == SPLIT else f"run-{split}.json"


def read_run(folder: Path, split: str = SPLIT) -> dict | None:
    """The fingerprint of split `split` (`run_file`); None when missing or unreadable."""
    try:
        return json.loads((folder / STATE_DIR / run_file(split)).read_text())
    except (OSError, ValueError):
        return None


def split_runs(folder: Path) -> dict[str, dict]:
    """The fingerprint of every split started in `folder`, by split name."""
    runs = {}
    for path in sorted((folder / STATE_DIR).glob("run*.json")):
        match = re.fullmatch(r"run(?:-(\w+(?:\.\w+)*))?\.json", path.name)
        run = read_run(folder, match[1] or SPLIT) if match else None
        if run is not None:
            runs[match[1] or SPLIT] = run
    return dict(sorted(runs.items(), key=lambda item: (item[0] != SPLIT, item[0])))  # train first


def differences(old: dict, new: dict, keys: tuple[str, ...] | None = None) -> str:
    """What differs between two fingerprints, as the flags and inputs a user knows:
    `--segment_length (96000 -> 48000 samples)`, `the input (...)`, `the codec weights`..."""
    wanted = keys or tuple(dict.fromkeys([*old, *new]))
    found = []
    for key in wanted:
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if key == "codec":
            found += _codec_differences(before or {}, after or {})
        else:
            found.append(_described(key, before, after))
    return ", ".join(found) or "nothing snac_hf can name"


_FLAGS = {
    "segment_samples": ("--segment_length", " samples"),
    "context_samples": ("--context_length", " samples"),
    "precision": ("--precision/--exact", ""),
    "files_per_shard": ("--files_per_shard", ""),
    "compile": ("--compile (it changes the codes here)", ""),
    "min_duration": ("--min_duration", " s"),
    "max_duration": ("--max_duration", " s"),
}


def _described(key: str, before: object, after: object) -> str:
    if key == "inputs":
        return "the input (its rows: files, their sizes or modification times, audio bytes or kept values)"
    if key == "kept_columns":
        return f"--keep_columns ({sorted(before or {})} -> {sorted(after or {})})"
    if key == "split":
        return f"--split ({before or SPLIT} -> {after or SPLIT})"
    if isinstance(before, dict) and isinstance(after, dict):  # the arithmetic: device, TF32, compile...
        return ", ".join(fingerprint_changes(before, after, f"{key}."))
    if before is None and isinstance(after, dict):  # a key older versions did not write
        return f"{key} (not recorded by the older snac_hf that wrote it, so it cannot be shown to match)"
    flag, unit = _FLAGS.get(key, (key, ""))
    shown = [f"{value}{unit}" if value is not None else "not set" for value in (before, after)]
    return f"{flag} ({shown[0]} -> {shown[1]})"


def _codec_differences(before: dict, after: dict) -> list[str]:
    found = []
    if before.get("name") != after.get("name"):
        found.append(f"--model ({before.get('name')} -> {after.get('name')})")
    if before.get("checkpoint") != after.get("checkpoint"):
        found.append(f"--checkpoint ({before.get('checkpoint')} -> {after.get('checkpoint')})")
    if not found and before.get("weights_sha256") != after.get("weights_sha256"):
        found.append("the codec weights (same --model name, other weights)")
    return found


def set_clash(folder: Path, fingerprint: dict) -> tuple[str, str] | None:
    """(other split, what differs) when a split already in `folder` was made with another codec,
    encoding or columns than `fingerprint` (`SET_KEYS`); None when every other split agrees."""
    split = fingerprint.get("split", SPLIT)
    for other, run in split_runs(folder).items():
        if other != split and any(run.get(k) != fingerprint.get(k) for k in SET_KEYS):
            return other, differences(run, fingerprint, SET_KEYS)
    return None


def other_splits(folder: Path, fingerprint: dict) -> list[str]:
    """The splits of `folder` other than `fingerprint`'s."""
    split = fingerprint.get("split", SPLIT)
    return [s for s in split_runs(folder) if s != split]


def check_output(
    folder: Path, fingerprint: dict, overwrite: bool, upgrade: Callable[[dict], dict] | None = None
) -> bool:
    """Whether this run resumes a folder (True), starts fresh (False), or must stop (raises).

    `upgrade` turns a run.json written by an older version into today's fingerprint of that run.
    """
    if os.path.lexists(folder) and not folder.is_dir():
        raise OutputLocationError(
            f"--output_dir {folder} exists and is not a folder; give the path of a folder"
        )
    split = fingerprint.get("split", SPLIT)
    run = read_run(folder, split)
    if run is not None and upgrade is not None:
        run = upgrade(run)
    if run is not None and run == fingerprint:
        return True
    present = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    if not present:
        return False
    clash = set_clash(folder, fingerprint)
    adding = run is None and clash is None and other_splits(folder, fingerprint)
    if not overwrite and not adding:
        if run is not None:
            what = f"split {split!r} made with other settings or inputs: {differences(run, fingerprint)}"
            replaced = f"split {split!r}"
        elif clash is not None:
            what = (
                f"a token set whose split {clash[0]!r} was made with other settings: {clash[1]} (all the "
                "splits of a token set share one codec, encoding and columns)"
            )
            replaced = "the token set (every split)"
        else:
            what, replaced = f"files {present[:5]}", "the token set"
        raise OutputExistsError(
            f"--output_dir {folder} already holds {what}. Nothing was changed. Use another folder, or pass "
            f"--overwrite to replace {replaced} in it (only files snac_hf wrote are removed)."
        )
    blocking = in_the_way(folder)
    if blocking:
        more = f" and {len(blocking) - 5} more" if len(blocking) > 5 else ""
        raise OutputExistsError(
            f"--output_dir {folder} holds files snac_hf did not write where the token set goes: "
            f"{', '.join(blocking[:5])}{more}. Nothing was changed. Move them out of the folder, or use "
            "another --output_dir."
        )
    return False


def fingerprint_changes(before: dict, now: dict, prefix: str = "") -> list[str]:
    """What differs between a folder's fingerprint and this run's, key by key ("precision:
    float32 -> float32-tf32", "arithmetic.device_type: cpu -> cuda"); digests say only "changed"."""
    changes = []
    for key in [*now, *(k for k in before if k not in now)]:  # this run's order: the device first
        old, new = before.get(key), now.get(key)
        if old == new:
            continue
        name = f"{prefix}{key}"
        if isinstance(old, dict) and isinstance(new, dict):
            changes += fingerprint_changes(old, new, f"{name}.")
        elif key == "inputs" or isinstance(old, (dict, list)) or isinstance(new, (dict, list)):
            changes.append(f"{name} changed")
        elif isinstance(old, str) and len(old) == 64 and isinstance(new, str):
            changes.append(f"{name} changed")  # a SHA-256: its digits tell a user nothing
        else:
            changes.append(f"{name}: {old} -> {new}")
    return changes or ["unknown"]


def reset_output(folder: Path, fingerprint: dict) -> None:
    """Remove the files snac_hf wrote (and the directories under `data/` and `.snac_hf/` that this
    empties), then start the folder: manifest marker first, then `units/`, then `run.json`."""
    if in_the_way(folder):  # check_output refused already; never remove anything in that case
        raise OutputExistsError(
            f"--output_dir {folder} holds files snac_hf did not write; nothing was changed"
        )
    split = fingerprint.get("split", SPLIT)
    keep_others = set_clash(folder, fingerprint) is None and other_splits(folder, fingerprint)
    remove_owned(folder, (lambda relative: is_split_file(relative, split)) if keep_others else None)
    for top in (DATA_DIR, STATE_DIR):
        remove_empty_dirs(folder / top)
    state = folder / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    if not (keep_others and (state / MANIFEST_FILE).is_file()):
        # a new key only for a new set: the other splits' ownership records are named with the
        # folder's key, and a new one would disown them (their files would then be in the way)
        write_json(state / MANIFEST_FILE, new_manifest())
    (state / "units").mkdir(exist_ok=True)
    (state / WRITTEN_DIR).mkdir(exist_ok=True)
    write_json(state / run_file(split), fingerprint)


def is_split_file(relative: str, split: str) -> bool:
    """Whether a file snac_hf wrote belongs to split `split` alone: its shards, unit records, run
    file and streamed row counts (and their temporary siblings)."""
    name = relative.rsplit("/", 1)[-1].lstrip(".").removesuffix(".partial")
    if relative.startswith(f"{DATA_DIR}/"):
        return name.startswith(f"{split}-")
    if relative.startswith(f"{STATE_DIR}/units/"):
        own = re.fullmatch(r"\d{5}\.json", name) if split == SPLIT else name.startswith(f"{split}-")
        return bool(own)
    if relative.startswith(f"{STATE_DIR}/") and "/" not in relative[len(STATE_DIR) + 1 :]:
        suffix = "" if split == SPLIT else f"-{split}"
        return name in (f"run{suffix}.json", f"source_rows{suffix}.json")
    return False


def write_json(path: Path, value: dict) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    os.replace(tmp, path)
