"""Work units of a tokenize run: which rows, which shard, which process, and when one is done.

A *unit* is a run of at most `files_per_shard` consecutive rows of the input, in the input's
order; it becomes one Parquet shard `data/{split}-{j:05d}-of-{n:05d}.parquet` and one record
`.snac_hf/units/{j:05d}.json` (split `train`: the names single-split sets always had) or
`.snac_hf/units/{split}-{j:05d}.json` (any other split). The cut depends only on the input and
`files_per_shard`, never on the number of processes, so a resume with another world size cannot
leave stale shards.

- A map-style input (a folder, a `load_dataset` or `save_to_disk` dataset) is cut from row 0 on;
  process r of W takes the units with j % W == r.
- A streamed input is read source shard by source shard (a source shard is one of the
  dataset's files: `IterableDataset.shard(num_shards, s)`), and units never straddle two source
  shards, so a process can read its source shards alone. With at least as many source shards as
  processes, process r takes a contiguous block of source shards, as
  `datasets.distributed.split_dataset_by_node` (strategy "shards") assigns them, and reads no
  other rows; with fewer, every process reads every source shard (without decoding) and takes
  the units with j % W == r.

Done: a unit is done when its record exists and so does its shard (if it has rows). Both are
written atomically, the shard first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from snac_hf.job.output_folder import STATE_DIR
from snac_hf.tokenset.schema import SPLIT, shard_name


@dataclass(frozen=True)
class Unit:
    """Unit `index` of `total`: global rows `start:stop`; for a streamed input, rows
    `local_start:local_start + (stop - start)` of source shard `source_shard`."""

    index: int
    total: int
    start: int
    stop: int
    source_shard: int | None = None
    local_start: int = 0
    split: str = SPLIT

    @property
    def shard(self) -> str:
        return shard_name(self.index, self.total, self.split)

    def __len__(self) -> int:
        return self.stop - self.start


def map_units(n_rows: int, files_per_shard: int, split: str = SPLIT) -> list[Unit]:
    """Units of a map-style input: consecutive runs of `files_per_shard` rows."""
    total = -(-n_rows // files_per_shard)
    return [
        Unit(j, total, j * files_per_shard, min(n_rows, (j + 1) * files_per_shard), split=split)
        for j in range(total)
    ]


def stream_units(rows_per_source_shard: list[int], files_per_shard: int, split: str = SPLIT) -> list[Unit]:
    """Units of a streamed input: each source shard cut into runs of `files_per_shard` rows."""
    spans = []
    offset = 0
    for source, n_rows in enumerate(rows_per_source_shard):
        for local in range(0, n_rows, files_per_shard):
            spans.append((offset + local, offset + min(n_rows, local + files_per_shard), source, local))
        offset += n_rows
    return [
        Unit(j, len(spans), start, stop, source, local, split)
        for j, (start, stop, source, local) in enumerate(spans)
    ]


def source_shard_block(n_source_shards: int, rank: int, world: int) -> range:
    """The contiguous block of source shards of process `rank` (as `IterableDataset.shard(world,
    rank, contiguous=True)` and so `split_dataset_by_node(..., strategy="shards")` cut them): the
    first `n % world` processes get one shard more."""
    base, extra = divmod(n_source_shards, world)
    start = rank * base + min(rank, extra)
    return range(start, start + base + (1 if rank < extra else 0))


def assign_units(units: list[Unit], rank: int, world: int, n_source_shards: int | None = None) -> list[Unit]:
    """The units process `rank` of `world` encodes (see the module docstring)."""
    if n_source_shards is not None and n_source_shards >= world:
        block = source_shard_block(n_source_shards, rank, world)
        return [u for u in units if u.source_shard in block]
    return [u for u in units if u.index % world == rank]


def record_path(folder: Path, unit: int, split: str = SPLIT) -> Path:
    name = f"{unit:05d}.json" if split == SPLIT else f"{split}-{unit:05d}.json"
    return folder / STATE_DIR / "units" / name


def split_of_record(name: str) -> str:
    """The split of a unit record file name (`00003.json`: train; `validation-00003.json`: validation)."""
    return name.rsplit("-", 1)[0] if "-" in name else SPLIT


def unit_done(folder: Path, unit: int, split: str = SPLIT) -> bool:
    path = record_path(folder, unit, split)
    if not path.is_file():
        return False
    shard = json.loads(path.read_text())["shard"]
    return shard is None or (folder / shard).is_file()
