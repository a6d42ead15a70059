"""Packing for pre-training (`--pack N`): training rows chained into blocks of exactly N ids.

Orpheus pre-trains on fixed-length blocks cut from the concatenation of its rows (the usual
`group_texts`): a block may start or end inside a row, which is what pre-training wants (every
id is trained on, nothing is padded). Each shard chains its own rows in order and keeps the ids
after its last whole block as its *tail*; the tails of all shards, chained in shard order, make
the blocks of one last shard, and the ids after its last whole block (fewer than N, of the whole
export) are the only ones dropped, and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
