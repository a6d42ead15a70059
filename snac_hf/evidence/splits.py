"""Train / held-out splits of a token set: by a salted hash of the file id or of a column's value
(`split`), and held-out voices, whole voices holding at least a given share of the audio (`split_voices`).

Each file gets a *key*: its id (`split_by=None`), or its value in column `split_by` (e.g. the
speaker, so that no voice is in both splits). A key is held out when blake2b(`salt:key`) read as
a number in [0, 1) is below `holdout` (`snac_hf.bpe.corpus.id_fractions`): the same files on
every machine and in every run, whatever the row order. A file whose `split_by` value is null or
empty keeps its own id as key (it is split on its own, like a file of an unknown speaker).

With few distinct keys (few speakers) the held-out share of *audio* can be far from `holdout`;
`SplitSummary` reports both shares, and a split that leaves either side empty is an error.

**Held-out voices** (`split_voices`, the evidence run's second split): the voices (distinct values of
a column, e.g. `speaker`) are ordered by blake2b(`salt:column:voice`) (`id_fractions`: a fixed, uniform
order that favours neither large nor small voices, the same whatever the row order) and held out
in that order, whole, until they hold at least `share` of the audio-seconds; so the share is
reached by construction (it can exceed `share` by up to the last voice's audio). Files whose voice
is null or empty are never held out (they cannot be held out as a voice; they stay in train).
A column with one voice, or voices that cannot reach the share without leaving nothing to train
on, is an error that says so.
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
    holdout: float  # share of the keys asked for (`split`), or least share of the audio (`split_voices`)
    keys: int  # distinct keys
    held_out_keys: int
    train_files: int
    held_out_files: int
    train_seconds: float
    held_out_seconds: float
    files_keyed_by_id: int  # files whose `split_by` value was missing (`split_voices`: kept in train)
    rule: str = "salted hash of the key below holdout"

    def to_dict(self) -> dict:
        return asdict(self)


def split_keys(dataset: Dataset, split_by: str | None, flag: str = "--split_by") -> tuple[list[str], int]:
    """The split key of every file (see module docstring), and how many fell back to the id;
    `flag` is the option that named the column, for the error."""
    ids = file_ids(dataset)
    if split_by is None:
        return ids, 0
    if split_by not in dataset.column_names:
        raise SplitError(
            f"{flag} {split_by}: the token set has no such column (columns: "
            f"{', '.join(dataset.column_names)}); keep it when tokenizing (--keep_columns {split_by})"
            + (", or pass --voices_by none" if flag == "--voices_by" else "")
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


def durations_of(dataset: Dataset) -> np.ndarray:
    return np.asarray(dataset.select_columns(["duration"]).with_format("numpy")["duration"], np.float64)


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
    durations = durations_of(dataset)
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


def split_voices(
    dataset: Dataset, column: str, share: float, salt: str
) -> tuple[Dataset, Dataset, SplitSummary]:
    """(train, held-out, summary): whole voices of `column` held out, in salted-hash order, until
    they hold at least `share` of the audio (module docstring)."""
    if not 0 < share < 1:
        raise SplitError(f"--voices_share must be in (0, 1), got {share}")
    keys, fallback = split_keys(dataset, column, "--voices_by")
    durations = durations_of(dataset)
    voiced = np.asarray([not k.startswith("id:") for k in keys])
    voices = sorted({k for k, v in zip(keys, voiced, strict=True) if v})
    seconds = {v: 0.0 for v in voices}
    for key, seconds_of_file in zip(np.asarray(keys)[voiced], durations[voiced], strict=True):
        seconds[key] += float(seconds_of_file)
    goal, held_keys, held_seconds = share * float(durations.sum()), set(), 0.0
    for voice, _ in sorted(zip(voices, id_fractions(voices, salt), strict=True), key=lambda pair: pair[1]):
        if held_seconds >= goal:
            break
        held_keys.add(voice)
        held_seconds += seconds[voice]
    held = np.fromiter((k in held_keys for k in keys), dtype=bool, count=len(keys))
    if len(voices) < 2 or held_seconds < goal or held.all():
        raise SplitError(
            f"--voices_by {column}: {len(voices)} voices ({fallback} files without one) cannot hold out "
            f"{share:.0%} of the audio in whole voices and leave files to train on; name a column with more "
            "voices, lower --voices_share, or pass --voices_by none"
        )
    summary = SplitSummary(
        by=column,
        salt=salt,
        holdout=share,
        keys=len(voices),
        held_out_keys=len(held_keys),
        train_files=int((~held).sum()),
        held_out_files=int(held.sum()),
        train_seconds=float(durations[~held].sum()),
        held_out_seconds=held_seconds,
        files_keyed_by_id=fallback,
        rule=f"whole voices in salted-hash order until they hold {share:.0%} of the audio",
    )
    return dataset.select(np.flatnonzero(~held)), dataset.select(np.flatnonzero(held)), summary
