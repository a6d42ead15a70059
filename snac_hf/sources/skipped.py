"""What a folder scan leaves out: entries under `--input_dir` that are neither a row nor an error.

Every entry the scan meets becomes a row (an audio file), an error line (a row whose audio fails
to decode) or one line of `skipped.jsonl`: `{"file_path", "reason"}`, sorted by path. The reasons
are the constants below; a skipped folder (another token set, an unreadable directory, a link to
a directory) is one line, not one per file inside.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

SKIPPED_FILE = "skipped.jsonl"

NOT_AUDIO = "not an audio extension"
NO_EXTENSION = "no file extension"
TOKEN_SET = "token set written by snac_hf"
DIRECTORY_LINK = "link to a directory (not followed)"
BROKEN_LINK = "broken link"
LINK_LOOP = "link loop"
UNREADABLE_DIRECTORY = "unreadable directory"
AUDIO_NAMED_DIRECTORY = "directory named like audio (its files are scanned)"
VANISHED = "vanished during the scan"
NO_STAT = "cannot stat"


def not_regular(kind: str) -> str:
    """Reason for a fifo, socket or device: never opened (reading a fifo or /dev/zero never ends)."""
    return f"not a regular file ({kind})"


def write_skipped(folder: str | os.PathLike, skipped: Sequence[dict]) -> int:
    """Write `skipped.jsonl` into `folder` atomically (also when empty); returns the line count."""
    path = Path(folder) / SKIPPED_FILE
    tmp = path.with_name(f".{SKIPPED_FILE}.partial")
    with open(tmp, "w") as f:
        for entry in skipped:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return len(skipped)


def skipped_summary(skipped: Sequence[dict]) -> str:
    """`3 skipped (2 not an audio extension, 1 broken link)`: counts per reason, most common first."""
    counts = Counter(entry["reason"] for entry in skipped)
    reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items(), key=lambda c: (-c[1], c[0])))
    return f"{len(skipped)} skipped" + (f" ({reasons})" if reasons else "")
