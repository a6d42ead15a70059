"""Train / held-out split of a token set: by a salted hash of the file id, or of a column's value.

Each file gets a *key*: its id (`split_by=None`), or its value in column `split_by` (e.g. the
speaker, so that no voice is in both splits). A key is held out when blake2b(`salt:key`) read as
a number in [0, 1) is below `holdout` (`snac_hf.bpe.corpus.id_fractions`): the same files on
every machine and in every run, whatever the row order. A file whose `split_by` value is null or
empty keeps its own id as key (it is split on its own, like a file of an unknown speaker).

With few distinct keys (few speakers) the held-out share of *audio* can be far from `holdout`;
`SplitSummary` reports both shares, and a split that leaves either side empty is an error.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from datasets import Dataset

from snac_hf.bpe.corpus import file_ids, id_fractions


class SplitError(ValueError):
    """The split cannot be made as asked; the message says why and what to change."""


@dataclass(frozen=True)
class SplitSummary:
    by: str  # "file id" or the column
    salt: str
    holdout: float
    keys: int  # distinct keys
    held_out_keys: int
    train_files: int
    held_out_files: int
    train_seconds: float
    held_out_seconds: float
    files_keyed_by_id: int  # files whose `split_by` value was missing

    def to_dict(self) -> dict:
        return asdict(self)


def split_keys(dataset: Dataset, split_by: str | None) -> tuple[list[str], int]:
    """The split key of every file (see module docstring), and how many fell back to the id."""
    ids = file_ids(dataset)
    if split_by is None:
        return ids, 0
    if split_by not in dataset.column_names:
        raise SplitError(
            f"--split_by {split_by}: the token set has no such column (columns: "
            f"{', '.join(dataset.column_names)}); keep it when tokenizing (--keep_columns {split_by})"
        )
    values = dataset.select_columns([split_by]).with_format("arrow")[:].column(split_by).to_pylist()
    keys, fallback = [], 0
    for file_id, value in zip(ids, values, strict=True):
        if value is None or str(value) == "":
            keys.append(f"id:{file_id}")
            fallback += 1
        else:
            keys.append(f"{split_by}:{value}")
    return keys, fallback


def split(
    dataset: Dataset, holdout: float, split_by: str | None, salt: str
) -> tuple[Dataset, Dataset, SplitSummary]:
    """(train, held-out, summary) as the module docstring says."""
    if not 0 < holdout < 1:
        raise SplitError(f"--holdout must be in (0, 1), got {holdout}")
    keys, fallback = split_keys(dataset, split_by)
    distinct = sorted(set(keys))
    held_keys = {k for k, f in zip(distinct, id_fractions(distinct, salt), strict=True) if f < holdout}
    held = np.fromiter((k in held_keys for k in keys), dtype=bool, count=len(keys))
    train, held_out = dataset.select(np.flatnonzero(~held)), dataset.select(np.flatnonzero(held))
    if len(train) == 0 or len(held_out) == 0:
        raise SplitError(
            f"holdout {holdout} by {split_by or 'file id'} leaves {len(train)} train and {len(held_out)} "
            f"held-out files ({len(distinct)} distinct keys); use more files, another --holdout or --split_by"
        )
    durations = np.asarray(dataset.select_columns(["duration"]).with_format("numpy")["duration"], np.float64)
    summary = SplitSummary(
        by=split_by or "file id",
        salt=salt,
        holdout=holdout,
        keys=len(distinct),
        held_out_keys=len(held_keys),
        train_files=len(train),
        held_out_files=len(held_out),
        train_seconds=float(durations[~held].sum()),
        held_out_seconds=float(durations[held].sum()),
        files_keyed_by_id=fallback,
    )
    return train, held_out, summary
