"""When the default (`compile=None`) compiles the encoder: on CPU, fp32, for jobs long enough.

On CPU in float32 the compiled encoder of `snac_hf.codec.compiled` gives eager's codes bit for
bit (tested, with 1 and 2 threads), so switching to it in the middle of a job changes no code,
and a resume may choose differently than the run it resumes. It costs a compilation first: the
break-even below is measured (BENCHMARKS.md, "Encoder options", `bench/encoder_options.py`).

The choice needs the audio left, which is unknown before decoding: after each `encode_files`
call the audio seconds per file seen so far times the files left is the estimate. The encoder
compiles once that estimate reaches `LONG_ENOUGH_SECONDS`. Everywhere else (CUDA, bf16/fp16,
`--exact`), where compiled codes are not proven equal to eager's, the default stays eager.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence

import numpy as np
import torch

#: Audio seconds left from which compiling pays: twice the break-even measured on a 2-core Xeon
#: (compile time / (1/eager rate - 1/compiled rate): see BENCHMARKS.md), a margin for a slower
#: compilation or a smaller speed-up elsewhere. Not enough everywhere: one thread on a 2-core AMD
#: EPYC gained only 3% (break-even 7,582 s), so jobs of 3,600-7,600 s there run up to ~3% slower.
LONG_ENOUGH_SECONDS = 3600.0
#: Files encoded before the audio per file is trusted as an estimate.
MIN_FILES_SEEN = 8


def has_cpp_compiler() -> bool:
    """Inductor compiles C++ on CPU; without a compiler torch.compile fails on its first call."""
    return any(shutil.which(name) for name in ("g++", "c++", "clang++"))


class CompileChoice:
    """Watches a job's files and says, once, when compiling the encoder pays."""

    def __init__(self, device: torch.device, precision: str, exact: bool, expected_files: int | None):
        self.active = (
            proven_equal(device, precision, exact) and expected_files is not None and has_cpp_compiler()
        )
        self.expected_files = expected_files or 0
        self.files_seen = 0
        self.audio_seen = 0.0

    def observe(self, files: Sequence[np.ndarray], sampling_rate: int) -> bool:
        """Count `files` as encoded; True the first time the audio left is long enough."""
        if not self.active:
            return False
        self.files_seen += len(files)
        self.audio_seen += sum(len(f) for f in files) / sampling_rate
        if self.files_seen < min(MIN_FILES_SEEN, self.expected_files):
            return False
        left = self.audio_seen / self.files_seen * max(0, self.expected_files - self.files_seen)
        if left >= LONG_ENOUGH_SECONDS:
            self.active = False  # decided: once
            return True
        return False


def proven_equal(device: torch.device, precision: str, exact: bool) -> bool:
    """Whether compiled codes are proven equal to eager's here: CPU, fp32 (tests/test_encode.py)."""
    return device.type == "cpu" and precision == "fp32" and not exact


def compile_changes_codes(compile: bool | None, device: torch.device, precision: str, exact: bool) -> bool:
    """Whether `compile` may change codes, so that it belongs in the run fingerprint: asked for
    (True) where compiled codes are not proven equal to eager's. The default (None) compiles only
    where they are, so it never does."""
    return compile is True and not proven_equal(device, precision, exact)


def compile_settings(compile: bool | None, device: torch.device, precision: str, exact: bool) -> dict:
    """What metadata.json records about compilation."""
    return {
        "compile": {True: "on", False: "off", None: "auto"}[compile],
        "compile_changes_codes": compile_changes_codes(compile, device, precision, exact),
    }
