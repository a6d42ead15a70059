"""The token set an export reads: its shards as work units, its layout, and the columns it carries.

A token-set folder is checked whole first (`snac_hf.tokenset.integrity.check_token_set`), Parquet
files given by name or glob one by one; each Parquet file is one unit, read with pyarrow in
batches of `BATCH_ROWS` rows and only the columns the export needs, so memory depends on the
batch, not on the set. A `save_to_disk` folder or a Hub dataset (`open_token_set`) is cut into
contiguous shards of `DATASET_UNIT_ROWS` rows. The codec layout is the one in metadata.json; without
one, three scales of codes can only be SNAC 24 kHz (the one published 3-scale model). Anything that
is not SNAC 24 kHz is refused here (`orpheus.check_orpheus_layout`), before anything is written.

Columns. The token set's own columns become the row (`tokens_scale_k` -> `input_ids`) or are
dropped: `file_path` (a local path: an export is meant to be published), `duration`,
`n_tokens_scale_k`, `shape_scale_k` (they describe the codes, which the row replaces). `id` is
kept, and so is every other column: the ones `snac-hf tokenize --keep_columns` carried
(transcripts, speakers, ...), the text column included. A column named like an output column
(`input_ids`, `labels`, `attention_mask`) is replaced, not carried.
"""

from __future__ import annotations

import glob
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Dataset, Features, Value

from snac_hf.export.orpheus import check_orpheus_layout
from snac_hf.layout import CodecLayout, layout_for
from snac_hf.tokenset.completeness import PartialSet, check_finished
from snac_hf.tokenset.integrity import check_parquet_files, check_token_set
from snac_hf.tokenset.json_files import DamagedInputError
from snac_hf.tokenset.load import is_saved_to_disk, open_token_set
from snac_hf.tokenset.row_checks import check_rows
from snac_hf.tokenset.schema import DATA_DIR, layout_of, n_scales_of, read_metadata, split_files

#: Rows per Arrow batch: a token set's shard (256 files by default) in one or a few batches.
BATCH_ROWS = 256
#: Rows per unit of a Dataset source (a Parquet source has one unit per file).
DATASET_UNIT_ROWS = 4096
#: Columns the export writes; a token-set column of one of these names is not carried.
OUTPUT_COLUMNS = ("id", "input_ids", "labels", "attention_mask")
#: Token-set columns the row replaces or that are never published (module docstring).
DROPPED = ("file_path", "duration")


def is_snac_column(name: str) -> bool:
    """Whether `name` is one of the token set's own code columns (tokens, counts, shapes)."""
    for prefix in ("tokens_scale_", "n_tokens_scale_", "shape_scale_", "padding_scale_"):
        if name.startswith(prefix) and name[len(prefix) :].isdigit():
            return True
    return False


@dataclass(frozen=True)
class ExportUnit:
    """One shard of the token set: a Parquet file, or rows `shard` of `count` of a Dataset."""

    index: int
    first_row: int  # the set's row number of this unit's first row (ids of rows without one)
    path: str | None = None
    dataset: Dataset | None = None
    shard: int = 0
    count: int = 1

    def batches(
        self, columns: list[str], layout: CodecLayout | None = None
    ) -> Iterator[pa.RecordBatch | pa.Table]:
        """Arrow batches of `BATCH_ROWS` rows holding `columns` (those the unit has). With `layout`,
        each batch's durations and `n_tokens_scale_k` are first checked against its codes
        (`snac_hf.tokenset.row_checks`: a row that contradicts itself is refused, never exported)."""
        checked = [c for c in ("duration", *(f"n_tokens_scale_{k}" for k in range(3))) if c not in columns]
        first_row = 0
        for batch in self._read([*columns, *checked] if layout is not None else columns):
            if layout is not None:
                check_rows(batch, layout, self.path or "the dataset", first_row)
                batch = batch.select([c for c in columns if c in batch.schema.names])
            first_row += batch.num_rows
            yield batch

    def _read(self, columns: list[str]) -> Iterator[pa.RecordBatch | pa.Table]:
        if self.path is None:
            part = self.dataset.shard(self.count, self.shard, contiguous=True)
            part = part.select_columns([c for c in columns if c in part.column_names])
            yield from part.with_format("arrow").iter(batch_size=BATCH_ROWS)
            return
        try:
            parquet = pq.ParquetFile(self.path)
            names = set(parquet.schema_arrow.names)
            yield from parquet.iter_batches(batch_size=BATCH_ROWS, columns=[c for c in columns if c in names])
        except (OSError, pa.ArrowException) as error:  # a data page damaged behind an intact footer
            raise DamagedInputError(f"{self.path}: unreadable ({type(error).__name__}: {error})") from None


