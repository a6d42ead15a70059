"""File names as text: paths that are not valid UTF-8 (or hold a backslash) as ids, losslessly.

A POSIX file name is bytes; Python decodes it with the file-system encoding (UTF-8) and turns each
byte that is not valid UTF-8 into a lone surrogate U+DC80..U+DCFF ("surrogateescape"). Arrow, JSON
and Parquet strings cannot hold lone surrogates, so such a path cannot be an `id` as it is.

`text_path` renders a path as text, character by character:

- a backslash `\\` becomes two backslashes `\\\\`;
- a surrogate U+DC80 + b (the byte b, 0x80..0xFF, that was not UTF-8) becomes `\\xHH`, HH the
  byte in lower-case hex;
- every other character stays as it is.

So a valid UTF-8 name without a backslash is unchanged, and `path_from_text` inverts the rendering
exactly (`path_from_text(text_path(p)) == p` for every path p): ids round-trip to the bytes.

A row's *audio value* must name a file the decoder can open. A path that is valid UTF-8 is kept
as it is; any other is stored as a `file://` URI (RFC 8089: the path's bytes, percent-encoded,
absolute), which `fs_path_of_value` turns back into the bytes path. No path snac_hf stores is
otherwise a `file://` string (its paths come from `pathlib`, which never writes `//`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote_to_bytes

FILE_URI = "file://"
_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2})")


def needs_uri(path: str) -> bool:
    """Whether `path` holds a byte that is not UTF-8 (a lone surrogate), so text cannot hold it."""
    return any("\udc80" <= ch <= "\udcff" for ch in path)


def text_path(path: str) -> str:
    """`path` as valid text: `\\` -> `\\\\`, undecodable byte b -> `\\xHH`; otherwise unchanged."""
    if "\\" not in path and not needs_uri(path):
        return path
    out = []
    for ch in path:
        if ch == "\\":
            out.append("\\\\")
        elif "\udc80" <= ch <= "\udcff":
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        else:
            out.append(ch)
    return "".join(out)


def path_from_text(text: str) -> str:
    """The inverse of `text_path`: the path (surrogateescape'd str) that `text` renders."""

    def unescape(match: re.Match) -> str:
        token = match.group(1)
        return "\\" if token == "\\" else chr(0xDC00 + int(token[1:], 16))

    return _ESCAPE.sub(unescape, text)


def audio_path_value(path: str) -> str:
    """What an undecoded audio value stores for the file at `path`: the path itself when it is valid
    text, else its absolute `file://` URI (bytes percent-encoded)."""
    return Path(os.path.abspath(path)).as_uri() if needs_uri(path) else path


def fs_path_of_value(path: str) -> str | bytes:
    """The file-system path an audio value's `path` names: bytes for a `file://` URI, else `path`."""
    if path.startswith(FILE_URI):
        return unquote_to_bytes(path[len(FILE_URI) :])
    return path
