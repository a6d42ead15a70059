"""Shared fixtures: real speech (tests/data/speech, see its NOTICE.md), offline SNAC models, token sets.

The models are the real SNAC architecture built offline (the Hub is unreachable in CI):
`fitted_model` has codebooks fit to real speech (realistic code statistics), `random_model` has
seeded-random weights (degenerate codes; used only where that does not matter or is the point).
Both are cached across runs (see snac_hf.codec.model_folder.cached_model_dir); `make setup` builds them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # fail fast instead of retrying an unreachable Hub
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

REPO = Path(__file__).resolve().parents[1]
SPEECH = REPO / "tests" / "data" / "speech"
#: Five short real recordings (1.1-2.0 s): fast enough for runs repeated in one test.
SHORT_SPEECH = [
    "en_005_001.flac",
    "en_006_002.flac",
    "en_007_003.flac",
    "it_016_dir-first.flac",
    "ru_034_2.flac",
]


def run_script(
    *args: str, launcher: tuple[str, ...] = (sys.executable,), **kwargs
) -> subprocess.CompletedProcess:
    """Run a repository script exactly as a user types it, from the repository root."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([*launcher, *args], cwd=REPO, env=env, capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="session")
def speech_dir() -> Path:
    return SPEECH


@pytest.fixture(scope="session")
def short_speech_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("short_speech")
    for name in SHORT_SPEECH:
        shutil.copy(SPEECH / name, folder / name)
    return folder


@pytest.fixture(scope="session")
def fitted_model() -> Path:
    from snac_hf.codec.codebook_fit import ensure_offline_model

    return ensure_offline_model("fitted", SPEECH)


@pytest.fixture(scope="session")
def random_model() -> Path:
    from snac_hf.codec.codebook_fit import ensure_offline_model

    return ensure_offline_model("random")


@pytest.fixture(scope="session")
def speech_token_set(tmp_path_factory, fitted_model) -> Path:
    """All 40 speech fixtures tokenized by the real pipeline with the fitted model (no analysis).

    `--exact` (float64) codes: the model's weights are the same on every machine, but float32
    encoding rounds differently by CPU type and thread count, and figures pinned from this set
    (docs/offline-codec.md's table) must hold on any machine."""
    from snac_hf.codec.load import load_codec
    from snac_hf.job.pipeline import TokenizeSettings, tokenize_dataset
    from snac_hf.sources.folder import folder_dataset

    out = tmp_path_factory.mktemp("speech_tokens") / "tokens"
    settings = TokenizeSettings(files_per_shard=16, exact=True)
    tokenize_dataset(
        folder_dataset(str(SPEECH)), load_codec(str(fitted_model)), str(out), settings, progress=False
    )
    return out
