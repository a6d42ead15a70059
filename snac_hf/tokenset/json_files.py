"""JSON files snac_hf relies on (metadata.json, unit records, a model's config.json and snac_hf.json,
tokenizer files, ids files), read so that a damaged one is one line naming the file and what to do.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class DamagedInputError(ValueError):
    """An input is incomplete, unreadable or contradicts itself; the message names it."""


def read_json(path: str | os.PathLike, remedy: str) -> object:
    """The parsed JSON of `path`; a `DamagedInputError` naming the file and `remedy` if it is not JSON."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        return json.loads(text)
    except UnicodeDecodeError as error:
        raise DamagedInputError(f"{path}: not a UTF-8 text file ({error.reason}); {remedy}") from None
    except json.JSONDecodeError as error:
        raise DamagedInputError(
            f"{path}: not valid JSON ({error.msg} at line {error.lineno} column {error.colno}); {remedy}"
        ) from None


def read_json_object(path: str | os.PathLike, remedy: str) -> dict:
    """`read_json` for files that must hold one JSON object."""
    data = read_json(path, remedy)
    if not isinstance(data, dict):
        raise DamagedInputError(f"{path}: expected a JSON object, found a {type(data).__name__}; {remedy}")
    return data
