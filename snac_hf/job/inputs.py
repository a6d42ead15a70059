"""The tokenize job's view of its input: a fingerprint, the units, and each unit's rows.

Two kinds, one interface (`fingerprint`, `kept`, `plan`, `read`):

- `MapInput`: a map-style `datasets.Dataset` with `id`, `file_path`, `audio` (undecoded) and the
  kept columns (a folder, or a `--dataset` loaded whole). Rows are read by index, a unit at a time.
- `StreamInput`: a `StreamSource` (`--streaming`). Its rows per source shard are counted once (by
  the main process, kept in `.snac_hf/source_rows.json`), then each process reads its source
  shards front to back, skipping without decoding the rows of units that are done or not its own.

Fingerprints (what makes a resume refuse a changed input): per row, a file on disk counts with
its size and modification time, audio held as bytes with the SHA-256 of those bytes; a streamed
source with its data files' origin metadata (`dataset_source.source_fingerprint`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
from datasets import Dataset, Features

from snac_hf.job.units import Unit, map_units, stream_units
from snac_hf.sources.dataset import StreamSource, source_fingerprint
from snac_hf.sources.path_text import fs_path_of_value
from snac_hf.tokenset.ownership import STATE_DIR
from snac_hf.tokenset.schema import SPLIT

COUNTS_FILE = "source_rows.json"


def counts_file(split: str = SPLIT) -> str:
    """`.snac_hf/` file of a streamed split's rows per source shard (train: `source_rows.json`)."""
    return COUNTS_FILE if split == SPLIT else f"source_rows-{split}.json"


SNAC_INPUT_COLUMNS = ("id", "file_path", "audio")


def rows_digest(audio: Dataset) -> str:
    """SHA-256 over every row: id, then the audio bytes, or a file's path, size and mtime, then the
    kept columns' values (a transcript edited in metadata.csv is another input: a resume over it
    would mix old and new transcripts)."""
    digest = hashlib.sha256()
    table = audio.with_format("arrow")
    kept = [c for c in audio.column_names if c not in SNAC_INPUT_COLUMNS]
    for start in range(0, len(audio), 1024):
        batch = table[start : start + 1024]
        if kept:
            digest.update(json.dumps(batch.select(kept).to_pylist(), default=str).encode())
        column = (
            batch["audio"].combine_chunks() if isinstance(batch["audio"], pa.ChunkedArray) else batch["audio"]
        )
        blobs, paths = column.field("bytes"), column.field("path")
        for item_id, blob, path in zip(batch["id"].to_pylist(), blobs, paths.to_pylist()):
            digest.update(json.dumps(item_id).encode())
            if blob.is_valid:
                digest.update(b"B%d:" % len(blob.as_buffer()))
                digest.update(blob.as_buffer())
            else:
                real = fs_path_of_value(path) if path else None
                stat = os.stat(real) if real and os.path.isfile(real) else None
                entry = [path, stat.st_size, stat.st_mtime_ns] if stat else [path]
                digest.update(b"P" + json.dumps(entry).encode())
    return digest.hexdigest()


class MapInput:
    """A map-style dataset of rows `id`, `file_path`, `audio`, kept columns."""

    n_source_shards = None

    def __init__(self, dataset: Dataset, source: dict | None = None, skipped: list[dict] | None = None):
        missing = [c for c in SNAC_INPUT_COLUMNS if c not in dataset.column_names]
        if missing:
            raise ValueError(f"the input dataset lacks the columns {missing}")
        self.dataset = dataset
        self.source = source or {}
        self.skipped = skipped or []  # entries of the input that are neither rows nor errors

    @property
    def kept(self) -> Features:
        return Features(
            {c: self.dataset.features[c] for c in self.dataset.column_names if c not in SNAC_INPUT_COLUMNS}
        )

    def __len__(self) -> int:
        return len(self.dataset)

    def fingerprint(self) -> dict:
        return {**self.source, "rows": rows_digest(self.dataset), "n_rows": len(self.dataset)}

    def plan(
        self, folder: Path, files_per_shard: int, is_main: bool, wait: Callable[[], None], split: str = SPLIT
    ) -> list[Unit]:
        return map_units(len(self.dataset), files_per_shard, split)

    def read(self, units: list[Unit]) -> Iterator[tuple[Unit, list[dict]]]:
        for unit in units:
            batch = self.dataset[unit.start : unit.stop]
            names = list(batch)
            yield unit, [dict(zip(names, values)) for values in zip(*(batch[n] for n in names))]


class StreamInput:
    """A streamed source, read source shard by source shard."""

    skipped: list[dict] = []  # every row of a source is a row or an error

    def __init__(self, source: StreamSource):
        self.source = source
        self.n_source_shards = source.n_shards

    @property
    def kept(self) -> Features:
        return self.source.kept

    def fingerprint(self) -> dict:
        return {"stream": source_fingerprint(self.source.request), "n_source_shards": self.source.n_shards}

    def plan(
        self, folder: Path, files_per_shard: int, is_main: bool, wait: Callable[[], None], split: str = SPLIT
    ) -> list[Unit]:
        """Units from the rows per source shard (counted once by the main process, then kept)."""
        path = folder / STATE_DIR / counts_file(split)
        if is_main and not path.is_file():
            counts = self.source.count_rows()
            tmp = path.with_name(f".{path.name}.partial")
            tmp.write_text(json.dumps(counts))
            os.replace(tmp, path)
        wait()
        counts = truncate(json.loads(path.read_text()), self.source.request.max_files)
        return stream_units(counts, files_per_shard, split)

    def read(self, units: list[Unit]) -> Iterator[tuple[Unit, list[dict]]]:
        by_shard: dict[int, list[Unit]] = {}
        for unit in units:
            by_shard.setdefault(unit.source_shard, []).append(unit)
        for shard, members in by_shard.items():
            spans = [(u.local_start, u.local_start + len(u)) for u in members]
            for number, rows in self.source.rows(shard, spans):
                unit = members[number]
                yield unit, [self.source.row_dict(row, unit.start + i) for i, row in enumerate(rows)]


def truncate(counts: list[int], max_files: int | None) -> list[int]:
    """Rows per source shard when only the first `max_files` rows of the source are taken."""
    if max_files is None:
        return counts
    kept, left = [], max_files
    for n in counts:
        kept.append(min(n, left))
        left -= kept[-1]
    return kept
