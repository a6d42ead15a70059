"""One shard of an export: a unit of the token set streamed batch by batch into one Parquet file.

Each Arrow batch becomes its training rows (`rows.build_rows`) or, with `pack`, the whole blocks
they complete (`pack.Packer`), and is appended to the shard's file as one row group
(`pyarrow.parquet.ParquetWriter`, zstd): memory holds one batch, whatever the size of the unit or
the set. The file carries the Hugging Face features in its schema, so `load_dataset` reads the
exact column types. Columns: `id`, `input_ids` (int32, as `datasets` stores token ids), `labels`
(= input_ids, int32), `attention_mask` (int8 ones), then the carried columns (not with `pack`:
a block mixes files). With `multipack` (`pack.MultiPacker`): `id`, `input_ids`, `labels` (-100 at
each row's first id), `position_ids` and `lengths`, and no `attention_mask`: transformers reads
packed rows from `position_ids` only when no attention mask is given. A shard that keeps no row
is not written (`load_dataset` fails on an empty Parquet file). The file is written under the
temporary name the caller gives; the caller renames it once every shard is done.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Features, List, Value
from transformers import PreTrainedTokenizerBase

from snac_hf.export.pack import MultiPacker, PackedBlock, Packer
from snac_hf.export.rows import BuiltRows, ExportCounts, RowSettings, build_rows, column_array
from snac_hf.export.source import ExportUnit
from snac_hf.layout import layout_for
from snac_hf.tokenset.schema import padding_column, tokens_column

#: The only layout an export reads (`orpheus.check_orpheus_layout` refused any other before this).
ORPHEUS_LAYOUT = layout_for("snac_24khz")


def output_features(kept: Features | None = None) -> Features:
    """The export's features: the training columns, then the carried columns."""
    return Features(
        {
            "id": Value("string"),
            "input_ids": List(Value("int32")),
            "labels": List(Value("int32")),
            "attention_mask": List(Value("int8")),
            **(kept or {}),
        }
    )


@dataclass(frozen=True)
class ShardJob:
    """What one shard writes: from `unit` into `path`."""

    unit: ExportUnit
    path: str
    settings: RowSettings
    features: Features  # output_features(carried columns); none carried with pack
    pack: int | None = None
    multipack: int | None = None


@dataclass
class ShardResult:
    index: int
    counts: ExportCounts
    written: bool = False  # whether `path` holds rows
    blocks: int = 0  # with pack: whole blocks written
    tail: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # with pack: ids after them


def training_lists(ids: np.ndarray, offsets: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """(input_ids, attention_mask) list arrays of rows `ids[offsets[j]:offsets[j + 1]]`."""
    arrow_offsets = pa.array(offsets.astype(np.int32), pa.int32())
    values = pa.ListArray.from_arrays(arrow_offsets, pa.array(ids, pa.int32()))
    mask = pa.ListArray.from_arrays(arrow_offsets, pa.array(np.ones(ids.size, np.int8), pa.int8()))
    return values, mask


def row_ids(batch: pa.RecordBatch | pa.Table, first_row: int) -> pa.Array:
    """The batch's `id` column, or `row_<n>` (n: the row's number in the set) when it has none."""
    if "id" in batch.column_names:
        return column_array(batch, "id").cast(pa.string())
    return pa.array([f"row_{first_row + i}" for i in range(batch.num_rows)], pa.string())


def rows_table(batch: pa.RecordBatch | pa.Table, built: BuiltRows, job: ShardJob, first_row: int) -> pa.Table:
    """The written rows of one batch: training columns, then the carried columns of the kept rows."""
    schema = job.features.arrow_schema
    values, mask = training_lists(built.ids, built.offsets)
    kept = pa.array(built.kept)
    columns = [row_ids(batch, first_row).filter(kept), values, values, mask]
    for name in list(job.features)[4:]:
        columns.append(column_array(batch, name).filter(kept).cast(schema.field(name).type))
    return pa.Table.from_arrays(columns, schema=schema)


def blocks_table(blocks: np.ndarray, names: list[str], features: Features) -> pa.Table:
    """Packed blocks (blocks x N ids) as rows named `names`."""
    n, width = blocks.shape
    values, mask = training_lists(blocks.reshape(-1), np.arange(n + 1, dtype=np.int64) * width)
    return pa.Table.from_arrays(
        [pa.array(names, pa.string()), values, values, mask], schema=features.arrow_schema
    )


def multipack_features() -> Features:
    """The columns of a multipacked export (module docstring)."""
    return Features(
        {
            "id": Value("string"),
            "input_ids": List(Value("int32")),
            "labels": List(Value("int32")),
            "position_ids": List(Value("int32")),
            "lengths": List(Value("int32")),
        }
    )


def multipacked_table(blocks: list[PackedBlock], names: list[str], features: Features) -> pa.Table:
    """Multipacked blocks as rows named `names`."""

    def lists(arrays: list[np.ndarray]) -> pa.Array:
        sizes = np.fromiter((a.size for a in arrays), dtype=np.int64, count=len(arrays))
        offsets = pa.array(np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32), pa.int32())
        flat = np.concatenate(arrays) if arrays else np.zeros(0, np.int32)
        return pa.ListArray.from_arrays(offsets, pa.array(flat.astype(np.int32), pa.int32()))

    columns = [pa.array(names, pa.string())]
    columns += [lists([getattr(b, name) for b in blocks]) for name in PackedBlock._fields]
    return pa.Table.from_arrays(columns, schema=features.arrow_schema)