@dataclass(frozen=True)
class TokenSource:
    """A token set resolved for export."""

    description: str
    units: list[ExportUnit]
    layout: CodecLayout
    features: Features
    folder: str | None  # the token-set folder, when the source is one
    metadata: dict | None  # its metadata.json
    partial: PartialSet | None = None  # the done part of an unfinished set, read with allow_partial

    @property
    def column_names(self) -> list[str]:
        return list(self.features)

    def kept_columns(self) -> list[str]:
        """The columns carried into the export besides `id` (module docstring)."""
        return [
            name
            for name in self.column_names
            if not is_snac_column(name) and name not in DROPPED and name not in OUTPUT_COLUMNS
        ]

    def check_text_column(self, name: str, flag: str) -> None:
        """A ValueError unless `name` is a string column of the set (`flag` names the option)."""
        if name not in self.features:
            carried = ", ".join(self.kept_columns()) or "none"
            raise ValueError(
                f"{flag} {name}: {self.description} has no column {name!r} (columns carried from the "
                f"input: {carried}). Keep it when tokenizing: `snac-hf tokenize ... --keep_columns {name}`"
            )
        feature = self.features[name]
        if not (isinstance(feature, Value) and feature.dtype in ("string", "large_string")):
            raise ValueError(f"{flag} {name}: the column holds {feature}, not text")


def resolve_layout(source: str, n_scales: int, recorded: CodecLayout | None) -> CodecLayout:
    """The recorded layout; without one, SNAC 24 kHz for 3 scales; checked to be SNAC 24 kHz."""
    if recorded is None:
        if n_scales != 3:
            raise ValueError(
                f"{source} holds {n_scales} scales of codes; the Orpheus layout exists only for SNAC "
                "24 kHz (3 scales): tokenize the audio with --model hubertsiuzdak/snac_24khz"
            )
        recorded = layout_for("snac_24khz")
    check_orpheus_layout(recorded, source)
    if recorded.n_scales != n_scales:
        raise ValueError(f"{source}: {n_scales} token columns, but its layout has {recorded.n_scales} scales")
    return recorded


def parquet_source(
    description: str, paths: list[str], folder: str | None, split: str = "train", allow_partial: bool = False
) -> TokenSource:
    partial = check_finished(folder, allow_partial) if folder else None
    footers = check_token_set(folder, allow_partial) if folder else check_parquet_files(paths)
    if folder:  # the whole set is checked; split `split` is read
        chosen = set(split_files([f.path for f in footers], split, folder))
        footers = [f for f in footers if f.path in chosen]
    schema = pq.read_schema(footers[0].path)
    n_scales = n_scales_of(schema.names)
    meta_folder = folder
    if folder is None and os.path.basename(os.path.dirname(os.path.abspath(footers[0].path))) == DATA_DIR:
        meta_folder = os.path.dirname(os.path.dirname(os.path.abspath(footers[0].path)))
    layout = resolve_layout(description, n_scales, layout_of(meta_folder) if meta_folder else None)
    units, first = [], 0
    for i, footer in enumerate(footers):
        units.append(ExportUnit(index=i, first_row=first, path=footer.path))
        first += footer.rows
    metadata = read_metadata(meta_folder) if meta_folder else None
    features = Features.from_arrow_schema(schema)
    return TokenSource(description, units, layout, features, folder, metadata, partial)


def dataset_source(description: str, dataset: Dataset) -> TokenSource:
    n_scales = n_scales_of(dataset.column_names)
    layout = resolve_layout(description, n_scales, None)
    count = max(1, math.ceil(len(dataset) / DATASET_UNIT_ROWS))
    units = []
    for i in range(count):
        start = _shard_start(len(dataset), count, i)
        units.append(ExportUnit(i, start, dataset=dataset, shard=i, count=count))
    return TokenSource(description, units, layout, dataset.features, None, None)


def _shard_start(n: int, count: int, index: int) -> int:
    """The first row of `Dataset.shard(count, index, contiguous=True)` of n rows."""
    div, mod = divmod(n, count)
    return div * index + min(index, mod)


def open_source(source: str | Dataset, split: str = "train", allow_partial: bool = False) -> TokenSource:
    """A token-set folder, Parquet file or glob, `save_to_disk` folder, Hub dataset name, or Dataset;
    of a folder or a dataset name, split `split`. An unfinished token-set folder is refused unless
    `allow_partial` (`snac_hf.tokenset.completeness`)."""
    if isinstance(source, Dataset):
        return dataset_source("the dataset", source)
    source = str(source)
    if os.path.isdir(source) and not is_saved_to_disk(source):
        return parquet_source(source, [], source, split, allow_partial)
    if source.endswith(".parquet") or glob.has_magic(source):
        files = sorted(glob.glob(source))
        if not files:
            raise FileNotFoundError(f"{source}: no Parquet file matches")
        return parquet_source(source, files, None)
    return dataset_source(source, open_token_set(source, split))
