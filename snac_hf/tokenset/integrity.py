"""Whole inputs only: cheap checks that a token set, or a JSON file snac_hf reads, is what it claims.

A token-set folder written by `scripts/tokenize.py` says what it holds twice: `metadata.json`
(`num_shards`, `files_processed`, the codec layout) and, while the resume state is kept, one unit
record per work unit in `.snac_hf/units/*.json` (`shard`: its Parquet file relative to the folder,
or null when every file of the unit failed; `rows`; `sha256`: the digest of the shard file's bytes
as tokenize wrote it, absent in records of older sets). `check_token_set` compares that with the
Parquet *footers* of `data/*.parquet` (row count, column names, per-column min/max statistics; no
data page is decoded) and with the shards' digests, and refuses the folder, naming every problem in
one line, when

- a shard named by a unit record is missing, or holds another number of rows than its record;
- a shard's sha256 is not the one its record holds: another set's shard (or this set's shard of
  another unit) with the same number of rows, or a shard edited in place;
- a shard in `data/` is named by no unit record (it would be read as data of this set);
- the number of shards differs from `num_shards`, or their rows from `files_processed`;
- a shard is unreadable (no valid footer: truncated or not Parquet), holds no rows (tokenize never
  writes one, and `load_dataset` fails on it), has no `tokens_scale_k` columns, or has another
  number of scales than the other shards or than the layout in metadata.json;
- the footer statistics of a `tokens_scale_k` column show codes outside 0..codebook_size-1.

An unfinished set (a tokenize run's state, `.snac_hf/run.json`, but no metadata.json or fewer unit
records than it says) is refused first, in one line (`snac_hf.tokenset.completeness`), unless the
reader passes `allow_partial`. Parquet files given by name or glob that lie in a token set's `data/`
are each checked against the unit record naming them (rows, sha256), as the folder would be
(`check_parquet_files`); other Parquet files are trusted as they are.

A folder without metadata.json or run.json (Parquet from elsewhere) is accepted as before; only each file's
footer is checked (`check_parquet_files`: readable, rows, token columns, one number of scales).
Data pages that are damaged behind an intact footer are found only when read; the readers turn
that error into a `DamagedInputError` naming the file too.

The digest check reads every shard's bytes once (`file_sha256`, nothing decoded), which stays
cheap against reading the codes, what every reader does next: for a shard of 256 files of 4-10 s
(one tokenize unit at the default `files_per_shard`; 145,583 random codes, 261 kB) hashing took
0.15 ms, reading its code columns with pyarrow 1.5 ms and `analyze` of it 116 ms (2-core EPYC,
shared); at 1.1 GB/s (sha256 of 200 MB there) a 1,000-hour set of such shards (0.5 GB) hashes in
about 0.5 s, where reading its codes takes minutes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from snac_hf.tokenset.completeness import UNITS_DIR, check_finished  # where tokenize keeps unit records
from snac_hf.tokenset.json_files import DamagedInputError, read_json_object
from snac_hf.tokenset.schema import (
    DATA_DIR,
    METADATA_FILE,
    layout_of,
    n_scales_of,
    parquet_files,
    read_metadata,
    tokens_column,
)

#: Problems listed by name in one message; the rest are counted.
MAX_LISTED = 5


@dataclass(frozen=True)
class ShardFooter:
    """What a Parquet file's footer says about it."""

    path: str
    rows: int
    n_scales: int
    #: per scale: (min, max) code from the footer statistics, None when the footer has none
    code_ranges: tuple[tuple[int, int] | None, ...]
    #: sha256 of the file size and its footer bytes: the same shard has the same digest anywhere
    digest: str


def read_footer(path: str) -> ShardFooter:
    """The footer of one token shard, or a `DamagedInputError` saying why it cannot be used."""
    try:
        metadata = pq.read_metadata(path)
        digest = footer_digest(path)
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DamagedInputError(f"{path}: unreadable Parquet file ({reason})") from None
    try:
        n_scales = n_scales_of(metadata.schema.to_arrow_schema().names)
    except ValueError as error:
        raise DamagedInputError(f"{path}: {error}") from None
    if metadata.num_rows == 0:
        raise DamagedInputError(f"{path}: holds no rows (a token shard always has some)")
    ranges = tuple(_code_range(metadata, k) for k in range(n_scales))
    return ShardFooter(path, metadata.num_rows, n_scales, ranges, digest)


