"""Decoded samples from a decode worker to the job process through reused shared-memory blocks.

A block per file costs ~1 ms (measured, 5 s at 24 kHz: create, ftruncate, the first touch of every
page on both sides, unlink), a fifth of decoding a short file; reusing a block whose pages are
already mapped costs 0.07 ms (`BENCHMARKS.md`, feed ceiling). So the job process owns a *ring*:
one block per task in flight. A task takes a free block, the worker writes the samples of all its
files into it one after the other, the job copies each file out and puts the block back.

A worker attaches to each block once and keeps it mapped (`WorkerBlocks`). When a task's
samples do not fit, the worker creates a larger block (the next power of two) and returns its
name; the job adopts it in place of the small one, which it unlinks. Blocks only grow, so the
memory that other workers still map of a replaced block is at most that of the ring itself.
Every block is registered with multiprocessing's resource tracker (shared by the job and its
workers): a job killed with SIGKILL leaves nothing in /dev/shm once the tracker sees it gone.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from multiprocessing import shared_memory

import numpy as np

#: Smallest block: 2 MiB, 21.8 s of float32 samples at 24 kHz (a batch of short files).
MIN_BLOCK_BYTES = 2 << 20


def block_bytes(n_bytes: int) -> int:
    """The size of a block that holds `n_bytes`: a power of two, at least `MIN_BLOCK_BYTES`."""
    return max(MIN_BLOCK_BYTES, 1 << max(0, n_bytes - 1).bit_length())


@dataclass(frozen=True)
class Piece:
    """Where one file's samples lie in a block (in float32 values)."""

    offset: int
    size: int


class WorkerBlocks:
    """A worker's side: the blocks it has attached, by name, kept mapped between tasks."""

    def __init__(self) -> None:
        self.attached: dict[str, shared_memory.SharedMemory] = {}

    def write(self, name: str, arrays: list[np.ndarray]) -> tuple[str, list[Piece]]:
        """Write `arrays` (float32) one after the other into block `name`, or into a new larger
        block when they do not fit; returns the block's name and each array's piece."""
        total = sum(a.size for a in arrays) * 4
        block = self._attach(name)
        if block.size < total:
            block.close()  # the job unlinks it when it adopts the new one
            del self.attached[name]
            block = shared_memory.SharedMemory(create=True, size=block_bytes(total))
            self.attached[block.name] = block
        view = np.ndarray((block.size // 4,), np.float32, buffer=block.buf)
        pieces, offset = [], 0
        for array in arrays:
            view[offset : offset + array.size] = array
            pieces.append(Piece(offset, array.size))
            offset += array.size
        return block.name, pieces

    def _attach(self, name: str) -> shared_memory.SharedMemory:
        if name not in self.attached:
            self.attached[name] = shared_memory.SharedMemory(name=name)
        return self.attached[name]


class BlockRing:
    """The job process's side: the blocks it owns, each free or lent to one task in flight."""

    def __init__(self) -> None:
        self.blocks: dict[str, shared_memory.SharedMemory] = {}
        self.free: deque[str] = deque()

    def take(self) -> str:
        """A free block's name (a new block when none is free): lent until `give_back`."""
        if not self.free:
            block = shared_memory.SharedMemory(create=True, size=MIN_BLOCK_BYTES)
            self.blocks[block.name] = block
            self.free.append(block.name)
        return self.free.popleft()

    def read(self, lent: str, written: str, pieces: list[Piece]) -> list[np.ndarray]:
        """Copies of the pieces the worker wrote into block `written` (the `lent` one, or the larger
        one it made instead: adopted, and `lent` freed); the block is free again afterwards."""
        if written != lent:
            self._drop(lent)
            self.blocks[written] = shared_memory.SharedMemory(name=written)
        view = np.ndarray((self.blocks[written].size // 4,), np.float32, buffer=self.blocks[written].buf)
        arrays = [view[p.offset : p.offset + p.size].copy() for p in pieces]
        self.free.append(written)
        return arrays

    def give_back(self, lent: str) -> None:
        """Return a block whose task ended without samples (its worker died, or it was cancelled)."""
        if lent in self.blocks and lent not in self.free:
            self.free.append(lent)

    def close(self) -> None:
        """Unlink every block (the job is done with decoding)."""
        for name in list(self.blocks):
            self._drop(name)
        self.free.clear()

    def _drop(self, name: str) -> None:
        block = self.blocks.pop(name)
        block.close()
        block.unlink()
