"""The output folder of a tokenize run: may this run write there, resume there, or must it stop?

`.snac_hf/run.json` holds the run's fingerprint (everything that changes the output); a folder
whose fingerprint equals this run's is resumed; an empty folder (or a missing one) is started;
anything else stops the run unless `overwrite=True`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from snac_hf.tokenset import DATA_DIR, ERRORS_FILE, METADATA_FILE

STATE_DIR = ".snac_hf"
RUN_FILE = "run.json"
#: What a token-set folder may contain; `overwrite` removes exactly these, nothing else.
OWNED = (DATA_DIR, STATE_DIR, METADATA_FILE, ERRORS_FILE, "README.md", "analysis.json", "analysis.md")


class OutputExistsError(RuntimeError):
    """The output folder holds something other than this run's token set."""


def check_output(folder: Path, fingerprint: dict, overwrite: bool) -> bool:
    """Whether this run resumes a folder (True), starts fresh (False), or must stop (raises)."""
    run_file = folder / STATE_DIR / RUN_FILE
    if run_file.is_file() and json.loads(run_file.read_text()) == fingerprint:
        return True
    present = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    if not present or overwrite:
        return False
    what = "a token set made with other inputs or settings" if run_file.is_file() else f"files {present[:5]}"
    raise OutputExistsError(
        f"--output_dir {folder} already holds {what}. Nothing was changed. Use another folder, or pass "
        "--overwrite to replace the token set in it (only snac_hf's own files are removed)."
    )


def reset_output(folder: Path, fingerprint: dict) -> None:
    for name in OWNED:
        path = folder / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    for plot in folder.glob("*.png"):
        plot.unlink()
    (folder / STATE_DIR / "units").mkdir(parents=True)
    (folder / STATE_DIR / RUN_FILE).write_text(json.dumps(fingerprint, indent=2) + "\n")
