"""Named, replaceable sections inside a Markdown file (dataset card, analysis report).

A section is the text between `<!-- snac_hf:NAME:start -->` and `<!-- snac_hf:NAME:end -->`.
Writing it again replaces it in place, so several tools (tokenize, analyze, compare_bpe) can each
own a part of one file without clobbering the others'.
"""

from __future__ import annotations

import os
import re
from pathlib import Path


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- snac_hf:{name}:start -->", f"<!-- snac_hf:{name}:end -->"


def replace_section(text: str, name: str, body: str) -> str:
    """`text` with section `name` set to `body` (appended at the end if absent)."""
    start, end = _markers(name)
    block = f"{start}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    return text.rstrip("\n") + ("\n\n" if text.strip() else "") + block + "\n"


def write_section(path: str | os.PathLike, name: str, body: str) -> None:
    """Set section `name` of the Markdown file at `path` (created if missing), atomically."""
    path = Path(path)
    text = path.read_text() if path.exists() else ""
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(replace_section(text, name, body))
    os.replace(tmp, path)


def remove_section(path: str | os.PathLike, name: str) -> bool:
    """Remove section `name` (and its markers) from the Markdown file at `path`, atomically;
    whether it was there."""
    path = Path(path)
    start, end = _markers(name)
    text = path.read_text() if path.exists() else ""
    pattern = re.compile(r"\n*" + re.escape(start) + r".*?" + re.escape(end) + r"\n?", re.DOTALL)
    if not pattern.search(text):
        return False
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(pattern.sub("\n", text, count=1).rstrip("\n") + "\n")
    os.replace(tmp, path)
    return True
