"""The output folder of a tokenize run: may this run write there, resume there, or must it stop?

`check_output_location` (before the model loads): `--output_dir` must be a folder or creatable as
one, writable, and not inside `--input_dir` unless everything in it is snac_hf's (then a scan of
the input leaves it out). `check_output` (every process, before anyone writes): a folder whose
`.snac_hf/run.json` equals this run's fingerprint is resumed; an empty or missing folder is
started; any other is refused unless `overwrite=True`, and even then when a file snac_hf did not
write (`snac_hf.tokenset.ownership`) sits where the run writes: under `data/` or `.snac_hf/`, or at one of
`TOKEN_SET_FILES`. `reset_output` (main process) then removes exactly the files snac_hf wrote and
starts the folder. Other files stay where they are; a refusal changes nothing on disk.
"""

from __future__ import annotations

import json
import os
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
from snac_hf.tokenset.schema import DATA_DIR

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


def read_run(folder: Path) -> dict | None:
    """The fingerprint in `.snac_hf/run.json`; None when missing or unreadable."""
    try:
        return json.loads((folder / STATE_DIR / RUN_FILE).read_text())
    except (OSError, ValueError):
        return None


def check_output(folder: Path, fingerprint: dict, overwrite: bool) -> bool:
    """Whether this run resumes a folder (True), starts fresh (False), or must stop (raises)."""
    if os.path.lexists(folder) and not folder.is_dir():
        raise OutputLocationError(
            f"--output_dir {folder} exists and is not a folder; give the path of a folder"
        )
    run = read_run(folder)
    if run is not None and run == fingerprint:
        return True
    present = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    if not present:
        return False
    if not overwrite:
        what = "a token set made with other inputs or settings" if run is not None else f"files {present[:5]}"
        raise OutputExistsError(
            f"--output_dir {folder} already holds {what}. Nothing was changed. Use another folder, or pass "
            "--overwrite to replace the token set in it (only files snac_hf wrote are removed)."
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


def reset_output(folder: Path, fingerprint: dict) -> None:
    """Remove the files snac_hf wrote (and the directories under `data/` and `.snac_hf/` that this
    empties), then start the folder: manifest marker first, then `units/`, then `run.json`."""
    if in_the_way(folder):  # check_output refused already; never remove anything in that case
        raise OutputExistsError(
            f"--output_dir {folder} holds files snac_hf did not write; nothing was changed"
        )
    remove_owned(folder)
    for top in (DATA_DIR, STATE_DIR):
        remove_empty_dirs(folder / top)
    state = folder / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    write_json(state / MANIFEST_FILE, new_manifest())
    (state / "units").mkdir(exist_ok=True)
    (state / WRITTEN_DIR).mkdir(exist_ok=True)
    write_json(state / RUN_FILE, fingerprint)


def write_json(path: Path, value: dict) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    os.replace(tmp, path)
