"""A device out of memory on a bucket: split the buckets and encode the window again.

Buckets are deterministic, so a bucket that does not fit would fail again on every resume, and
one failing process stops all of them. `SplittingEncoder` catches `torch.OutOfMemoryError`
(`torch.cuda.OutOfMemoryError` is that type), frees the device's cached blocks, halves the batch
size and encodes the whole window again; the smaller batch size stays for the rest of the run.
Codes do not change: they do not depend on batching (`snac_hf.codec.encode`; on GPUs measured
only for `--exact`, see docs/tokenize.md). Each split is logged on stderr and returned, so the
unit records and metadata.json say that it happened; the progress counts each file once (the
retry reports only what goes beyond the failed attempt's counts). At batch size 1 the error is
raised: a single segment that does not fit needs a shorter `--segment_length` or another precision.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from snac_hf.codec.encode import SnacEncoder


@dataclass
class SplittingEncoder:
    """`encoder.encode_files` at `batch_size`, halved on each out-of-memory until it fits."""

    encoder: SnacEncoder
    segment: int
    context: int
    batch_size: int
    splits: list[dict] = field(default_factory=list)
    #: called as files are encoded: (files finished, samples encoded) (`snac_hf.job.progress`)
    progress: Callable[[int, int], None] | None = None

    def encode(self, files: Sequence[np.ndarray]) -> tuple[list[list[np.ndarray]], list[int], list[dict]]:
        """Codes per file to the end of its last frame (real audio, then SNAC's codes over its
        zero padding that complete the frame: `encode_files(whole_frames=True)`); per file the
        number of non-finite latent values (`encode_counted`: such a file must fail, not be
        written); and the splits this call needed (each {"batch_size": from, "to": to})."""
        splits: list[dict] = []
        reported = _Reported(self.progress) if self.progress else None
        while True:
            if reported:
                reported.attempt()
            try:
                codes, nonfinite = self.encoder.encode_counted(
                    files,
                    self.segment,
                    self.batch_size,
                    self.context,
                    whole_frames=True,
                    progress=reported,
                )
                self.splits.extend(splits)
                return codes, nonfinite, splits
            except torch.OutOfMemoryError as error:
                if self.batch_size == 1:
                    raise RuntimeError(
                        "out of memory on the device with batch size 1: use a shorter "
                        "--segment_length or another --precision"
                    ) from error
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                smaller = self.batch_size // 2
                splits.append({"batch_size": self.batch_size, "to": smaller})
                print(
                    f"warning: out of memory on {self.encoder.device} at batch size {self.batch_size}; "
                    f"encoding the window again at batch size {smaller} (codes do not change)",
                    file=sys.stderr,
                    flush=True,
                )
                self.batch_size = smaller


@dataclass
class _Reported:
    """Progress of one window over its attempts: an attempt after an out-of-memory encodes the
    window from its start, so it passes on only what goes beyond the earlier attempts' counts
    (each file and sample is counted once)."""

    progress: Callable[[int, int], None]
    files: int = 0  # the most any attempt has reported (what the progress has been told)
    samples: int = 0
    attempt_files: int = 0  # this attempt's counts
    attempt_samples: int = 0

    def attempt(self) -> None:
        self.attempt_files = self.attempt_samples = 0

    def __call__(self, files: int, samples: int) -> None:
        self.attempt_files += files
        self.attempt_samples += samples
        new_files, new_samples = self.attempt_files - self.files, self.attempt_samples - self.samples
        if new_files > 0 or new_samples > 0:
            self.progress(max(new_files, 0), max(new_samples, 0))
        self.files, self.samples = (
            max(self.files, self.attempt_files),
            max(self.samples, self.attempt_samples),
        )
