"""Windows: the decoded files the encoder takes at once, bounded by audio, assembled ahead.

Host memory of a job process follows the audio in flight, not the length of its files:

1. `decoded_files` yields the files of the process's units one by one, decoded (or failed), in
   input order; decoding runs at most `ahead_seconds` of audio ahead (`decode_in_order`).
2. `audio_windows` groups consecutive files into windows of about `window_seconds` of audio (a
   file longer than that is a window alone); a window may end inside a unit. The segments of a
   window's files are bucketed together, so equal-length buckets fill (codes do not depend on
   batching, `snac_hf.codec.encode`).
3. `UnitAssembly` takes each encoded window, drops its samples (a file's row keeps its duration
   and codes), and hands back each unit whose last file is encoded: only then does a unit go
   to the writer, with no samples in it.
4. `run_ahead` assembles the next window in a thread while the encoder runs on the current one,
   so the device does not wait for decoding between windows.

At most: the window being encoded, the window assembled ahead, and `ahead_seconds` of decoded
audio (each plus one file longer than its bound), whatever the files' lengths.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from snac_hf.job.units import Unit
from snac_hf.layout.scales import CodecLayout
from snac_hf.sources.audio import AudioDecodeError
from snac_hf.sources.decoding import decode_in_order


@dataclass
class DecodedFile:
    """One input row of `unit`, without its audio; `samples` once decoded (None when it failed:
    then `error` says why); `last`: the unit's last row."""

    unit: Unit
    row: dict
    samples: np.ndarray | None
    error: str | None
    last: bool
    skipped: str | None = None  # why it is not encoded (a duration filter): skipped.jsonl, not an error


def decoded_files(
    unit_rows: Iterator[tuple[Unit, list[dict]]],
    sampling_rate: int,
    num_workers: int,
    ahead_seconds: float | None,
) -> Iterator[DecodedFile]:
    """Every row of every unit, decoded in order; decoding runs ahead by at most `ahead_seconds`."""
    read: deque[tuple[Unit, list[dict]]] = deque()

    def values() -> Iterator[dict]:  # runs in the decode feeder thread
        for unit, rows in unit_rows:
            read.append((unit, rows))
            for row in rows:
                yield row["audio"]

    outcomes = decode_in_order(values(), sampling_rate, num_workers, max_ahead_seconds=ahead_seconds)
    for first in outcomes:
        unit, rows = read.popleft()
        for number, row in enumerate(rows):
            outcome = first if number == 0 else next(outcomes)
            rest = {k: v for k, v in row.items() if k != "audio"}
            last = number == len(rows) - 1
            if isinstance(outcome, AudioDecodeError):
                yield DecodedFile(unit, rest, None, str(outcome), last)
            else:
                yield DecodedFile(unit, rest, outcome, None, last)


def drop_by_duration(
    files: Iterator[DecodedFile], sampling_rate: int, shortest: float | None, longest: float | None
) -> Iterator[DecodedFile]:
    """`files`, those shorter than `shortest` or longer than `longest` seconds (None: no bound)
    marked skipped and without their samples (skipped.jsonl, counted in the card)."""
    for file in files:
        if file.samples is not None and (shortest is not None or longest is not None):
            seconds = len(file.samples) / sampling_rate
            if shortest is not None and seconds < shortest:
                file.skipped = f"shorter than --min_duration {shortest:g} s ({seconds:.3f} s)"
            elif longest is not None and seconds > longest:
                file.skipped = f"longer than --max_duration {longest:g} s ({seconds:.3f} s)"
            if file.skipped:
                file.samples = None
        yield file


def audio_windows(files: Iterator[DecodedFile], window_samples: int) -> Iterator[list[DecodedFile]]:
    """Consecutive files, about `window_samples` of audio per window (at least one file each)."""
    window: list[DecodedFile] = []
    samples = 0
    for file in files:
        window.append(file)
        samples += 0 if file.samples is None else file.samples.size
        if samples >= window_samples:
            yield window
            window, samples = [], 0
    if window:
        yield window


