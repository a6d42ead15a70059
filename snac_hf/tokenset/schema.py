r"""A *token set*: the folder that `scripts/tokenize.py` writes; its file names, columns and shards.

Layout (what `push_to_hub` writes and `load_dataset(folder)` reads)::

    folder/
      README.md              dataset card: YAML features + configs, and the figures
      metadata.json          files processed/failed, audio duration, codec config, per-scale stats
      errors.jsonl           one line per file that failed: {"id", "file_path", "error"}
      data/train-00000-of-00003.parquet   one shard per work unit (zstd, int16 code lists)
      data/validation-00000-of-00001.parquet   another split, when the set has one
      .snac_hf/              resume state (unit records); ignored by load_dataset

Columns, one row per audio file (the original script's columns plus a stable `id`):

    id                 string   stable key: the path relative to --input_dir, or dataset:split:index
    file_path          string   where the audio came from
    duration           float64  seconds of audio (after resampling to the codec's rate)
    tokens_scale_k     list<int16>  the codes of scale k (0 = coarsest), 0..codebook_size-1
    n_tokens_scale_k   int32    len(tokens_scale_k)
    shape_scale_k      list<int32>  shape of SNAC's code tensor for this file: [1, n_tokens_scale_k]
    padding_scale_k    list<int16>  padding codes: SNAC's codes of scale k over its own zero padding
                                    that complete the file's last frame, after tokens_scale_k
                                    (`CodecLayout.frame_codes` - `n_codes`: 0/0-1/0-3 codes at 24 kHz);
                                    not audio, so analysis and BPE never read them; the Orpheus
                                    export writes upstream's whole last frame from them. Sets made
                                    before this column existed lack it (metadata.json: `padding_codes`).

Splits: a shard's split is the part of its name before `-NNNNN-of-NNNNN.parquet`, the file-name
convention `load_dataset` and the Hub use to name splits without a `configs:` entry, so
`load_dataset(folder)` returns a DatasetDict with every split by its name. A split name is a
`datasets` split name (`\w+(\.\w+)*`: letters, digits, `_`, `.`; no `-`). Every reader of a
token set reads one split, `train` by default (`split_files`).

Reading a token set back as a Dataset is `snac_hf.tokenset.load`. No torch here.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Features, List, Value

from snac_hf.layout import CodecLayout
from snac_hf.tokenset.json_files import read_json_object

METADATA_FILE = "metadata.json"
ERRORS_FILE = "errors.jsonl"
DATA_DIR = "data"
SPLIT = "train"


def tokens_column(scale: int) -> str:
    return f"tokens_scale_{scale}"


def count_column(scale: int) -> str:
    return f"n_tokens_scale_{scale}"


def shape_column(scale: int) -> str:
    return f"shape_scale_{scale}"


def padding_column(scale: int) -> str:
    return f"padding_scale_{scale}"


def has_padding_columns(column_names: Iterable[str]) -> bool:
    """Whether a token table carries padding codes (`padding_scale_0`): sets made since it existed."""
    return padding_column(0) in set(column_names)


def token_features(n_scales: int, kept: Features | None = None, padding: bool = False) -> Features:
    """The token set's features: snac_hf's columns (with `padding`, the padding codes), then the
    columns kept from the input."""
    features = {
        "id": Value("string"),
        "file_path": Value("string"),
        "duration": Value("float64"),
    }
    for k in range(n_scales):
        features[tokens_column(k)] = List(Value("int16"))
    for k in range(n_scales):
        features[count_column(k)] = Value("int32")
    for k in range(n_scales):
        features[shape_column(k)] = List(Value("int32"))
    for k in range(n_scales if padding else 0):
        features[padding_column(k)] = List(Value("int16"))
    return Features({**features, **(kept or {})})


def n_scales_of(column_names: Iterable[str]) -> int:
    """Number of scales in a token table, from its `tokens_scale_k` columns."""
    names = set(column_names)
    n = 0
    while tokens_column(n) in names:
        n += 1
    if n == 0:
        raise ValueError(f"not a token set: no 'tokens_scale_0' column among {sorted(names)}")
    return n


def codes_array(codes: Sequence[int] | np.ndarray, codebook_size: int = 4096) -> pa.Array:
    """Codes of one scale as an int16 Arrow array, refusing values outside the codebook."""
    values = np.asarray(codes)
    if values.size and (values.min() < 0 or values.max() >= codebook_size):
        raise ValueError(f"codes outside 0..{codebook_size - 1}: min {values.min()}, max {values.max()}")
    return pa.array(values.astype(np.int16), type=pa.int16())


def rows_to_table(
    rows: Sequence[dict], n_scales: int, codebook_size: int = 4096, kept: Features | None = None
) -> pa.Table:
    """Build a token table from rows `{"id", "file_path", "duration", "codes": [scale0, ...]}`
    (plus one value per `kept` column, carried unchanged). Rows that also hold `"padding": [scale0,
    ...]` (every row or none) give the `padding_scale_k` columns.

    The code lists are assembled from one flat buffer per scale (no Python list per token).
    """
    columns: dict[str, pa.Array] = {
        "id": pa.array([r["id"] for r in rows], pa.string()),
        "file_path": pa.array([r["file_path"] for r in rows], pa.string()),
        "duration": pa.array([float(r["duration"]) for r in rows], pa.float64()),
    }
    lengths = [[len(r["codes"][k]) for r in rows] for k in range(n_scales)]
    for k in range(n_scales):
        columns[tokens_column(k)] = code_lists([r["codes"][k] for r in rows], codebook_size)
    for k in range(n_scales):
        columns[count_column(k)] = pa.array(lengths[k], pa.int32())
    for k in range(n_scales):
        columns[shape_column(k)] = pa.array([[1, n] for n in lengths[k]], pa.list_(pa.int32()))
    padding = bool(rows) and "padding" in rows[0]
    for k in range(n_scales if padding else 0):
        columns[padding_column(k)] = code_lists([r["padding"][k] for r in rows], codebook_size)
    features = token_features(n_scales, kept, padding)
    schema = features.arrow_schema
    for name in kept or {}:
        columns[name] = pa.array([r[name] for r in rows], schema.field(name).type)
    return pa.Table.from_pydict(columns, schema=schema)


def code_lists(per_row: Sequence[Sequence[int] | np.ndarray], codebook_size: int = 4096) -> pa.Array:
    """One list<int16> array of code lists, from one flat buffer (`codes_array`) and its offsets."""
    flat = [np.asarray(codes) for codes in per_row]
    values = codes_array(np.concatenate(flat) if flat else np.zeros(0, np.int16), codebook_size)
    offsets = np.concatenate([[0], np.cumsum([len(c) for c in flat], dtype=np.int64)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def write_parquet(table: pa.Table, path: str | os.PathLike, kept: Features | None = None) -> None:
    """Write atomically (temporary file, then rename), zstd, with the HF features in the schema.

    Empty tables are refused: `load_dataset` fails on a Parquet file with no rows.
    """
    if table.num_rows == 0:
        raise ValueError(f"{path}: refusing to write an empty shard (load_dataset cannot read it)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n_scales = n_scales_of(table.column_names)
    features = token_features(n_scales, kept, has_padding_columns(table.column_names))
    table = table.replace_schema_metadata(features.arrow_schema.metadata)
    tmp = path.with_name(f".{path.name}.partial")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


#: What `datasets` accepts as a split name (`datasets.splits._split_re`).
SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")
_SHARD = re.compile(r"^(?P<split>\w+(?:\.\w+)*)-\d{5}-of-\d{5}\.parquet$")


def check_split_name(split: str) -> str:
    """`split` when it can name a split of a token set (a `datasets` split name), else ValueError."""
    if not isinstance(split, str) or not SPLIT_NAME.match(split):
        raise ValueError(
            f"split {split!r}: a split name is letters, digits, '_' and '.', such as train, validation, test"
        )
    return split


def shard_name(index: int, total: int, split: str = SPLIT) -> str:
    return f"{DATA_DIR}/{split}-{index:05d}-of-{total:05d}.parquet"


def split_of_shard(path: str | os.PathLike) -> str | None:
    """The split a shard's file name gives it (`data/validation-00000-of-00002.parquet`: validation),
    or None for a name outside the convention."""
    match = _SHARD.match(os.path.basename(str(path)))
    return match["split"] if match else None


def parquet_files(folder: str | os.PathLike) -> list[str]:
    """The data shards of a token-set folder, sorted (every split)."""
    return sorted(glob.glob(os.path.join(str(folder), DATA_DIR, "*.parquet")))


def splits_of(paths: Iterable[str | os.PathLike]) -> list[str]:
    """The split names of these shards, sorted, `train` first (names outside the convention: train,
    as `load_dataset` reads a lone `data/*.parquet` as train)."""
    names = {split_of_shard(p) or SPLIT for p in paths}
    return sorted(names, key=lambda name: (name != SPLIT, name))


def split_files(paths: Sequence[str], split: str, source: str | os.PathLike) -> list[str]:
    """The shards among `paths` of split `split` (see `splits_of`); a split the set does not hold is a
    ValueError naming the splits it holds."""
    chosen = [p for p in paths if (split_of_shard(p) or SPLIT) == split]
    if not chosen and paths:
        raise ValueError(
            f"{source}: no split {split!r} in this token set (its splits: {', '.join(splits_of(paths))}); "
            "pick one with --split"
        )
    return chosen


def read_metadata(folder: str | os.PathLike) -> dict | None:
    """A token set's metadata.json (None if there is none); a damaged one is a one-line error."""
    path = Path(folder) / METADATA_FILE
    if not path.is_file():
        return None
    return read_json_object(
        path, "restore it, or run the scripts/tokenize.py command that wrote the set again"
    )


