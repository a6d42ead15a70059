"""Decoding audio for the encoder: worker processes, results in input order, bounded memory.

One process decoding with FFmpeg feeds 1,000-2,000 audio-seconds per second; a GPU encodes several
thousand. `decode_in_order` spreads decoding over `num_workers` processes and hands the samples
back in the order of the input, whatever order the workers finish in:

1. A feeder thread reads the input values (undecoded `datasets.Audio` values: a path or bytes)
   and keeps at most `max_pending` tasks of them submitted to a process pool (`spawn`: a fork of a
   process that holds torch/OpenMP threads is not safe). Results are yielded strictly in input
   order, so what comes out does not depend on `num_workers` or on timing.
2. Short files travel in batches: a task is as many consecutive files as make about
   `BATCH_SECONDS` of audio (judged from the files decoded so far), so the round trip to a worker
   is paid per batch, not per file. Memory stays flat: at most `max_pending` tasks wait, plus the
   `ready` queue. Samples come back in shared memory blocks that are reused from task to task
   (`snac_hf.sources.shared_blocks`: one copy on each side), not pickled through a pipe.
3. A file fails alone. `AudioDecodeError` in a worker comes back as that file's error. A worker
   that *dies* (FFmpeg crashing on a hostile file) breaks the whole pool; then the tasks that
   had finished keep their results, every file of the others is retried alone in a fresh
   one-worker pool, the file that kills it again becomes an error ("the decoder process died"),
   and decoding goes on in a fresh pool.

4. Memory is bounded by audio, not by file count, when `max_ahead_seconds` is given: the feeder
   holds back while the samples decoded and not yet taken by the consumer exceed it (never when
   nothing is ahead, so a file longer than the bound still passes), and no more tasks wait in
   the pool than about that much audio fills (judged from the files decoded so far). With
   30-minute files, 4 tasks per worker would otherwise hold 173 MB each.

`num_workers=0` decodes in the feeder thread of this process (the decode still overlaps the
encoder; no process start-up, for small jobs and tests). Decoded samples are bit-identical in
every mode: the same FFmpeg calls run on the same bytes (tested through the pipeline's codes).
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from itertools import islice

import numpy as np

from snac_hf.sources.audio import AudioDecodeError, decode_audio
from snac_hf.sources.shared_blocks import BlockRing, Piece, WorkerBlocks

#: What `decode_in_order` yields per input: samples, or the error that names why not.
Decoded = np.ndarray | AudioDecodeError
_DONE = object()


def default_workers(device: str, local_processes: int = 1) -> int:
    """Decode workers per process. On CPU 0: the encoder there is ~300x slower than decoding, so
    a thread of the job process keeps it fed, without the seconds a worker process takes to start
    (importing torch and datasets). On an accelerator: the cores this process may use (its share of
    the machine's), less one for the process itself."""
    if not str(device).startswith("cuda"):
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // max(1, local_processes) - 1)


def _init_worker(parent: int) -> None:
    # One thread per worker: the workers are the parallelism, and an FFmpeg/torch thread pool in
    # each would oversubscribe the cores.
    import torch

    torch.set_num_threads(1)
    threading.Thread(
        target=_exit_with_parent, args=(parent,), name="snac_hf-parent-watch", daemon=True
    ).start()


def _exit_with_parent(parent: int, every_s: float = 0.5) -> None:
    """End this worker when the process that started it is gone (killed with SIGKILL, the pool's
    own shutdown never runs, and a worker holding a decoded file would otherwise live on for good).
    A watch on the parent pid rather than Linux's PR_SET_PDEATHSIG: that signal follows the
    *thread* that forked the worker, and pool workers are started from whichever thread submits."""
    while os.getppid() == parent:
        time.sleep(every_s)
    os._exit(1)


def _decode_one(value: dict, sampling_rate: int) -> Decoded:
    try:
        return decode_audio(value, sampling_rate)
    except AudioDecodeError as error:
        return error


#: Audio per task: 16 s (about 10 ms of FFmpeg work) makes a worker's round trip negligible.
BATCH_SECONDS = 16.0
#: Files per task at most (a corpus of very short clips).
MAX_BATCH_FILES = 32
#: A worker process's attached blocks (made by its first task).
_worker_blocks: WorkerBlocks | None = None


def _decode_batch(
    values: list[dict], sampling_rate: int, block: str
) -> tuple[str, list[Piece | AudioDecodeError]]:
    """In a worker: decode `values`, write their samples into shared block `block` (or a larger one
    it makes), return the block's name and per value its piece or its error.

    A pickled array goes through a pipe in 64 KiB pieces and is copied four times; 30 minutes at
    24 kHz are 173 MB, which made a worker process slower than decoding in a thread (measured:
    598 vs 1457 audio-s/s). Shared memory costs one copy on each side."""
    global _worker_blocks
    if _worker_blocks is None:
        _worker_blocks = WorkerBlocks()
    decoded = [_decode_one(value, sampling_rate) for value in values]
    name, pieces = _worker_blocks.write(block, [d for d in decoded if not isinstance(d, AudioDecodeError)])
    placed = iter(pieces)
    return name, [d if isinstance(d, AudioDecodeError) else next(placed) for d in decoded]


@dataclass
class _Task:
    """One batch in flight: its values, the block lent to it, the worker's future."""

    values: list[dict]
    block: str
    future: Future


class _Pool:
    """A spawn process pool that can be rebuilt after a worker died, and the blocks its tasks use."""

    def __init__(self, num_workers: int):
        self.num_workers = num_workers
        self.context = multiprocessing.get_context("spawn")
        self.ring = BlockRing()
        self.executor = self._new(num_workers)

    def _new(self, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            workers, mp_context=self.context, initializer=_init_worker, initargs=(os.getpid(),)
        )

    def submit(self, values: list[dict], sampling_rate: int) -> _Task:
        block = self.ring.take()
        return _Task(values, block, self.executor.submit(_decode_batch, values, sampling_rate, block))

    def collect(self, task: _Task) -> list[Decoded]:
        """The task's results, in order (raises BrokenProcessPool when its worker died)."""
        try:
            written, outcomes = task.future.result()
        except BaseException:
            self.ring.give_back(task.block)
            raise
        arrays = iter(self.ring.read(task.block, written, [o for o in outcomes if isinstance(o, Piece)]))
        return [o if isinstance(o, AudioDecodeError) else next(arrays) for o in outcomes]

    def isolate(self, tasks: list[_Task], sampling_rate: int) -> list[Decoded]:
        """The results of `tasks` after a worker died, in order: a task that had finished gives its
        own (and the ring adopts the block it may have grown, which would otherwise be left to the
        resource tracker); each value of the others is decoded in a fresh one-worker pool, so a
        value whose worker dies fails alone."""
        self.executor.shutdown(wait=True, cancel_futures=True)
        results: list[Decoded] = []
        for task in tasks:
            try:
                results.extend(self.collect(task))
            except (BrokenProcessPool, CancelledError):
                results.extend(self._one_by_one(task.values, sampling_rate))
        self.executor = self._new(self.num_workers)
        return results

    def _one_by_one(self, values: list[dict], sampling_rate: int) -> list[Decoded]:
        results: list[Decoded] = []
        for value in values:
            single = self._new(1)
            block = self.ring.take()
            try:
                task = _Task([value], block, single.submit(_decode_batch, [value], sampling_rate, block))
                results.extend(self.collect(task))
            except BrokenProcessPool:
                results.append(AudioDecodeError("the decoder process died on this file (FFmpeg crash?)"))
            finally:
                single.shutdown(wait=True, cancel_futures=True)
        return results

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.ring.close()


class _BatchSizer:
    """How many files the next task takes: about `BATCH_SECONDS` of audio, judged by the mean
    length of the files decoded so far (one file until one is known). Only the speed depends on
    it: results come back in input order whatever the batches."""

    def __init__(self, sampling_rate: int):
        self.target = BATCH_SECONDS * sampling_rate
        self.samples = 0
        self.files = 0

    def observe(self, results: list[Decoded]) -> None:
        for result in results:
            if not isinstance(result, AudioDecodeError):
                self.samples += result.size
                self.files += 1

    def task_samples(self) -> int:
        """Samples of the next task, judged from the files decoded so far (0 before any)."""
        return int(self.samples / self.files) * self.size() if self.files else 0

    def size(self) -> int:
        if not self.files:
            return 1
        mean = max(1.0, self.samples / self.files)
        return max(1, min(MAX_BATCH_FILES, int(self.target / mean)))


def _batches(values: Iterator[dict], sizer: _BatchSizer) -> Iterator[list[dict]]:
    while batch := list(islice(values, sizer.size())):
        yield batch


def _decode_with_pool(
    values: Iterator[dict],
    sampling_rate: int,
    num_workers: int,
    max_pending: int,
    max_ahead_samples: int | None = None,
) -> Iterator[Decoded]:
    pool = _Pool(num_workers)
    sizer = _BatchSizer(sampling_rate)
    batches = _batches(values, sizer)
    pending: deque[_Task] = deque()
    try:
        exhausted = False
        while pending or not exhausted:
            while not exhausted and len(pending) < _pending_limit(sizer, max_pending, max_ahead_samples):
                batch = next(batches, None)
                if batch is None:
                    exhausted = True
                else:
                    pending.append(pool.submit(batch, sampling_rate))
            if not pending:
                break
            try:
                results = pool.collect(pending[0])
            except BrokenProcessPool:
                retried = pool.isolate(list(pending), sampling_rate)
                pending.clear()
                yield from retried
                continue
            pending.popleft()
            sizer.observe(results)
            yield from results
    finally:
        pool.close()


def _pending_limit(sizer: _BatchSizer, max_pending: int, max_ahead_samples: int | None) -> int:
    """Tasks that may wait in the pool: `max_pending`, fewer when that many would hold more than
    `max_ahead_samples` (at least one)."""
    task = sizer.task_samples()
    if max_ahead_samples is None or not task:
        return max_pending
    return max(1, min(max_pending, max_ahead_samples // task))


class _AheadBudget:
    """Samples handed to the ready queue and not yet taken by the consumer, at most `limit`:
    `reserve` waits while adding would pass it, unless nothing is ahead."""

    def __init__(self, limit: int | None):
        self.limit = limit
        self.samples = 0
        self.changed = threading.Condition()

    def reserve(self, samples: int, stop: threading.Event) -> None:
        with self.changed:
            while (
                self.limit is not None
                and self.samples > 0
                and self.samples + samples > self.limit
                and not stop.is_set()
            ):
                self.changed.wait(0.1)
            self.samples += samples

    def release(self, samples: int) -> None:
        with self.changed:
            self.samples -= samples
            self.changed.notify_all()


def _size(result: Decoded) -> int:
    return 0 if isinstance(result, AudioDecodeError) else int(result.size)


def _decode_here(values: Iterator[dict], sampling_rate: int) -> Iterator[Decoded]:
    for value in values:
        yield _decode_one(value, sampling_rate)


def decode_in_order(
    values: Iterable[dict],
    sampling_rate: int,
    num_workers: int = 1,
    max_pending: int | None = None,
    max_ahead_seconds: float | None = None,
) -> Iterator[Decoded]:
    """Samples (mono float32 at `sampling_rate`) or an `AudioDecodeError`, one per value, in order.

    Decoding runs ahead of the consumer in a feeder thread (and `num_workers` processes), at most
    `max_pending` tasks (batches of files) ahead (default `4 * max(1, num_workers)`), and at most
    about `max_ahead_seconds` of audio (rule 4 of the module docstring) when given.
    """
    max_pending = max_pending or 4 * max(1, num_workers)
    ahead_samples = None if max_ahead_seconds is None else int(max_ahead_seconds * sampling_rate)
    ready: queue.Queue = queue.Queue(maxsize=max_pending)
    budget = _AheadBudget(ahead_samples)
    stop = threading.Event()

    def feed() -> None:
        try:
            source = iter(values)
            if num_workers > 0:
                results = _decode_with_pool(source, sampling_rate, num_workers, max_pending, ahead_samples)
            else:
                results = _decode_here(source, sampling_rate)
            for result in results:
                budget.reserve(_size(result), stop)
                while not stop.is_set():
                    try:
                        ready.put(("ok", result), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    results.close()
                    return
            ready.put(("done", None))
        except BaseException as error:  # handed to the consumer, raised there
            ready.put(("raise", error))

    thread = threading.Thread(target=feed, name="snac_hf-decode", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = ready.get()
            if kind == "done":
                return
            if kind == "raise":
                raise item
            budget.release(_size(item))
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a feeder waiting on a full queue, then let it finish
            try:
                ready.get(timeout=0.1)
            except queue.Empty:
                pass
