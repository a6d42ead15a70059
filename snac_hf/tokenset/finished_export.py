"""Whether an export folder (`snac-hf export`) is finished and holds the shards it wrote.

An export writes its shards, renames them to `data/train-i-of-n.parquet`, writes the card, and
writes `export.json` *last*, listing every shard with its sha256 (`shard_files`). So a folder that
an export started (`.snac_hf/manifest.json` whose `writer` is `"export"`) and that has no
`export.json` was stopped before it finished: `load_dataset` would read some of its shards as if
they were all. `check_export_folder` refuses such a folder, and one whose `data/` lacks a listed
shard, holds one more, or holds one whose bytes changed, in one line naming the file
(`DamagedInputError`). Readers call it before reading a folder with `load_dataset`
(`snac_hf.tokenset.load.open_dataset`, and so `snac-hf decode --dataset`). An `export.json` of an
older version lists no shard: its folder is taken as it is.

The digest reads every shard once (about 1 GB/s: `snac_hf.tokenset.integrity`), far less than
reading its rows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from snac_hf.tokenset.integrity import file_sha256
from snac_hf.tokenset.json_files import DamagedInputError, read_json_object
from snac_hf.tokenset.ownership import MANIFEST_FILE, STATE_DIR
from snac_hf.tokenset.schema import DATA_DIR

SUMMARY_FILE = "export.json"
#: The `writer` of an export folder's `manifest.json` (`snac_hf.export.folder.start_output`).
EXPORT_WRITER = "export"
REMEDY = "run the same export command again with --overwrite"


def shard_files(folder: str | os.PathLike, names: list[str]) -> list[dict]:
    """What `export.json` lists of each written shard: its path in the folder and its sha256."""
    return [{"path": name, "sha256": file_sha256(Path(folder) / name)} for name in names]


def is_started_export(folder: str | os.PathLike) -> bool:
    """Whether an export started `folder` (its manifest says so)."""
    try:
        manifest = json.loads((Path(folder) / STATE_DIR / MANIFEST_FILE).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("writer") == EXPORT_WRITER


def check_export_folder(folder: str | os.PathLike) -> None:
    """Nothing for a finished, intact export folder or a folder no export wrote; otherwise a
    `DamagedInputError` in one line (module docstring)."""
    folder = Path(folder)
    summary_path = folder / SUMMARY_FILE
    if not summary_path.is_file():
        if is_started_export(folder):
            raise DamagedInputError(
                f"{folder}: an unfinished export (no {SUMMARY_FILE}: it was stopped before it finished, "
                f"and its data/ may hold only some shards); {REMEDY}"
            )
        return
    summary = read_json_object(summary_path, REMEDY)
    listed = summary.get("shard_files")
    if summary.get("format") is None or not isinstance(listed, list):
        return  # not an export summary, or one of an older version: nothing to check against
    problems = _against_listed(folder, listed)
    if problems:
        more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise DamagedInputError(
            f"{folder}: the export is not the one {SUMMARY_FILE} lists: {'; '.join(problems[:5])}{more}; "
            f"restore the shards, or {REMEDY}"
        )


def _against_listed(folder: Path, listed: list) -> list[str]:
    expected = {
        entry["path"]: entry.get("sha256")
        for entry in listed
        if isinstance(entry, dict) and isinstance(entry.get("path"), str)
    }
    present = {p.relative_to(folder).as_posix() for p in (folder / DATA_DIR).glob("*.parquet")}
    problems = [f"{name} is missing" for name in sorted(set(expected) - present)]
    problems += [f"{name} is not one of its shards" for name in sorted(present - set(expected))]
    for name in sorted(present & set(expected)):
        if expected[name] and file_sha256(folder / name) != expected[name]:
            problems.append(f"{name} changed after the export wrote it (sha256 differs)")
    return problems