def layout_of(folder: str | os.PathLike) -> CodecLayout | None:
    """The codec layout recorded in a token set's metadata.json (None if there is none).

    The layout must be usable (positive sizes and strides) and agree with itself: the derived
    figures metadata.json also records (`n_scales`, `pad_multiple`, `codes_per_second`) and the
    SNAC config beside it (`codec.config`), when present, must be those of its `vq_strides`,
    `hop_length`, `sampling_rate`; otherwise a ValueError names metadata.json and the contradiction.
    """
    meta = read_metadata(folder)
    if not meta or "codec" not in meta:
        return None
    path = Path(folder) / METADATA_FILE
    try:
        recorded = meta["codec"]["layout"]
        layout = CodecLayout.from_dict(recorded)
        config = meta["codec"].get("config")
        from_config = CodecLayout.from_snac_config(config) if isinstance(config, dict) and config else None
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"{path}: no usable codec layout ({type(error).__name__}: {error})") from None
    problem = layout_problem(layout, recorded, from_config)
    if problem:
        raise ValueError(f"{path}: contradictory codec layout: {problem}; restore the file")
    return layout


def token_set_marker(folder: str | os.PathLike) -> str | None:
    """What shows that `folder` holds a token set or another dataset (a file name), or None.

    Any of metadata.json, `data/*.parquet`, `state.json` or `dataset_dict.json` (save_to_disk).
    """
    folder = Path(folder)
    for name in (METADATA_FILE, "state.json", "dataset_dict.json"):
        if (folder / name).is_file():
            return name
    shards = parquet_files(folder)
    return os.path.relpath(shards[0], folder) if shards else None


def layout_problem(layout: CodecLayout, recorded: dict, from_config: CodecLayout | None) -> str | None:
    """What is wrong with a layout read from metadata.json, or None.

    Sizes and strides must be positive; the derived figures `recorded` also holds (`n_scales`,
    `pad_multiple`, `codes_per_second`, as `CodecLayout.to_dict` writes them) must be this layout's;
    `from_config` (the layout of the SNAC config beside it) must be the same layout.
    """
    sizes = (layout.sampling_rate, layout.hop_length, layout.codebook_size, *layout.vq_strides)
    if not layout.vq_strides or min(sizes) < 1:
        return f"sizes and strides must be positive, got {recorded}"
    derived = layout.to_dict()
    for key in ("n_scales", "pad_multiple", "codes_per_second"):
        if key in recorded and recorded[key] != derived[key]:
            return f"{key} is {recorded[key]}, but vq_strides {list(layout.vq_strides)} give {derived[key]}"
    if from_config is not None and from_config != layout:
        return f"codec.layout {layout} differs from the layout of codec.config {from_config}"
    return None
