"""Where token rows come from: a token-set folder, Parquet files, or a `datasets.Dataset`.

A source becomes a list of *work units* (a Parquet file's row groups, or a contiguous shard of a
Dataset), each of which yields Arrow batches of about `BATCH_TOKENS` codes and reads only the
columns the analysis needs. Parquet is read directly with pyarrow: `load_dataset` on a local
folder would first copy it into the cache. The codec layout comes from the set's metadata.json
when there is one; otherwise it is assumed from the number of scales, and the report says so.
A folder is checked whole first (`snac_hf.tokenset.integrity.check_token_set`: shards against metadata.json
and the unit records, from the footers); Parquet files given by name or glob are checked one by
one (readable, with rows), since a share of a set is what `--save_partial` runs on. Every batch's
rows are checked as they are counted (`snac_hf.tokenset.row_checks`: `n_tokens_scale_k` against the
lists, durations against the codes of the recorded or given layout).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from datasets import Dataset

from snac_hf.analysis.arrow_codes import ArrowBatch
from snac_hf.layout import CodecLayout, layout_for
from snac_hf.tokenset.integrity import ShardFooter, check_parquet_files, check_token_set
from snac_hf.tokenset.json_files import DamagedInputError
from snac_hf.tokenset.load import is_saved_to_disk, open_token_set
from snac_hf.tokenset.schema import (
    DATA_DIR,
    METADATA_FILE,
    SPLIT,
    count_column,
    layout_of,
    n_scales_of,
    split_files,
    tokens_column,
)

BATCH_TOKENS = 1 << 22  # codes (all scales) per Arrow batch
DEFAULT_ROWS = 256  # rows per batch when the code counts per row are unknown


def wanted_columns(names: list[str], n_scales: int) -> list[str]:
    """What the analysis reads: `id`, `duration`, the code lists, and the `n_tokens_scale_k` columns
    that `tokenset.row_checks` compares with the lists (when present)."""
    extra = [name for name in ("id", "duration") if name in names]
    counts = [count_column(k) for k in range(n_scales) if count_column(k) in names]
    return extra + [tokens_column(k) for k in range(n_scales)] + counts


def _rows_per_batch(tokens_per_row: float | None) -> int:
    if not tokens_per_row:
        return DEFAULT_ROWS
    return max(1, int(BATCH_TOKENS // tokens_per_row))


@dataclass(frozen=True)
class ParquetUnit:
    """One Parquet file of token rows."""

    path: str
    n_scales: int
    tokens: int  # codes in the file (0 if unknown)
    rows: int
    digest: str  # `integrity.footer_digest`: the same shard has the same digest on every machine
    #: the codec layout its durations are checked against (None when the layout is only assumed)
    layout: CodecLayout | None = None

    @property
    def label(self) -> str:
        return self.path

    def identity(self) -> dict:
        """What a saved partial records about this unit (`api.Counted.shards`)."""
        return {"path": _short_path(self.path), "rows": self.rows, "digest": self.digest}

    @property
    def weight(self) -> int:
        """Work estimate, to balance workers."""
        return self.tokens or self.rows

    def batches(self) -> Iterator[ArrowBatch]:
        try:
            parquet = pq.ParquetFile(self.path)
            names = parquet.schema_arrow.names
            rows = _rows_per_batch(self.tokens / self.rows if self.rows else None)
            yield from parquet.iter_batches(batch_size=rows, columns=wanted_columns(names, self.n_scales))
        except (OSError, pa.ArrowException) as error:  # a data page damaged behind an intact footer
            raise DamagedInputError(f"{self.path}: unreadable ({type(error).__name__}: {error})") from None


@dataclass(frozen=True)
class DatasetUnit:
    """Contiguous shard `index` of `count` of a Dataset."""

    dataset: Dataset
    index: int
    count: int
    n_scales: int
    #: the codec layout its durations are checked against (None when the layout is only assumed)
    layout: CodecLayout | None = None

    @property
    def label(self) -> str:
        return f"dataset shard {self.index} of {self.count}"

    def identity(self) -> dict:
        """What a saved partial records about this unit: the Dataset's fingerprint and the rows."""
        rows = len(self.dataset.shard(self.count, self.index, contiguous=True))
        digest = f"datasets:{self.dataset._fingerprint}:{self.index}/{self.count}"
        return {"path": self.label, "rows": rows, "digest": digest}

    @property
    def weight(self) -> int:
        return len(self.dataset) // self.count

    def batches(self) -> Iterator[ArrowBatch]:
        shard = self.dataset.shard(self.count, self.index, contiguous=True)
        shard = shard.select_columns(wanted_columns(shard.column_names, self.n_scales))
        rows = _rows_per_batch(_tokens_per_row(shard, self.n_scales))
        yield from shard.with_format("arrow").iter(batch_size=rows)


WorkUnit = ParquetUnit | DatasetUnit


@dataclass(frozen=True)
class Source:
    """A resolved source: its work units, codec layout, and where that layout came from."""

    description: str
    units: list[WorkUnit]
    layout: CodecLayout
    layout_note: str | None  # None when the layout is recorded in metadata.json


