"""Decoding audio for the encoder: worker processes, results in input order, bounded memory.

One process decoding with FFmpeg feeds 1,000-2,000 audio-seconds per second; a GPU encodes several
thousand. `decode_in_order` spreads decoding over `num_workers` processes and hands the samples
back in the order of the input, whatever order the workers finish in:

1. A feeder thread reads the input values (undecoded `datasets.Audio` values: a path or bytes)
   and keeps at most `max_pending` of them submitted to a process pool (`spawn`: a fork of a
   process that holds torch/OpenMP threads is not safe). Results are yielded strictly in input
   order, so what comes out does not depend on `num_workers` or on timing.
2. Memory stays flat: at most `max_pending` decoded files wait, plus the `ready` queue. Samples
   come back from a worker in shared memory (one copy on each side), not pickled through a pipe.
3. A file fails alone. `AudioDecodeError` in a worker comes back as that file's error. A worker
   that *dies* (FFmpeg crashing on a hostile file) breaks the whole pool; then every file that was
   in flight is retried alone in a fresh one-worker pool, the file that kills it again becomes
   an error ("the decoder process died"), and decoding goes on in a fresh pool.

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
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import shared_memory

import numpy as np

from snac_hf.sources.audio import AudioDecodeError, decode_audio

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


def _decode_to_shared(value: dict, sampling_rate: int) -> AudioDecodeError | tuple[str, int]:
    """In a worker: decode, then hand the samples over in shared memory, (name, n_samples).

    A pickled array goes through a pipe in 64 KiB pieces and is copied four times; 30 minutes at
    24 kHz are 173 MB, which made a worker process slower than decoding in a thread (measured:
    598 vs 1457 audio-s/s). Shared memory costs one copy on each side."""
    samples = _decode_one(value, sampling_rate)
    if isinstance(samples, AudioDecodeError):
        return samples
    block = shared_memory.SharedMemory(create=True, size=max(1, samples.nbytes))
    np.ndarray(samples.shape, np.float32, buffer=block.buf)[:] = samples
    block.close()  # the block lives on until the job process unlinks it
    return block.name, samples.size


def _from_shared(result: AudioDecodeError | tuple[str, int]) -> Decoded:
    """In the job process: copy the samples out of the worker's block and free it."""
    if isinstance(result, AudioDecodeError):
        return result
    name, size = result
    block = shared_memory.SharedMemory(name=name)
    try:
        return np.ndarray((size,), np.float32, buffer=block.buf).copy()
    finally:
        block.close()
        block.unlink()


class _Pool:
    """A spawn process pool that can be rebuilt after a worker died."""

    def __init__(self, num_workers: int):
        self.num_workers = num_workers
        self.context = multiprocessing.get_context("spawn")
        self.executor = self._new(num_workers)

    def _new(self, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            workers, mp_context=self.context, initializer=_init_worker, initargs=(os.getpid(),)
        )

    def submit(self, value: dict, sampling_rate: int) -> Future:
        return self.executor.submit(_decode_to_shared, value, sampling_rate)

    def isolate(self, values: list[dict], sampling_rate: int) -> list[Decoded]:
        """Decode each value in a fresh one-worker pool; a value whose worker dies fails alone."""
        self.executor.shutdown(wait=True, cancel_futures=True)
        results: list[Decoded] = []
        for value in values:
            single = self._new(1)
            try:
                results.append(_from_shared(single.submit(_decode_to_shared, value, sampling_rate).result()))
            except BrokenProcessPool:
                results.append(AudioDecodeError("the decoder process died on this file (FFmpeg crash?)"))
            finally:
                single.shutdown(wait=True, cancel_futures=True)
        self.executor = self._new(self.num_workers)
        return results

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def _decode_with_pool(
    values: Iterator[dict], sampling_rate: int, num_workers: int, max_pending: int
) -> Iterator[Decoded]:
    pool = _Pool(num_workers)
    pending: deque[tuple[dict, Future]] = deque()
    try:
        exhausted = False
        while pending or not exhausted:
            while not exhausted and len(pending) < max_pending:
                value = next(values, _DONE)
                if value is _DONE:
                    exhausted = True
                else:
                    pending.append((value, pool.submit(value, sampling_rate)))
            if not pending:
                break
            try:
                result = pending[0][1].result()
            except BrokenProcessPool:
                retried = pool.isolate([value for value, _ in pending], sampling_rate)
                pending.clear()
                yield from retried
                continue
            pending.popleft()
            yield _from_shared(result)
    finally:
        pool.close()


def _decode_here(values: Iterator[dict], sampling_rate: int) -> Iterator[Decoded]:
    for value in values:
        yield _decode_one(value, sampling_rate)


def decode_in_order(
    values: Iterable[dict], sampling_rate: int, num_workers: int = 1, max_pending: int | None = None
) -> Iterator[Decoded]:
    """Samples (mono float32 at `sampling_rate`) or an `AudioDecodeError`, one per value, in order.

    Decoding runs ahead of the consumer in a feeder thread (and `num_workers` processes), at most
    `max_pending` files ahead (default `4 * max(1, num_workers)`).
    """
    max_pending = max_pending or 4 * max(1, num_workers)
    ready: queue.Queue = queue.Queue(maxsize=max_pending)
    stop = threading.Event()

    def feed() -> None:
        try:
            source = iter(values)
            if num_workers > 0:
                results = _decode_with_pool(source, sampling_rate, num_workers, max_pending)
            else:
                results = _decode_here(source, sampling_rate)
            for result in results:
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
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a feeder waiting on a full queue, then let it finish
            try:
                ready.get(timeout=0.1)
            except queue.Empty:
                pass
