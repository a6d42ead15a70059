"""Row checks every reader applies to the token rows it reads: durations against code counts, and
`n_tokens_scale_k` against the lists. Vectorized over an Arrow batch; no torch.

A token row says how long its audio is twice: `duration` (seconds) and the number of codes of each
scale, which the codec layout fixes from the number of samples (`CodecLayout.n_codes`:
`ceil(n_samples / samples_per_code(k))`). tokenize writes `duration = n_samples / rate`, so
`round(duration * rate)` gives `n_samples` back exactly. A duration is accepted when some whole
number of samples within half a sample of `duration * rate` gives the row's code counts (one
number, or two at an exact half), so the check is exact for every set tokenize writes and does
not refuse a duration rounded to the nearest sample by another writer. Refused, in one line naming
the input and the row: a duration that is NaN, infinite or negative, one whose samples give other
code counts (the duration of other audio: x10, another file's), scale lengths that no audio gives
(`layout.codes.check_length_rows`, checked first), and an `n_tokens_scale_k` that is not the
length of `tokens_scale_k`. Null values are not checked (tokenize writes none).

Without a known layout (a Parquet set without metadata.json whose codec is only assumed) the
durations are checked only for being finite and not negative; without a `duration` column or
without `n_tokens_scale_k` columns that check is skipped.

Who applies it: `tokenset.load.open_token_set` to every token-set folder or Parquet glob it opens
(train-bpe, compare-bpe, evaluate-lm, evidence and decode read sets through it; the layout of the
set's metadata.json, the bad row named by shard and row), `bpe.corpus.resolve_layout` to any
Dataset against the layout it resolves (given, recorded or inferred), the analysis to every batch
it counts (`analysis.partial.TokenStats.count`; analyze and tokenize --analyze_only), and
`codec.decode.plan_decode` to rows given to decode directly.

Cost: a few numpy operations per row, on the list offsets (not the codes) and two scalar columns.
Measured on a 2-core EPYC (shared with other jobs): `check_dataset_rows` over a memory-mapped
Dataset of 20,000 rows (38.8 h of 24 kHz codes, 11.5 M codes) took 5 ms, where merely handing out
the same rows' codes as numpy views (`bpe.corpus.iter_batches`) took 33 ms, and BPE training or LM
encoding of them takes minutes; `check_rows` on one 256-file shard (4-10 s each, 145,583 codes) took
0.25 ms, against 2 ms to read its code columns from Parquet and 136 ms for `analyze` of it (the same
with and without the check, within the noise).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from snac_hf.layout import CodecLayout
from snac_hf.layout.codes import check_layout, check_length_rows
from snac_hf.tokenset.json_files import DamagedInputError
from snac_hf.tokenset.schema import count_column, n_scales_of, tokens_column

#: What to do about a row that contradicts itself (appended to every message here).
REMEDY = "restore the token set, or tokenize the audio again (scripts/tokenize.py)"
#: Rows per batch when a whole Dataset is checked (only offsets and scalars are read).
DATASET_BATCH_ROWS = 1 << 16
#: More samples than any token set holds (2**52: float64 still counts them exactly).
_MAX_SAMPLES = float(1 << 52)

ArrowBatch = pa.RecordBatch | pa.Table


def samples_of(duration: float, rate: int) -> int:
    """The number of samples of `duration` seconds at `rate` Hz: `round(duration * rate)`."""
    return round(float(duration) * rate)


def codes_of_samples(layout: CodecLayout, n_samples: np.ndarray) -> np.ndarray:
    """`layout.n_codes` of each of an int64 array of sample counts: (rows x scales)."""
    per_code = np.array([layout.samples_per_code(k) for k in range(layout.n_scales)], np.int64)
    return -(-n_samples[:, None] // per_code)


def durations_agree(durations: np.ndarray, lengths: np.ndarray, layout: CodecLayout) -> np.ndarray:
    """Per row: whether a whole number of samples within half a sample of `duration * rate` gives
    the row's codes per scale (`lengths`: rows x scales). Durations must be finite and >= 0."""
    samples = np.minimum(np.asarray(durations, np.float64) * layout.sampling_rate, _MAX_SAMPLES)
    low = np.ceil(samples - 0.5).clip(min=0).astype(np.int64)
    high = np.floor(samples + 0.5).clip(min=0).astype(np.int64)
    lengths = np.asarray(lengths, np.int64)
    return (codes_of_samples(layout, low) == lengths).all(axis=1) | (
        codes_of_samples(layout, high) == lengths
    ).all(axis=1)


def duration_problem(duration: float, lengths: Sequence[int], layout: CodecLayout | None) -> str | None:
    """Why one duration cannot be that of codes with these `lengths` per scale, or None (with
    `layout=None`, only a duration that is not finite or is negative is a problem)."""
    if not np.isfinite(duration):
        return f"duration {duration} is not a finite number of seconds"
    if duration < 0:
        return f"duration {duration} s is negative"
    if layout is None or durations_agree(np.array([duration]), np.array([lengths]), layout)[0]:
        return None
    shown = tuple(int(n) for n in lengths)
    if duration * layout.sampling_rate >= _MAX_SAMPLES:
        return f"duration {duration} s is more audio than codes {shown} can stand for"
    n_samples = samples_of(duration, layout.sampling_rate)
    return (
        f"duration {duration} s is {n_samples} samples, whose codes per scale are "
        f"{layout.n_codes(n_samples)}, but the row has {shown}: the duration of other audio"
    )


def count_problem(scale: int, count: int, length: int) -> str:
    return f"{count_column(scale)} is {count}, but {tokens_column(scale)} holds {length} codes"


