"""The codes of one scale in an Arrow batch, as one flat numpy array plus the row lengths.

A row is one audio file. Its codes are taken straight from the list column's value buffer
(no Python object per code); the row lengths say where each file's codes start and end, which
is what keeps bigrams, runs and n-grams from crossing file boundaries. A null list counts as an
empty file.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa

from snac_hf.tokenset.schema import tokens_column

ArrowBatch = pa.RecordBatch | pa.Table


@dataclass(frozen=True)
class ScaleCodes:
    """Codes of one scale for the rows of a batch, rows back to back."""

    codes: np.ndarray  # intp, 0..codebook_size-1
    lengths: np.ndarray  # int64, codes per row

    @cached_property
    def offsets(self) -> np.ndarray:
        """Start of each row in `codes`, plus the end: len(lengths) + 1 values."""
        return np.concatenate([[0], np.cumsum(self.lengths)])


def scale_codes(batch: ArrowBatch, scale: int, codebook_size: int, where: str) -> ScaleCodes:
    """Extract and check the codes of `scale`; `where` names the input in error messages."""
    name = tokens_column(scale)
    if name not in batch.schema.names:
        raise ValueError(f"{where}: missing column {name!r} (columns: {batch.schema.names})")
    column = batch.column(name)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks else pa.array([], column.type)
    if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)) or not pa.types.is_integer(
        column.type.value_type
    ):
        raise ValueError(f"{where}: column {name!r} has type {column.type}, expected a list of integer codes")
    values = column.flatten()
    if values.null_count:
        raise ValueError(f"{where}: column {name!r} has {values.null_count} null codes")
    codes = values.to_numpy().astype(np.intp)
    if codes.size and (codes.min() < 0 or codes.max() >= codebook_size):
        raise ValueError(
            f"{where}: column {name!r} has codes outside 0..{codebook_size - 1} "
            f"(min {codes.min()}, max {codes.max()})"
        )
    lengths = column.value_lengths().fill_null(0).to_numpy().astype(np.int64)
    return ScaleCodes(codes, lengths)


def batch_ids(batch: ArrowBatch) -> pa.Array | None:
    """The `id` column (stable file key), if the batch has one."""
    if "id" not in batch.schema.names:
        return None
    column = batch.column("id")
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
