"""Shared fixtures: real speech (tests/data/speech, see its NOTICE.md), offline SNAC models, token sets.

The models are the real SNAC architecture built offline (the Hub is unreachable in CI):
`fitted_model` has codebooks fit to real speech (realistic code statistics), `random_model` has
seeded-random weights (degenerate codes; used only where that does not matter or is the point).
Both are cached across runs (see snac_hf.codec.model_folder.cached_model_dir); `make setup` builds them.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # fail fast instead of retrying an unreachable Hub
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
if os.environ.get("PYTEST_XDIST_WORKER"):  # `make test` runs 2 pytest-xdist workers on 2 cores
    # one OpenMP thread each (and in what they start): 2 workers x 2 spinning OpenMP threads on 2
    # cores made float64 encodes 7x slower (measured: the exact speech fixture 407 s instead of ~55)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

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


def soak_runs(default: int) -> int:
    """How many times a test that repeats one proof (a rare crash, scheduling) runs it: `default` in
    `make test`, SNAC_HF_SOAK_RUNS under `make soak` (the issues' full counts)."""
    return int(os.environ.get("SNAC_HF_SOAK_RUNS", default))


def run_script(
    *args: str, launcher: tuple[str, ...] = (sys.executable,), env: dict | None = None, **kwargs
) -> subprocess.CompletedProcess:
    """Run a repository script exactly as a user types it, from the repository root (`env`: variables
    set for it on top of this process's)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run([*launcher, *args], cwd=REPO, env=env, capture_output=True, text=True, **kwargs)


#: The `snac-hf` command each script runs (scripts/X.py is `snac-hf X` under its own name).
SCRIPT_COMMANDS = {
    "scripts/tokenize.py": "tokenize",
    "scripts/analyze.py": "analyze",
    "scripts/train_bpe.py": "train-bpe",
    "scripts/compare_bpe.py": "compare-bpe",
    "scripts/export.py": "export",
    "scripts/decode.py": "decode",
    "scripts/evaluate_lm.py": "evaluate-lm",
    "scripts/evidence.py": "evidence",
}


def run_here(capsys, command: str, *args: str, prog: str | None = None) -> subprocess.CompletedProcess:
    """`snac-hf COMMAND ARGS` in this process: the same `main` the console command runs, from the
    repository root, its exit status and console output as a CompletedProcess.

    For refusals (a one-line error, exit 2) and runs whose process is not what a test is about: a
    subprocess spends 1.5-3 s importing torch and datasets before the first check, which made the
    hostile-input matrices most of the suite's time. A bug's traceback propagates into the test (it
    fails). Every command still runs as a subprocess in other tests, and those cover logging, exit
    at interpreter shutdown, signals and the worker processes."""
    capsys.readouterr()  # drop what the test printed before
    return run_in_process(command, *args, prog=prog)


def run_in_process(command: str, *args: str, prog: str | None = None) -> subprocess.CompletedProcess:
    """`run_here` without pytest's capsys: the console output is what the command writes to
    sys.stdout and sys.stderr (redirected here), which is all a snac-hf command writes."""
    from snac_hf.cli.main import run

    threads = sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(REPO), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = run(command, list(args), prog or f"snac-hf {command}")
        except SystemExit as exit_:  # argparse's errors (exit status 2)
            status = exit_.code
        finally:  # `--num_threads` sets torch's for the process: the next test must not inherit it
            if threads is not None:
                sys.modules["torch"].set_num_threads(threads)
    return subprocess.CompletedProcess([command, *args], status, out.getvalue(), err.getvalue())


def run_script_here(capsys, script: str, *args: str) -> subprocess.CompletedProcess:
    """`python SCRIPT ARGS` in this process (`run_here` of the command the script runs)."""
    return run_here(capsys, SCRIPT_COMMANDS[script], *args, prog=script)


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


def built_once(tmp_path_factory, name: str, build) -> Path:
    """`build(folder)` run once per test session, even when pytest-xdist splits the session over
    several worker processes: the first worker builds under a file lock in the folder all workers
    share, the others wait for it and read the result (pytest-xdist's documented pattern). Returns
    the folder."""
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # each worker's basetemp is a sibling under the session's
    folder = root / name
    with FileLock(str(root / f"{name}.lock")):
        if not (folder / ".built").is_file():
            shutil.rmtree(folder, ignore_errors=True)  # a build that failed half-way
            build(folder)
            (folder / ".built").touch()
    return folder


@pytest.fixture(scope="session")
def speech_token_set(tmp_path_factory, fitted_model) -> Path:
    """All 40 speech fixtures tokenized by the real pipeline with the fitted model (no analysis).

    `--exact` (float64) codes: the model's weights are the same on every machine, but float32
    encoding rounds differently by CPU type and thread count, and figures pinned from this set
    (docs/offline-codec.md's table) must hold on any machine."""
    from snac_hf.codec.load import load_codec
    from snac_hf.job.pipeline import TokenizeSettings, tokenize_dataset
    from snac_hf.sources.folder import folder_dataset

    def build(folder: Path) -> None:
        settings = TokenizeSettings(files_per_shard=16, exact=True)
        codec = load_codec(str(fitted_model))
        tokenize_dataset(folder_dataset(str(SPEECH)), codec, str(folder / "tokens"), settings, progress=False)

    return built_once(tmp_path_factory, "speech_tokens", build) / "tokens"
