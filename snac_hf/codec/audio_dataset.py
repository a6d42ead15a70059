"""Decoded audio as a `datasets` folder: one Parquet file with an `Audio` column, for the Hub
viewer or an evaluation with `datasets` (`snac-hf decode --as_dataset`).

    from snac_hf.codec.audio_dataset import decode_rows_to_dataset
    decode_rows_to_dataset(rows, codec, "decoded/", tokenizer)   # load_dataset("decoded/")

The folder holds `data/train-00000-of-00001.parquet` (`DATASET_FILE`), whose rows are, in the
order of the input rows: `id` (the row's id, `snac_hf.codec.decode.row_ids`), `audio` (an `Audio`
feature at the codec's rate: the 32-bit float WAV bytes `snac_hf.codec.wav` writes, and the file
name the row would have had as a loose file), `duration` (seconds of the audio written) and, when
the input rows have them, `text` and `speaker` (`KEPT_COLUMNS`). Every row is checked first, as
for loose files (`plan_decode`); the file is written under a fresh temporary name and renamed,
row group by row group (`ROWS_PER_GROUP` rows held at a time), and an existing file is replaced
only with `overwrite`. Other Parquet files under `data/` are refused: `load_dataset` would read
them as part of the set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from snac_hf.bpe.tokenizer import AudioTokenizer
from snac_hf.codec.decode import codes_to_audio, output_names, plan_decode, row_ids
from snac_hf.codec.load import Codec
from snac_hf.codec.wav import float_wav_bytes

DATASET_FILE = "data/train-00000-of-00001.parquet"
#: Text columns of the input rows carried into the dataset (strings; a missing value is null).
KEPT_COLUMNS = ("text", "speaker")
#: Rows per Parquet row group: what is held in memory before it is written.
ROWS_PER_GROUP = 16


def check_dataset_output(
    rows: Sequence[dict], out_dir: str | os.PathLike, overwrite: bool = False
) -> list[Path]:
    """`[out_dir/DATASET_FILE]`, checked without a codec (`check_outputs`' rules for a folder of
    one file): a `NotADirectoryError` when `out_dir` is a file, a `FileExistsError` when the file
    (or a link by its name) exists already, unless `overwrite`, or when `data/` holds other
    Parquet files. The ids are checked as for loose files (distinct)."""
    output_names(row_ids(rows))
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise NotADirectoryError(f"--output_dir {out_dir} is a file; give the path of a folder")
    path = Path(out_dir) / DATASET_FILE
    others = sorted(p.name for p in path.parent.glob("*.parquet") if p.name != path.name)
    if others:
        raise FileExistsError(
            f"{path.parent} holds other Parquet files ({', '.join(others[:3])}), which load_dataset would "
            "read with the decoded rows; nothing was written. Choose another --output_dir"
        )
    if os.path.lexists(path) and not overwrite:
        raise FileExistsError(
            f"{path} exists already; nothing was written. Pass --overwrite (overwrite=True) to replace "
            "it, or choose another --output_dir"
        )
    return [path]


def dataset_schema(sampling_rate: int, columns: Sequence[str]) -> pa.Schema:
    """The Arrow schema (with the `datasets` features in its metadata, so `load_dataset` gives an
    `Audio` column) of the rows `decode_rows_to_dataset` writes."""
    from datasets import Audio, Features, Value

    features = {
        "id": Value("string"),
        "audio": Audio(sampling_rate=sampling_rate),
        "duration": Value("float64"),
    }
    features.update({column: Value("string") for column in columns})
    return Features(features).arrow_schema


def decode_rows_to_dataset(
    rows: Sequence[dict],
    codec: Codec,
    out_dir: str | os.PathLike,
    tokenizer: AudioTokenizer | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Decode `rows` (as `decode_rows` does) into `out_dir/DATASET_FILE`; returns `[its path]`."""
    jobs = plan_decode(rows, codec, tokenizer)
    [path] = check_dataset_output(rows, out_dir, overwrite)
    rate = codec.layout.sampling_rate
    columns = [c for c in KEPT_COLUMNS if any(row.get(c) is not None for row in rows)]
    schema = dataset_schema(rate, columns)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        with os.fdopen(os.open(tmp, flags, 0o666), "wb") as sink, pq.ParquetWriter(sink, schema) as writer:
            batch: list[dict] = []
            for row, file_id, job in zip(rows, row_ids(rows), jobs, strict=True):
                audio = codes_to_audio(codec, job.codes, job.n_samples)
                batch.append(
                    {
                        "id": file_id,
                        "audio": {"bytes": float_wav_bytes(audio, rate), "path": job.name},
                        "duration": len(audio) / rate,
                        **{c: None if row.get(c) is None else str(row[c]) for c in columns},
                    }
                )
                if len(batch) == ROWS_PER_GROUP:
                    writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                    batch.clear()
            if batch:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return [path]