def footer_digest(path: str) -> str:
    """sha256 of the file size and the footer bytes (the footer holds every column chunk's size,
    offsets and min/max, the `id` range included, so two different shards differ)."""
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - 8))
        tail = f.read(8)
        length = int.from_bytes(tail[:4], "little") if len(tail) == 8 else 0
        if tail[4:] != b"PAR1" or length + 8 > size:
            raise ValueError("no Parquet footer at the end of the file")
        f.seek(size - 8 - length)
        footer = f.read(length)
    return hashlib.sha256(size.to_bytes(8, "little") + footer).hexdigest()


def _code_range(metadata: pq.FileMetaData, scale: int) -> tuple[int, int] | None:
    """(min, max) over the row groups of `tokens_scale_k`'s values, from the footer statistics."""
    wanted = tokens_column(scale) + "."
    low, high = None, None
    for g in range(metadata.num_row_groups):
        group = metadata.row_group(g)
        for c in range(group.num_columns):
            column = group.column(c)
            if not column.path_in_schema.startswith(wanted):
                continue
            stats = column.statistics
            if stats is None or not stats.has_min_max:
                if column.num_values:
                    return None
                continue
            low = stats.min if low is None else min(low, stats.min)
            high = stats.max if high is None else max(high, stats.max)
    return None if low is None else (int(low), int(high))


def check_parquet_files(files: Sequence[str]) -> list[ShardFooter]:
    """Footers of token Parquet files: each readable with rows and token columns, all with the same
    number of scales. Every unusable file is named in one `DamagedInputError`."""
    footers, problems = _footers(files)
    problems += _against_own_records(footers)
    if problems:
        raise DamagedInputError(_listed(problems) + "; remove or replace these files")
    return footers