def block_names(prefix: str, first: int, n: int) -> list[str]:
    return [f"block-{prefix}-{first + k:06d}" for k in range(n)]


def write_shard(job: ShardJob, tokenizer: PreTrainedTokenizerBase) -> ShardResult:
    """Stream `job.unit` into `job.path` (module docstring); the counts of what was written."""
    settings = job.settings
    columns = ["id", *(tokens_column(k) for k in range(3)), settings.text_column]
    columns += [padding_column(k) for k in range(3)] if settings.frames == "upstream" else []
    columns += [settings.speaker_column] if settings.speaker_column else []
    columns += [name for name in list(job.features)[4:] if name not in columns]
    result = ShardResult(job.unit.index, ExportCounts())
    packer = Packer(job.pack) if job.pack else None
    multipacker = MultiPacker(job.multipack) if job.multipack else None
    writer: pq.ParquetWriter | None = None
    first_row = job.unit.first_row
    try:
        for batch in job.unit.batches(columns, ORPHEUS_LAYOUT):
            built = build_rows(batch, tokenizer, settings)
            result.counts.add(built.counts)
            if multipacker is not None:
                table = multipacked(multipacker.add(built.ids, built.offsets), job, result)
            elif packer is None:
                table = rows_table(batch, built, job, first_row)
            else:
                blocks = packer.add(built.ids)
                names = block_names(f"{job.unit.index:05d}", result.blocks, len(blocks))
                table = blocks_table(blocks, names, job.features)
                result.blocks += len(blocks)
            first_row += batch.num_rows
            if table.num_rows:
                writer = writer or pq.ParquetWriter(job.path, job.features.arrow_schema, compression="zstd")
                writer.write_table(table)
        if multipacker is not None:
            table = multipacked(multipacker.finish(), job, result)
            if table.num_rows:
                writer = writer or pq.ParquetWriter(job.path, job.features.arrow_schema, compression="zstd")
                writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    result.written = writer is not None
    if packer is not None:
        result.tail = packer.carry
    return result


def multipacked(blocks: list[PackedBlock], job: ShardJob, result: ShardResult) -> pa.Table:
    """The table of a shard's newly closed multipacked blocks, counted in `result.blocks`."""
    names = block_names(f"{job.unit.index:05d}", result.blocks, len(blocks))
    result.blocks += len(blocks)
    return multipacked_table(blocks, names, job.features)


#: The text tokenizer of a worker process (`set_worker_tokenizer`, the pool's initializer).
_WORKER_TOKENIZER: PreTrainedTokenizerBase | None = None


def set_worker_tokenizer(tokenizer: PreTrainedTokenizerBase | str) -> None:
    """A worker's tokenizer: the tokenizer, or the folder it was saved to (`run.run_jobs`)."""
    from snac_hf.export.text_tokenizer import load_text_tokenizer

    global _WORKER_TOKENIZER
    _WORKER_TOKENIZER = load_text_tokenizer(tokenizer) if isinstance(tokenizer, str) else tokenizer


def write_shard_in_worker(job: ShardJob) -> ShardResult:
    """`write_shard` with the worker's tokenizer (a pool's function: one tokenizer per process)."""
    return write_shard(job, _WORKER_TOKENIZER)