def _tokens_per_row(dataset: Dataset, n_scales: int) -> float | None:
    """Mean codes per row over the first 1000 rows, from their list lengths."""
    if len(dataset) == 0:
        return None
    sample = dataset.select(range(min(len(dataset), 1000))).with_format("arrow")[:]
    lengths = [pc.list_value_length(sample.column(tokens_column(k))) for k in range(n_scales)]
    return float(sum(pc.sum(length).as_py() or 0 for length in lengths)) / sample.num_rows


def assumed_layout(n_scales: int) -> tuple[CodecLayout, str]:
    """The layout to assume without metadata: SNAC 24 kHz for 3 scales, 32 kHz strides for 4."""
    if n_scales == 3:
        return layout_for("snac_24khz"), "no metadata.json: assumed SNAC 24 kHz (strides 4, 2, 1)"
    if n_scales == 4:
        return layout_for("snac_32khz"), "no metadata.json: assumed SNAC 32 kHz (strides 8, 4, 2, 1)"
    strides = tuple(2 ** (n_scales - 1 - k) for k in range(n_scales))
    layout = CodecLayout(sampling_rate=24000, hop_length=512, vq_strides=strides)
    return layout, f"no metadata.json: assumed strides {strides}, 4096 codes, hop 512 at 24 kHz"


def _parquet_unit(footer: ShardFooter, layout: CodecLayout | None) -> ParquetUnit:
    path, n_scales = footer.path, footer.n_scales
    if layout is not None and n_scales != layout.n_scales:
        raise ValueError(
            f"{path}: {n_scales} token columns, but the layout in {METADATA_FILE} has "
            f"{layout.n_scales} scales"
        )
    counts = [count_column(k) for k in range(n_scales)]
    tokens = 0
    try:
        parquet = pq.ParquetFile(path)
        if set(counts) <= set(parquet.schema_arrow.names):
            table = parquet.read(columns=counts)
            tokens = int(sum(table.column(name).to_numpy().sum() for name in counts))
    except (OSError, pa.ArrowException) as error:
        raise DamagedInputError(f"{path}: unreadable ({type(error).__name__}: {error})") from None
    return ParquetUnit(path, n_scales, tokens, footer.rows, footer.digest, layout)


def _parquet_source(description: str, footers: list[ShardFooter], layout: CodecLayout | None) -> Source:
    """The units of checked footers. Durations are checked against a recorded or given layout,
    not against an assumed one (a 4-scale set may be 32 or 44.1 kHz)."""
    units = [_parquet_unit(footer, layout) for footer in footers]
    if layout is not None:
        return Source(description, units, layout, None)
    assumed, note = assumed_layout(units[0].n_scales)
    return Source(description, units, assumed, note)


def _short_path(path: str) -> str:
    """`data/NAME.parquet` for a token set's shard, else the file name: the same on every machine."""
    parent = os.path.basename(os.path.dirname(os.path.abspath(path)))
    name = os.path.basename(path)
    return f"{DATA_DIR}/{name}" if parent == DATA_DIR else name


def resolve(
    source: str | Dataset, *, layout: CodecLayout | None = None, num_shards: int = 1, split: str = SPLIT
) -> Source:
    """Resolve a token-set folder, a Parquet file or glob, a `save_to_disk` folder or a `load_dataset`
    name (both read as a Dataset by `open_token_set`), or a Dataset; `layout` overrides the recorded or
    assumed one; `num_shards` splits a Dataset into that many units; `split` is the split of a folder
    or of a dataset name that is read (a Parquet file or glob is read as given)."""
    if isinstance(source, Dataset):
        return _dataset_source("dataset", source, layout, num_shards)
    if os.path.isdir(source) and not is_saved_to_disk(source):
        footers = check_token_set(source)  # whole, as metadata.json and the unit records say
        chosen = set(split_files([f.path for f in footers], split, source))
        described = source if split == SPLIT else f"{source} (split {split})"
        footers = [f for f in footers if f.path in chosen]
        return _parquet_source(described, footers, layout or layout_of(source))
    if source.endswith(".parquet") or glob.has_magic(source):
        files = sorted(glob.glob(source))
        if not files:
            raise FileNotFoundError(f"{source}: no Parquet file matches")
        footers = check_parquet_files(files)  # some shards of a set: each must be readable
        folder = os.path.dirname(os.path.dirname(os.path.abspath(files[0])))
        if layout is None and os.path.basename(os.path.dirname(os.path.abspath(files[0]))) == DATA_DIR:
            layout = layout_of(folder)
        return _parquet_source(source, footers, layout)
    return _dataset_source(source, open_token_set(source, split), layout, num_shards)


def _dataset_source(
    description: str, dataset: Dataset, layout: CodecLayout | None, num_shards: int
) -> Source:
    try:
        n_scales = n_scales_of(dataset.column_names)
    except ValueError as error:
        raise ValueError(f"{description}: {error}") from None
    note, checked = None, layout
    if layout is None:
        layout, note = assumed_layout(n_scales)
    count = max(1, min(num_shards, len(dataset)))
    units = [DatasetUnit(dataset, i, count, n_scales, checked) for i in range(count)]
    return Source(description, units, layout, note)
