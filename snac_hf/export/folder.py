"""The output folder of an export: may this run write there, and which files are its own.

An export folder holds `data/{split}-NNNNN-of-NNNNN.parquet` (the token set's splits), `README.md`
(the card), `export.json`
(the summary, written last: it lists every shard and its sha256, so a reader can tell a finished,
intact export from one that was stopped or changed, `snac_hf.tokenset.finished_export`) and
`.snac_hf/` (the manifest, `"writer": "export"`, the lock holder, and the ownership records of
`snac_hf.tokenset.ownership`: every file is recorded before it is written, so `--overwrite` removes
exactly the files snac_hf wrote). One export at a time writes a folder: the run holds the folder's
lock (`snac_hf.tokenset.folder_lock`, the same as tokenize's) from its checks to its end.

`check_output` refuses, before anything is written: a path that is a file; the token set itself,
a folder inside it or around it; a folder holding a token set (`metadata.json` or a tokenize run's
`.snac_hf/run.json`); a non-empty folder without `overwrite`; and with `overwrite`, a folder where a
file snac_hf did not write sits where the export writes (under `data/` or `.snac_hf/`, or at
`README.md` / `export.json`): those files are the user's. Other files of the user stay untouched.
`start_output` then removes the files snac_hf wrote and marks the folder as recording
(`.snac_hf/manifest.json`). Shards are written under temporary names (`partial_of` their name in
the unit order) and renamed once their number is known (`final_shards`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from snac_hf.tokenset.finished_export import EXPORT_WRITER, SUMMARY_FILE
from snac_hf.tokenset.ownership import (
    MANIFEST_FILE,
    RUN_FILE,
    STATE_DIR,
    WRITTEN_DIR,
    files_under,
    is_inside,
    new_manifest,
    owned_files,
    partial_of,
    record_written,
    remove_empty_dirs,
    remove_owned,
)
from snac_hf.tokenset.schema import DATA_DIR, METADATA_FILE, shard_name

CARD_FILE = "README.md"
#: Top-level files an export writes.
EXPORT_FILES = (CARD_FILE, SUMMARY_FILE)


def in_the_way(folder: Path) -> list[str]:
    """Files snac_hf did not write where an export writes (sorted), a directory there with `/`."""
    owned = owned_files(folder)
    found = [p for top in (DATA_DIR, STATE_DIR) for p in files_under(folder, top)]
    for name in (p for n in EXPORT_FILES for p in (n, partial_of(n))):
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            found.append(name + "/")
        elif os.path.lexists(path):
            found.append(name)
    return sorted(p for p in found if p not in owned)


def check_output(folder: Path, token_set: str | None, overwrite: bool) -> None:
    """Refuse an output folder this export must not write into (module docstring); changes nothing."""
    if os.path.lexists(folder) and not folder.is_dir():
        raise NotADirectoryError(
            f"--output_dir {folder} exists and is not a folder; give the path of a folder"
        )
    if token_set is not None and (is_inside(folder, token_set) or is_inside(token_set, folder)):
        raise ValueError(
            f"--output_dir {folder} is the token set {token_set}, or inside or around it: their files would "
            "mix. Give an --output_dir of its own"
        )
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    for marker in (METADATA_FILE, f"{STATE_DIR}/{RUN_FILE}"):
        if (folder / marker).is_file():
            raise FileExistsError(
                f"--output_dir {folder} holds a token set ({marker}); nothing was changed. An export "
                "goes into a folder of its own: give another --output_dir"
            )
    if not overwrite:
        present = sorted(p.name for p in folder.iterdir())
        raise FileExistsError(
            f"--output_dir {folder} is not empty ({', '.join(present[:5])}); nothing was changed. Use "
            "another folder, or pass --overwrite to replace the export in it (only files snac_hf wrote "
            "are removed)"
        )
    blocking = in_the_way(folder)
    if blocking:
        more = f" and {len(blocking) - 5} more" if len(blocking) > 5 else ""
        raise FileExistsError(
            f"--output_dir {folder} holds files snac_hf did not write where the export goes: "
            f"{', '.join(blocking[:5])}{more}. Nothing was changed. Move them out of the folder, or use "
            "another --output_dir"
        )


def start_output(folder: Path) -> None:
    """Remove the files snac_hf wrote (and the folders under data/ and .snac_hf/ that empties), then
    mark the folder as recording every file it gets (`.snac_hf/manifest.json`)."""
    remove_owned(folder)
    for top in (DATA_DIR, STATE_DIR):
        remove_empty_dirs(folder / top)
    state = folder / STATE_DIR
    (state / WRITTEN_DIR).mkdir(parents=True, exist_ok=True)
    write_text(state / MANIFEST_FILE, json.dumps(new_manifest(EXPORT_WRITER)) + "\n")


def temporary_shards(folder: Path, indices: range, total: int, split: str = "train") -> list[Path]:
    """Where units `indices` of `total` write their shards until `final_shards` renames them: the
    temporary siblings of `data/{split}-i-of-total.parquet`, recorded (which owns them) before they exist."""
    names = [shard_name(i, total, split) for i in indices]
    record_written(folder, names)
    return [folder / partial_of(name) for name in names]


def final_shards(folder: Path, temporary: list[Path], split: str = "train") -> list[str]:
    """Rename the written temporary shards, in order, to `data/{split}-i-of-n.parquet` (recorded first)."""
    names = [shard_name(i, len(temporary), split) for i in range(len(temporary))]
    record_written(folder, names)
    for path, name in zip(temporary, names, strict=True):
        os.replace(path, folder / name)
    return names


def discard(folder: Path, created: bool) -> None:
    """After a failed export: remove what it wrote (its recorded files and state), and the folder
    itself when this export created it and nothing else is left in it."""
    remove_owned(folder)
    for top in (DATA_DIR, STATE_DIR):
        remove_empty_dirs(folder / top)
    if created:
        remove_empty_dirs(folder)


def write_text(path: Path, text: str) -> None:
    """Write atomically (temporary sibling, then rename)."""
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
