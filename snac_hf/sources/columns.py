"""Columns carried from the input into the token set unchanged (`--keep_columns`): transcripts,
speaker ids, languages. torch-free.

Rules:
- Only *flat* columns are carried: `Value` (strings, numbers, bools), `ClassLabel`, and lists of
  `Value` (e.g. phonemes). Audio, images and nested structs are refused by name.
- A kept column may not take the name of a snac_hf column (`id`, `file_path`, `duration`,
  `tokens_scale_k`, `n_tokens_scale_k`, `shape_scale_k`): that is an error, not a rename. A
  source whose own `id` column is the key to keep can make it snac_hf's `id` with `--id_column id`.
- `all` keeps every flat column but the audio (and the `--id_column`); a column of another kind
  is then left out, not refused, and `kept_features` says which ones were.
- A folder input gets its columns from `metadata.csv` or `metadata.jsonl` at its top (the
  `audiofolder` convention: a `file_name` column holding each file's path relative to the folder).
  A file without a metadata line gets nulls; a metadata line without a file is ignored.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from datasets import ClassLabel, Dataset, Features, List, Sequence, Value

_SNAC_COLUMN = re.compile(r"^(id|file_path|duration|(n_)?tokens_scale_\d+|(shape|padding)_scale_\d+)$")
METADATA_FILES = ("metadata.csv", "metadata.jsonl")


class ColumnError(ValueError):
    """A requested column cannot be carried; the message says which and why."""


def is_snac_column(name: str) -> bool:
    return bool(_SNAC_COLUMN.match(name))


def is_flat(feature: object) -> bool:
    if isinstance(feature, (Value, ClassLabel)):
        return True
    if isinstance(feature, (List, Sequence)):
        return isinstance(feature.feature, Value)
    return False


def kept_features(
    features: Features, requested: list[str] | None, source: str, exclude: tuple[str, ...] = ()
) -> tuple[Features, list[str]]:
    """The features of the columns to carry, and (for `all`) the columns left out as not flat.

    `exclude`: the audio column and the `--id_column`, which are never carried as extra columns.
    """
    if not requested:
        return Features({}), []
    names = [n for n in features if n not in exclude]
    if requested == ["all"]:
        left_out = [n for n in names if not is_flat(features[n])]
        chosen = [n for n in names if is_flat(features[n])]
    else:
        left_out = []
        chosen = list(dict.fromkeys(requested))
        for name in chosen:
            if name not in features:
                raise ColumnError(
                    f"--keep_columns {name}: {source} has no such column (columns: {sorted(features)})"
                )
            if name in exclude:
                raise ColumnError(f"--keep_columns {name}: that is the audio or --id_column of {source}")
            if not is_flat(features[name]):
                raise ColumnError(
                    f"--keep_columns {name}: a {type(features[name]).__name__} column; only strings, "
                    "numbers, bools, class labels and lists of those are carried"
                )
    clashes = [n for n in chosen if is_snac_column(n)]
    if clashes:
        raise ColumnError(
            f"--keep_columns: {clashes} of {source} clash with snac_hf's own columns. Keep the others by "
            f"name; to use the source's own '{clashes[0]}' as the row key, pass --id_column {clashes[0]}"
        )
    return Features({n: features[n] for n in chosen}), left_out


def read_folder_metadata(input_dir: str) -> Dataset | None:
    """`metadata.csv` or `metadata.jsonl` at the top of `input_dir` as a Dataset (None if absent)."""
    present = [name for name in METADATA_FILES if (Path(input_dir) / name).is_file()]
    if not present:
        return None
    if len(present) > 1:
        raise ColumnError(f"{input_dir}: both metadata.csv and metadata.jsonl; keep one")
    path = str(Path(input_dir) / present[0])
    try:
        table = Dataset.from_csv(path) if path.endswith(".csv") else Dataset.from_json(path)
    except Exception as error:  # pandas/pyarrow parse errors: name the file
        raise ColumnError(f"{path}: cannot read it ({type(error).__name__}: {error})") from error
    if "file_name" not in table.column_names:
        raise ColumnError(f"{path}: no 'file_name' column (the audiofolder convention), so no row matches")
    check_unique_file_names(table["file_name"], path)
    return table


def check_unique_file_names(names: list, path: str) -> None:
    """Refuse a metadata file that names one audio file twice: which row's values would be kept
    would be an accident of order (a dict keeps the last one)."""
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        key = posixpath.normpath(str(name))
        if key in first:
            header = 2 if path.endswith(".csv") else 1  # csv: a header line, then row 0 on line 2
            raise ColumnError(
                f"{path}: file_name {name!r} on line {i + header} repeats line {first[key] + header}; "
                "keep one row per audio file"
            )
        first[key] = i


def attach_folder_columns(audio: Dataset, input_dir: str, requested: list[str] | None) -> Dataset:
    """Add the requested metadata columns to a folder's dataset, matched by `id` = `file_name`."""
    if not requested:
        return audio
    metadata = read_folder_metadata(input_dir)
    if metadata is None:
        raise ColumnError(
            f"--keep_columns: {input_dir} has no metadata.csv or metadata.jsonl to take columns from"
        )
    features, _ = kept_features(metadata.features, requested, f"{input_dir}/metadata", exclude=("file_name",))
    by_file = {posixpath.normpath(name): i for i, name in enumerate(metadata["file_name"])}
    rows = [by_file.get(item_id) for item_id in audio["id"]]
    for name, feature in features.items():
        values = metadata[name]
        audio = audio.add_column(name, [values[i] if i is not None else None for i in rows], feature=feature)
    return audio
