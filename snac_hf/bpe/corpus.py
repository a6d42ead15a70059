"""Reading a token set for BPE: its layout, a deterministic split, a memory budget, Arrow batches.

Files are never materialized as Python lists: rows come in Arrow batches and each file's codes
are numpy views of the batch's flat int16 buffer (`iter_batches`). Which files go where is decided
by a hash of the file `id` (blake2b, salted), so a split or a subsample is the same on every
machine, for every shard layout and row order, and spread over the whole token set.

Training memory budget: `tokenizers`' BPE trainer needs about 145 bytes per character of corpus
(50 M characters took 7.3 GB), so training reads at most `max_train_chars` codes (one code is at
most one character in every variant; run-length variants write fewer). Above that, files are
taken in hash order until the budget is full, and the training summary says it subsampled.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasets import Dataset

from snac_hf.layout import SNAC_CONFIGS, CodecLayout, layout_for
from snac_hf.tokenset.load import open_token_set
from snac_hf.tokenset.row_checks import check_dataset_rows
from snac_hf.tokenset.schema import count_column, layout_of, n_scales_of, tokens_column

#: Default training budget: 20 M characters, about 3 GB of trainer memory (~68 h of 24 kHz audio).
DEFAULT_MAX_TRAIN_CHARS = 20_000_000
#: Share of files `compare-bpe` and `evaluate-lm` hold out by default: with the same salt, the same
#: files in both commands (and the share `lm.settings.EvaluationSettings` holds out).
DEFAULT_HOLDOUT = 0.2


def open_source(source: str | os.PathLike | Dataset, split: str = "train") -> tuple[Dataset, Path | None]:
    """Split `split` of a token set as a Dataset, and its folder when it is a local token-set folder."""
    if isinstance(source, Dataset):
        return source, None
    source = str(source)
    folder = Path(source) if os.path.isdir(source) else None
    return open_token_set(source, split), folder


def resolve_layout(
    dataset: Dataset, folder: Path | None, layout: CodecLayout | str | None = None
) -> CodecLayout:
    """The codec layout: given, else the token set's metadata.json, else inferred (see below); and
    every row checked against it before anything is trained or measured
    (`snac_hf.tokenset.row_checks.check_dataset_rows`: `n_tokens_scale_k` against the lists,
    durations against the code counts; offsets and scalars only, a small fraction of reading the codes).

    Inference: the published SNAC models with this many scales whose `n_codes(duration)` matches
    the first rows' lengths. Three scales can only be the 24 kHz model; four scales are 32 or
    44.1 kHz (same strides, so the same BPE), told apart by codes per second of audio.
    """
    if isinstance(layout, CodecLayout):
        resolved = layout
    elif isinstance(layout, str):
        resolved = layout_for(layout)
    elif folder is not None and (recorded := layout_of(folder)) is not None:
        resolved = recorded
    else:
        resolved = infer_layout(dataset)
    n_scales = n_scales_of(dataset.column_names)
    if resolved.n_scales != n_scales:
        raise ValueError(f"the token set has {n_scales} scales but the codec layout has {resolved.n_scales}")
    check_dataset_rows(dataset, resolved, str(folder) if folder is not None else "the token set")
    return resolved


def infer_layout(dataset: Dataset, rows: int = 64) -> CodecLayout:
    n_scales = n_scales_of(dataset.column_names)
    candidates = {name: layout_for(name) for name in SNAC_CONFIGS}
    candidates = {name: lay for name, lay in candidates.items() if lay.n_scales == n_scales}
    if len(candidates) > 1 and "duration" in dataset.column_names:
        head = dataset.select_columns(["duration"] + [tokens_column(k) for k in range(n_scales)])
        head = head.select(range(min(rows, len(dataset)))).with_format("arrow")[:]
        lengths = np.stack(
            [pc.list_value_length(head.column(tokens_column(k))).to_numpy() for k in range(n_scales)], 1
        )
        durations = head.column("duration").to_numpy()
        candidates = {
            name: lay
            for name, lay in candidates.items()
            if all(
                lay.n_codes(round(d * lay.sampling_rate)) == tuple(n)
                for d, n in zip(durations, lengths, strict=True)
            )
        }
    if len(candidates) != 1:
        raise ValueError(
            f"cannot tell the codec of this {n_scales}-scale token set (no metadata.json); candidates "
            f"{sorted(candidates) or 'none'}: pass the codec (layout=... / --codec snac_32khz)"
        )
    return next(iter(candidates.values()))


def id_fractions(ids: Sequence[str], salt: str) -> np.ndarray:
    """A number in [0, 1) per file id, uniform and fixed: blake2b of `salt:id`."""
    out = np.empty(len(ids), dtype=np.float64)
    for i, file_id in enumerate(ids):
        digest = hashlib.blake2b(f"{salt}:{file_id}".encode(), digest_size=8).digest()
        out[i] = int.from_bytes(digest, "little") / 2.0**64
    return out


def file_ids(dataset: Dataset) -> list[str]:
    if "id" in dataset.column_names:
        return dataset.select_columns(["id"]).with_format("arrow")[:].column("id").to_pylist()
    if "file_path" in dataset.column_names:
        return dataset.select_columns(["file_path"]).with_format("arrow")[:].column("file_path").to_pylist()
    return [str(i) for i in range(len(dataset))]


def file_code_counts(dataset: Dataset, n_scales: int) -> np.ndarray:
    """Codes per file (all scales), from the count columns when present."""
    columns = [count_column(k) for k in range(n_scales)]
    if all(c in dataset.column_names for c in columns):
        table = dataset.select_columns(columns).with_format("arrow")[:]
        return sum(table.column(c).to_numpy().astype(np.int64) for c in columns)
    table = dataset.select_columns([tokens_column(k) for k in range(n_scales)]).with_format("arrow")[:]
    return sum(
        pc.list_value_length(table.column(tokens_column(k))).to_numpy().astype(np.int64)
        for k in range(n_scales)
    )


def split_by_id(
    dataset: Dataset, holdout: float, salt: str = "snac_hf.bpe.holdout"
) -> tuple[Dataset, Dataset]:
    """(train, held-out): a file is held out when its id's fraction is below `holdout`."""
    if not 0 < holdout < 1:
        raise ValueError(f"holdout must be in (0, 1), got {holdout}")
    held_out = id_fractions(file_ids(dataset), salt) < holdout
    return dataset.select(np.flatnonzero(~held_out)), dataset.select(np.flatnonzero(held_out))