@dataclass
class EncodedUnit:
    """A unit whose files are all encoded: rows with `duration` and `codes`, no samples; errors;
    `oom_splits`: out-of-memory retries of the windows that began in this unit."""

    unit: Unit
    rows: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # {"id", "file_path", "reason"}: not encoded
    oom_splits: list[dict] = field(default_factory=list)


class UnitAssembly:
    """Collects encoded files per unit and hands back the units whose last file is encoded."""

    def __init__(self, layout: CodecLayout, precision: str = "fp32"):
        self.layout = layout
        self.precision = precision  # named in the error of a file whose latents overflowed
        self.open: dict[int, EncodedUnit] = {}

    def _row(self, file: DecodedFile, frame_codes: list[np.ndarray]) -> dict:
        """A file's token row: the codes of its real audio, then (apart) SNAC's codes over its own
        zero padding that complete its last frame (`padding`)."""
        assert file.samples is not None
        real, padding = _split_padding(frame_codes, self.layout.n_codes(len(file.samples)))
        duration = len(file.samples) / self.layout.sampling_rate
        return {**file.row, "duration": duration, "codes": real, "padding": padding}

    def add(
        self,
        window: list[DecodedFile],
        codes: list[list[np.ndarray]],
        oom_splits: list[dict],
        nonfinite: list[int] | None = None,
    ) -> list[EncodedUnit]:
        """`codes` and `nonfinite` (non-finite latent values, counted on the device): per decoded
        file of `window`, in order. A file with non-finite latents becomes an error (its codes are
        meaningless: an fp16/bf16 overflow). Releases the window's samples."""
        done: list[EncodedUnit] = []
        encoded = iter(codes)
        counts = iter(nonfinite if nonfinite is not None else [0] * len(codes))
        for number, file in enumerate(window):
            unit = self.open.setdefault(file.unit.index, EncodedUnit(file.unit))
            if number == 0:
                unit.oom_splits.extend(oom_splits)
            if file.skipped is not None:
                unit.skipped.append(
                    {"id": file.row["id"], "file_path": file.row["file_path"], "reason": file.skipped}
                )
            elif file.samples is None:
                unit.errors.append(
                    {"id": file.row["id"], "file_path": file.row["file_path"], "error": file.error}
                )
            else:
                file_codes, count = next(encoded), next(counts)
                if count:
                    error = nonfinite_error(count, self.precision)
                    unit.errors.append(
                        {"id": file.row["id"], "file_path": file.row["file_path"], "error": error}
                    )
                else:
                    unit.rows.append(self._row(file, file_codes))
                file.samples = None  # the samples go no further than the encoder
            if file.last:
                done.append(self.open.pop(file.unit.index))
        return done


def _split_padding(codes: list[np.ndarray], real: Sequence[int]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A file's codes to the end of its last frame, as (the real audio's codes, the padding codes
    that complete the frame) per scale."""
    return [c[:n] for c, n in zip(codes, real)], [c[n:] for c, n in zip(codes, real)]


def nonfinite_error(count: int, precision: str) -> str:
    """The error row of a file whose latents held `count` NaN or infinite values."""
    hint = ": encode it with --precision fp32" if precision in ("bf16", "fp16") else ""
    return f"{count} latent values are NaN or infinite (an overflow in {precision}); no codes written{hint}"


_END = object()


def run_ahead(items: Iterator, depth: int = 1) -> Iterator:
    """`items`, produced in a thread up to `depth` ahead of the consumer (errors raised here)."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        ready.put(("ok", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    getattr(items, "close", lambda: None)()  # ends decoding ahead of a consumer gone
                    return
            ready.put(("done", _END))
        except BaseException as error:  # handed to the consumer, raised there
            ready.put(("raise", error))

    thread = threading.Thread(target=produce, name="snac_hf-windows", daemon=True)
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
        while thread.is_alive():
            try:
                ready.get(timeout=0.1)
            except queue.Empty:
                pass
