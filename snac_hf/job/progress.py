"""Progress of a tokenize job as files are encoded: files, audio seconds, rate and ETA of the whole job.

The encoder reports each bucket of segments as its codes arrive (`SnacEncoder.encode_files(...,
progress=)`): the files it finished and the audio samples it encoded. `JobProgress` adds them up
per process, so the count moves within a shard (a 256-file unit is no longer one step).

Across processes: each process of a multi-process run publishes its counts at most every
`PUBLISH_SECONDS` in `.snac_hf/progress-R.json` (R: its index; a few bytes, written atomically);
the main process sums every process's file into the figures it shows for the whole job (total:
the files of every unit not done when the run began). The main process removes the files of an
earlier run before the processes start (`clear`). One process publishes nothing.

`snapshot()` is what a display shows (`line()` for humans, a tqdm bar for the terminal); nothing
here depends on a terminal.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from snac_hf.tokenset.ownership import STATE_DIR

PUBLISH_SECONDS = 1.0


def progress_file(folder: Path, index: int) -> Path:
    return folder / STATE_DIR / f"progress-{index}.json"


def clear(folder: Path) -> None:
    """Remove the progress files of an earlier run (main process, before the others start)."""
    for path in (folder / STATE_DIR).glob("progress-*.json"):
        path.unlink(missing_ok=True)


@dataclass
class Snapshot:
    files: int
    total_files: int
    audio_seconds: float
    elapsed: float

    @property
    def files_per_second(self) -> float:
        return self.files / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def real_time(self) -> float:
        """Audio seconds encoded per wall second."""
        return self.audio_seconds / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left at the rate so far (None before the first file)."""
        if self.files == 0:
            return None
        return max(0, self.total_files - self.files) / self.files_per_second

    def line(self) -> str:
        eta = "?" if self.eta_seconds is None else f"{self.eta_seconds:.0f} s"
        return (
            f"{self.files}/{self.total_files} files, {self.audio_seconds / 3600:.3f} h of audio, "
            f"{self.files_per_second:.2f} files/s, {self.real_time:.1f}x real time, ETA {eta}"
        )


@dataclass
class JobProgress:
    """This process's encoded files and samples; on the main process, the whole job's figures."""

    folder: Path
    index: int
    count: int
    total_files: int
    sampling_rate: int
    clock: Callable[[], float] = time.monotonic
    files: int = 0
    samples: int = 0
    started: float = field(default=0.0)
    published: float = field(default=float("-inf"))

    def __post_init__(self) -> None:
        self.started = self.clock()

    def encoded(self, files: int, samples: int) -> None:
        """The encoder's report (`encode_files(..., progress=)`): files finished, samples encoded."""
        self.files += files
        self.samples += samples
        if self.count > 1 and self.clock() - self.published >= PUBLISH_SECONDS:
            self.publish()

    def publish(self) -> None:
        """Write this process's counts for the main process to read."""
        self.published = self.clock()
        path = progress_file(self.folder, self.index)
        tmp = path.with_name(f".{path.name}.partial")
        tmp.write_text(json.dumps({"files": self.files, "samples": self.samples}))
        os.replace(tmp, path)

    def snapshot(self) -> Snapshot:
        """The job's figures: this process's counts, plus the other processes' last published ones."""
        files, samples = self.files, self.samples
        for other in range(self.count):
            if other == self.index:
                continue
            try:
                counts = json.loads(progress_file(self.folder, other).read_text())
                files, samples = files + int(counts["files"]), samples + int(counts["samples"])
            except (OSError, ValueError, KeyError, TypeError):
                continue  # not published yet
        return Snapshot(files, self.total_files, samples / self.sampling_rate, self.clock() - self.started)