@dataclass
class CorpusSummary:
    files_total: int
    files_used: int
    codes_total: int
    codes_used: int
    max_train_chars: int | None
    subsampled: bool

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        text = f"{self.files_used} files, {self.codes_used:,} codes"
        if self.subsampled:
            text += (
                f" (subsampled from {self.files_total} files, {self.codes_total:,} codes, to stay within "
                f"max_train_chars={self.max_train_chars:,}: the BPE trainer needs ~145 bytes per character)"
            )
        return text


def subsample(
    dataset: Dataset, n_scales: int, max_train_chars: int | None, salt: str = "snac_hf.bpe.subsample"
) -> tuple[Dataset, CorpusSummary]:
    """The files that fit the budget, taken in id-hash order (at least one), and a summary."""
    counts = file_code_counts(dataset, n_scales)
    total = int(counts.sum())
    if max_train_chars is None or total <= max_train_chars:
        return dataset, CorpusSummary(len(dataset), len(dataset), total, total, max_train_chars, False)
    order = np.argsort(id_fractions(file_ids(dataset), salt), kind="stable")
    fits = np.cumsum(counts[order]) <= max_train_chars
    keep = np.sort(order[: max(1, int(fits.sum()))])
    used = int(counts[keep].sum())
    return dataset.select(keep), CorpusSummary(len(dataset), len(keep), total, used, max_train_chars, True)


def batch_codes(batch: pa.Table | Mapping, n_scales: int) -> list[list[np.ndarray]]:
    """Each row's codes per scale, from an Arrow batch (numpy views) or a dict of columns."""
    if isinstance(batch, pa.Table | pa.RecordBatch):
        per_scale = []
        for k in range(n_scales):
            column = batch.column(tokens_column(k))
            array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
            if array.null_count:
                raise ValueError(f"{tokens_column(k)}: {array.null_count} rows have no codes (null)")
            offsets = array.offsets.to_numpy()
            values = array.flatten().to_numpy(zero_copy_only=False)
            offsets = offsets - offsets[0]
            per_scale.append([values[offsets[i] : offsets[i + 1]] for i in range(len(array))])
        return [list(row) for row in zip(*per_scale, strict=True)]
    columns = [batch[tokens_column(k)] for k in range(n_scales)]
    return [[np.asarray(codes) for codes in row] for row in zip(*columns, strict=True)]


def iter_batches(
    dataset: Dataset, n_scales: int, batch_size: int = 256
) -> Iterator[tuple[list[str], list[list[np.ndarray]]]]:
    """(file ids, codes per scale of each file) for every Arrow batch of rows."""
    names = [tokens_column(k) for k in range(n_scales)]
    id_column = "id" if "id" in dataset.column_names else None
    table_iter = dataset.select_columns(([id_column] if id_column else []) + names).with_format("arrow")
    row = 0
    for table in table_iter.iter(batch_size=batch_size):
        ids = (
            table.column(id_column).to_pylist()
            if id_column
            else [f"row {row + i}" for i in range(table.num_rows)]
        )
        yield ids, batch_codes(table, n_scales)
        row += table.num_rows
