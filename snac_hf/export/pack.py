"""Packing for pre-training (`--pack N`): training rows chained into blocks of exactly N ids.

Orpheus pre-trains on fixed-length blocks cut from the concatenation of its rows (the usual
`group_texts`): a block may start or end inside a row, which is what pre-training wants (every
id is trained on, nothing is padded). Each shard chains its own rows in order and keeps the ids
after its last whole block as its *tail*; the tails of all shards, chained in shard order, make
the blocks of one last shard, and the ids after its last whole block (fewer than N, of the whole
export) are the only ones dropped, and counted.

Multipacking for fine-tuning (`--multipack N`, `MultiPacker`): whole rows, in order, gathered into
blocks of at most N ids (a row that does not fit starts the next block; a row longer than N is
left out before, as with `--max_length N`), as mesolitica's multipacking and Hugging Face's
`DataCollatorWithFlattening` feed a model: each block carries `position_ids` restarting at 0 at
each row, so that attention implementations that read packed position_ids keep rows apart, its
rows' `lengths`, and `labels` equal to the ids except -100 at each row's first id (nothing predicts
a row's first id from the row before it). The loss of a block is then the token-weighted mean of
its rows' losses computed one by one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np


@dataclass
class Packer:
    """Chains ids into blocks of `block` ids, carrying the rest to the next call."""

    block: int
    carry: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))

    def add(self, ids: np.ndarray) -> np.ndarray:
        """The whole blocks of the carried ids followed by `ids` (blocks x `block`, int32)."""
        chained = np.concatenate([self.carry, np.asarray(ids, dtype=np.int32)])
        whole = chained.size // self.block * self.block
        self.carry = chained[whole:]
        return chained[:whole].reshape(-1, self.block)


def pack_tails(tails: list[np.ndarray], block: int) -> tuple[np.ndarray, int]:
    """The blocks of the shards' tails chained in order, and how many ids are left over (dropped)."""
    packer = Packer(block)
    blocks = packer.add(np.concatenate(tails) if tails else np.zeros(0, np.int32))
    return blocks, int(packer.carry.size)


#: The label that Hugging Face losses ignore.
IGNORE_LABEL = -100


class PackedBlock(NamedTuple):
    """One multipacked block: its ids, labels, position ids (int32, each as long as the block) and
    the lengths of its rows (int32)."""

    input_ids: np.ndarray
    labels: np.ndarray
    position_ids: np.ndarray
    lengths: np.ndarray


def packed_block(ids: np.ndarray, lengths: np.ndarray) -> PackedBlock:
    """The block of whole rows `ids` (flat) of `lengths`: position ids restart at 0 at each row,
    labels are the ids with -100 at each row's first id."""
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    positions = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(starts, lengths)
    labels = np.asarray(ids, dtype=np.int32).copy()
    labels[starts] = IGNORE_LABEL
    return PackedBlock(
        np.asarray(ids, dtype=np.int32), labels, positions.astype(np.int32), lengths.astype(np.int32)
    )


@dataclass
class MultiPacker:
    """Gathers whole rows into blocks of at most `block` ids, in order, carrying the open block."""

    block: int
    rows: list[np.ndarray] = field(default_factory=list)
    size: int = 0

    def add(self, ids: np.ndarray, offsets: np.ndarray) -> list[PackedBlock]:
        """The blocks closed by rows `ids[offsets[j]:offsets[j + 1]]` (each at most `block` ids)."""
        closed = []
        for j in range(len(offsets) - 1):
            row = ids[offsets[j] : offsets[j + 1]]
            if row.size > self.block:
                raise ValueError(f"a row of {row.size} ids is longer than a block of {self.block}")
            if self.size + row.size > self.block:
                closed.append(self.close())
            self.rows.append(row)
            self.size += row.size
        return closed

    def close(self) -> PackedBlock:
        """The open block (the rows gathered since the last one), and a new empty one."""
        lengths = np.fromiter((r.size for r in self.rows), dtype=np.int64, count=len(self.rows))
        block = packed_block(np.concatenate(self.rows) if self.rows else np.zeros(0, np.int32), lengths)
        self.rows, self.size = [], 0
        return block

    def finish(self) -> list[PackedBlock]:
        """The last, partly filled block, if any row is in it."""
        return [self.close()] if self.rows else []