def _against_own_records(footers: list[ShardFooter]) -> list[str]:
    """Shards given by name that lie in a token set's `data/` against the unit records of that set:
    named by one, with its rows and sha256 (a subset is fine: no shard is required)."""
    problems = []
    sets: dict[str, dict[str, tuple[str, dict]]] = {}
    for footer in footers:
        parent = os.path.dirname(os.path.abspath(footer.path))
        folder = os.path.dirname(parent)
        if os.path.basename(parent) != DATA_DIR or not os.path.isdir(os.path.join(folder, UNITS_DIR)):
            continue
        if folder not in sets:
            sets[folder] = {r["shard"]: (name, r) for name, r in unit_records(folder) or [] if r["shard"]}
        relative = os.path.relpath(os.path.abspath(footer.path), folder).replace(os.sep, "/")
        name, record = sets[folder].get(relative, (None, None))
        if record is None:
            problems.append(f"{footer.path} belongs to no unit record of its token set {folder}")
        elif record["rows"] != footer.rows:
            problems.append(f"{footer.path} holds {footer.rows} rows, record {name}: {record['rows']}")
        elif record.get("sha256") and file_sha256(footer.path) != record["sha256"]:
            problems.append(f"{footer.path} is not the shard tokenize wrote (its sha256 differs from {name})")
    return problems


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes (what a unit record's `sha256` holds), read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _is_sha256(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def unit_records(folder: str | os.PathLike) -> list[tuple[str, dict]] | None:
    """(file name, record) of every unit record of a token set, None when it keeps none."""
    directory = Path(folder) / UNITS_DIR
    if not directory.is_dir():
        return None
    remedy = "the resume state is damaged: delete that file and run the same tokenize command again"
    records = []
    for path in sorted(directory.glob("*.json")):
        record = read_json_object(path, remedy)
        shard, rows = record.get("shard"), record.get("rows")
        if not (shard is None or isinstance(shard, str)) or not isinstance(rows, int) or rows < 0:
            raise DamagedInputError(f"{path}: not a unit record (needs 'shard' and 'rows' >= 0); {remedy}")
        if "sha256" in record and not (record["sha256"] is None or _is_sha256(record["sha256"])):
            raise DamagedInputError(f"{path}: 'sha256' is not a hex SHA-256 digest; {remedy}")
        records.append((path.name, record))
    return records or None


def check_token_set(folder: str | os.PathLike, allow_partial: bool = False) -> list[ShardFooter]:
    """The footers of a token-set folder's shards, after the checks of the module docstring.

    An unfinished set (`snac_hf.tokenset.completeness`) is an `UnfinishedTokenSetError`, or with
    `allow_partial` the footers of its done units (each checked against its record; a shard written
    just before its unit's record is left out). Raises `FileNotFoundError` when `data/` holds no
    shard, `DamagedInputError` otherwise.
    """
    part = check_finished(folder, allow_partial)
    folder = str(folder)
    files = parquet_files(folder)
    meta = read_metadata(folder)
    records = unit_records(folder) if meta is not None or part is not None else None
    if part is not None:
        named = {record["shard"] for _, record in records or []}
        files = [f for f in files if os.path.relpath(f, folder).replace(os.sep, "/") in named]
    if not files and not (meta and meta.get("num_shards")):
        raise FileNotFoundError(f"{folder}: no token shards in data/ (is this a token set?)")
    footers, problems = _footers(files)
    if meta is not None or part is not None:
        present = {os.path.relpath(f.path, folder).replace(os.sep, "/"): f for f in footers}
        unreadable = {os.path.relpath(p, folder).replace(os.sep, "/") for p in files} - set(present)
        problems += _against_records(records, present, unreadable) if records else []
        problems += _against_metadata(meta or {}, records, files, footers) if part is None else []
        problems += _against_layout(folder, footers)
    if problems:
        raise DamagedInputError(f"{folder}: damaged token set: {_listed(problems)}; {_remedy(folder)}")
    return footers


def _footers(files: Sequence[str]) -> tuple[list[ShardFooter], list[str]]:
    footers, problems = [], []
    for path in files:
        try:
            footers.append(read_footer(path))
        except DamagedInputError as error:
            problems.append(str(error))
    scales = sorted({f.n_scales for f in footers})
    if len(scales) > 1:
        first = {n: next(f.path for f in footers if f.n_scales == n) for n in scales}
        described = ", ".join(f"{n} in {path}" for n, path in first.items())
        problems.append(f"the files disagree on the number of scales ({described})")
    return footers, problems


def _against_records(
    records: list[tuple[str, dict]], present: dict[str, ShardFooter], unreadable: set[str]
) -> list[str]:
    problems = []
    named = {}
    for name, record in records:
        shard = record["shard"]
        if shard is None:
            continue
        named[shard] = record["rows"]
        footer = present.get(shard)
        if footer is None and shard not in unreadable:
            problems.append(f"{shard} is missing ({UNITS_DIR}/{name} says it holds {record['rows']} rows)")
        elif footer is not None and footer.rows != record["rows"]:
            problems.append(f"{shard} holds {footer.rows} rows, its record {name} says {record['rows']}")
        elif footer is not None and record.get("sha256") and file_sha256(footer.path) != record["sha256"]:
            problems.append(
                f"{shard} is not the shard tokenize wrote (its sha256 differs from the one in {name})"
            )
    extra = sorted((set(present) | unreadable) - set(named))
    problems += [f"{shard} belongs to no unit record in {UNITS_DIR}/" for shard in extra]
    return problems


def _against_metadata(
    meta: dict, records: list | None, files: list[str], footers: list[ShardFooter]
) -> list[str]:
    problems = []
    expected_shards, expected_rows = meta.get("num_shards"), meta.get("files_processed")
    if isinstance(expected_shards, int) and expected_shards != len(files):
        problems.append(f"{METADATA_FILE} says {expected_shards} shards, data/ holds {len(files)}")
    rows = sum(f.rows for f in footers)
    if isinstance(expected_rows, int) and len(footers) == len(files) and expected_rows != rows:
        problems.append(f"{METADATA_FILE} says {expected_rows} files, the shards hold {rows} rows")
    if records and isinstance(expected_rows, int):
        recorded = sum(record["rows"] for _, record in records)
        if recorded != expected_rows:
            problems.append(f"{METADATA_FILE} says {expected_rows} files, the unit records {recorded}")
    return problems


def _against_layout(folder: str, footers: list[ShardFooter]) -> list[str]:
    layout = layout_of(folder)
    if layout is None:
        return []
    problems = []
    for footer in footers:
        name = os.path.relpath(footer.path, folder)
        if footer.n_scales != layout.n_scales:
            problems.append(
                f"{name} has {footer.n_scales} token columns, the layout in {METADATA_FILE} "
                f"{layout.n_scales} scales"
            )
            continue
        for k, span in enumerate(footer.code_ranges):
            if span is not None and (span[0] < 0 or span[1] >= layout.codebook_size):
                problems.append(
                    f"{name} holds codes {span[0]}..{span[1]} in {tokens_column(k)}, outside the "
                    f"codebook 0..{layout.codebook_size - 1}"
                )
    return problems


def _listed(problems: list[str]) -> str:
    shown = "; ".join(problems[:MAX_LISTED])
    more = len(problems) - MAX_LISTED
    return shown + (f"; and {more} more" if more > 0 else "")


def _remedy(folder: str) -> str:
    if (Path(folder) / UNITS_DIR).is_dir():
        return (
            "restore the shards, or delete the damaged ones and run the same scripts/tokenize.py command "
            "again (it re-encodes every unit whose shard is missing)"
        )
    return "copy or download the token set again, or re-create it with scripts/tokenize.py"