def list_lengths(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Values per list (a null list counts 0), from the offsets alone."""
    if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)):
        raise DamagedInputError(f"has type {column.type}, expected a list of integer codes")
    return pc.list_value_length(column).fill_null(0).to_numpy().astype(np.int64)


def _numbers(batch: ArrowBatch, name: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    """A numeric column as float64 values and a mask of its non-null rows."""
    column = batch.column(name)
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        raise DamagedInputError(
            f"{where}: column {name!r} has type {column.type}, expected numbers; {REMEDY}"
        )
    present = pc.is_valid(column).to_numpy(zero_copy_only=False)
    values = pc.cast(column, pa.float64()).fill_null(0).to_numpy()
    return np.asarray(values, np.float64), np.asarray(present, bool)


def check_rows(
    batch: ArrowBatch,
    layout: CodecLayout | None,
    where: str,
    first_row: int = 0,
    row_name: Callable[[int], str] | None = None,
) -> None:
    """Refuse the first row of `batch` whose `n_tokens_scale_k` or `duration` contradicts its codes
    (module docstring), as a one-line `DamagedInputError`: `where: row N, file 'ID': ...; REMEDY`.

    `first_row` is the batch's first row number in `where`; `row_name(i)` may name row i instead.
    `layout=None` checks durations only for being finite and not negative; a layout whose strides
    are not coarse to fine divisors is a ValueError (`layout.codes.check_layout`: no reader takes it)."""
    names = batch.schema.names
    n_scales = n_scales_of(names)
    lengths = np.empty((batch.num_rows, n_scales), np.int64)
    for k in range(n_scales):
        try:
            lengths[:, k] = list_lengths(batch.column(tokens_column(k)))
        except DamagedInputError as error:
            raise DamagedInputError(f"{where}: column {tokens_column(k)!r} {error}; {REMEDY}") from None

    def name_of(row: int) -> str:
        return row_name(row) if row_name else _row_name(batch, first_row, row)

    def refuse(row: int, problem: str) -> None:
        raise DamagedInputError(f"{where}: {name_of(row)}: {problem}; {REMEDY}")

    known = layout if layout is not None and layout.n_scales == n_scales else None
    if known is not None:  # lengths no audio gives are named as such, not as a wrong duration
        check_layout(known)
        try:
            check_length_rows(known, lengths, _RowNames(batch.num_rows, lambda i: f"{where}: {name_of(i)}"))
        except ValueError as error:
            raise DamagedInputError(f"{error}; {REMEDY}") from None
    for k in range(n_scales):
        if count_column(k) not in names:
            continue
        counts, present = _numbers(batch, count_column(k), where)
        bad = np.flatnonzero(present & (counts != lengths[:, k]))
        if bad.size:
            row = int(bad[0])
            refuse(row, count_problem(k, _shown(counts[row]), int(lengths[row, k])))
    if "duration" not in names:
        return
    durations, present = _numbers(batch, "duration", where)
    bad = present & ~(np.isfinite(durations) & (durations >= 0))
    if known is not None:
        rows = np.flatnonzero(present & ~bad)
        bad[rows] = ~durations_agree(durations[rows], lengths[rows], known)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        refuse(row, duration_problem(float(durations[row]), lengths[row], known) or "")


class _RowNames(Sequence[str]):
    """Row names built only when one is asked for (`check_length_rows` names the first bad row)."""

    def __init__(self, rows: int, name: Callable[[int], str]):
        self.rows, self.name = rows, name

    def __len__(self) -> int:
        return self.rows

    def __getitem__(self, i: int) -> str:  # type: ignore[override]  (no slices needed)
        return self.name(i)


def _shown(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def _row_name(batch: ArrowBatch, first_row: int, row: int) -> str:
    text = f"row {first_row + row}"
    if "id" in batch.schema.names:
        file_id = batch.column("id")[row].as_py()
        if file_id is not None:
            text += f", file {file_id!r}"
    return text


def check_dataset_rows(
    dataset, layout: CodecLayout | None, where: str, shards: Sequence[tuple[str, int]] | None = None
) -> None:
    """`check_rows` over a whole `datasets.Dataset`, in batches of `DATASET_BATCH_ROWS` rows of only
    the columns it needs (`id`, `duration`, `tokens_scale_k`, `n_tokens_scale_k`): on a memory-mapped
    Dataset the code lists are not copied, only their offsets are read.

    `shards`: (name, rows) of the files the Dataset was read from, in order (as `load_dataset`
    reads them); a bad row is then named by its shard and its row there."""
    names = dataset.column_names
    n_scales = n_scales_of(names)
    wanted = [name for name in ("id", "duration") if name in names]
    wanted += [tokens_column(k) for k in range(n_scales)]
    wanted += [count_column(k) for k in range(n_scales) if count_column(k) in names]
    if shards is not None and sum(rows for _, rows in shards) != len(dataset):
        shards = None
    ends = np.cumsum([rows for _, rows in shards]) if shards else None
    view = dataset.select_columns(wanted).with_format("arrow")
    start = 0
    for table in view.iter(batch_size=DATASET_BATCH_ROWS):

        def row_name(i: int, table: ArrowBatch = table, start: int = start) -> str:
            if ends is None:
                return _row_name(table, start, i)
            shard = int(np.searchsorted(ends, start + i, side="right"))
            local = start + i - (int(ends[shard - 1]) if shard else 0)
            return f"{shards[shard][0]} {_row_name(table, local - i, i)}"

        check_rows(table, layout, where, row_name=row_name)
        start += table.num_rows
