"""Every script in bench/ runs in a tiny form (seconds of work), so that a change that breaks a
benchmark fails the suite instead of rotting unseen until someone reruns it (issue 31: the analysis
benchmark's synthetic durations were refused by the row checks added after it, and nothing noticed).

Each runs as a user types it (a subprocess from the repository root) and its report is read back:
the figures are not judged here (the machine is shared), only that the script measured what it
says it measures. bench/gpu_check.py, bench/feed_ceiling.py and bench/speech_corpus.py have their
own tests."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import SHORT_SPEECH, SPEECH, run_script


def bench(*args: str) -> str:
    result = run_script(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_analysis_throughput_and_accuracy(tmp_path):
    report = bench(
        "bench/analysis_throughput.py", "--workdir", str(tmp_path), "--tokens", "2e5",
        "--small_tokens", "1e5", "--reference_tokens", "2e4", "--num_proc", "2",
    )  # fmt: skip
    assert "| large | 2 | " in report and "| small | 1 | " in report
    assert "tokens/s" in report and "Reference:" in report
    # the accuracy bench reads the set the throughput bench made; a small budget makes it estimate
    report = bench(
        "bench/analysis_accuracy.py", "--folder", str(tmp_path / "tokens_200000-v2"), "--tokens", "1e5",
        "--budget", "256",
    )  # fmt: skip
    assert "| scale 2, n = 7 |" in report  # an estimated figure, compared with the exact one
    assert "coverages outside their bound: 0." in report


def test_bpe_vs_codec_bpe(tmp_path):
    out = tmp_path / "bpe.json"
    bench(
        "bench/bpe_vs_codec_bpe.py",
        "--files",
        "40",
        "--num_merges",
        "50",
        "--repeats",
        "1",
        "--json",
        str(out),
    )
    result = json.loads(out.read_text())
    assert result["snac_hf"]["exact"] and result["codec_bpe"]["exact"]
    assert result["snac_hf"]["merges_learned"] == 50


def test_orpheus_export(tmp_path):
    report = bench(
        "bench/orpheus_export.py", "--workdir", str(tmp_path), "--hours", "0.05", "--small_hours", "0.02",
        "--num_proc", "1",
    )  # fmt: skip
    assert "| large | 1 | " in report and "audio-s/s" in report


def test_encoder_options(tmp_path, fitted_model):
    audio = tmp_path / "audio"  # one recording of 1.1 s
    audio.mkdir()
    shutil.copy(SPEECH / SHORT_SPEECH[0], audio / SHORT_SPEECH[0])
    bench(
        "bench/encoder_options.py", "--model", str(fitted_model), "--threads", "1", "--audio_dir", str(audio),
        "--eager_only", "--out", str(tmp_path),
    )  # fmt: skip
    run = json.loads((tmp_path / "encoder_options.json").read_text())["runs"]["1"]
    assert run["eager fp32"]["bit_equal_eager_fp32"] and run["exact (float64)"]["agreement_vs_exact"] == 1.0
    assert "compiled fp32" not in run  # --eager_only: no compilation in the suite


@pytest.mark.parametrize("script", ["bench/reproducibility.py", "bench/tokenize_throughput.py"])
def test_encoding_benches(tmp_path, fitted_model, script):
    audio = tmp_path / "audio"  # two recordings of 1.1 and 1.6 s
    audio.mkdir()
    for name in SHORT_SPEECH[:2]:
        shutil.copy(SPEECH / name, audio / name)
    out = tmp_path / "result.json"
    bench(script, "--model", str(fitted_model), "--audio_dir", str(audio), "--json", str(out))
    result = json.loads(out.read_text())
    if script.endswith("reproducibility.py"):
        assert result["files"] == 2 and result["agreement"]["float64_1_vs_2_threads"] == 1.0
    else:
        assert result["pipeline_over_model_only"] > 0


def test_whole_file_codes():
    report = bench("bench/whole_file_codes.py", "--repeats", "1", "--long_seconds", "5", "--no_bundled")
    rows = [line for line in report.splitlines() if line.startswith("| one 5 s file")]
    cut, context = (float(row.strip("| ").rsplit("|", 1)[-1]) for row in rows)
    assert context >= 0.99 and context > cut  # the default context: whole-file codes (float32: near ties)


def test_every_bench_script_is_exercised():
    """A new bench script gets a tiny form here (or its own test) the day it is added."""
    from conftest import REPO

    tested = {
        "analysis_throughput", "analysis_accuracy", "bpe_vs_codec_bpe", "orpheus_export",
        "encoder_options", "reproducibility", "tokenize_throughput", "whole_file_codes",
    }  # fmt: skip
    own_tests = {
        "gpu_check": "test_gpu_check.py",
        "feed_ceiling": None,
        "speech_corpus": "test_speech_corpus.py",
    }
    scripts = {p.stem for p in (REPO / "bench").glob("*.py")}
    suite = "".join(p.read_text() for p in (REPO / "tests").glob("test_*.py"))
    for name in scripts - tested:
        assert name in own_tests, f"bench/{name}.py has no tiny form in the suite"
        assert f"bench/{name}.py" in suite, f"bench/{name}.py is not run by any test"
