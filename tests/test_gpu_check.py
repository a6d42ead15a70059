"""bench/gpu_check.py runs end to end (on the CPU, --tiny, in this process) and reports what it
says it measures, section by section."""

import importlib.util
import json
import sys

import pytest
from conftest import REPO


def load_gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "bench" / "gpu_check.py")
    gpu_check = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = gpu_check  # its dataclasses look their module up there
    spec.loader.exec_module(gpu_check)
    return gpu_check


def test_gpu_check_tiny_on_cpu_writes_each_section(tmp_path, fitted_model, capsys):
    out = tmp_path / "results"
    gpu_check = load_gpu_check()
    argv = ["--device", "cpu", "--tiny", "--model", str(fitted_model), "--output_dir", str(out)]
    assert gpu_check.main(argv) == 0
    report = json.loads((out / "gpu_check.json").read_text())
    table = (out / "gpu_check.md").read_text()
    assert report["settings"]["model"] == str(fitted_model)

    encoders = report["encoders"]
    fp32 = [r for r in encoders["runs"] if r["precision"] == "fp32"]
    assert [(r["encoder"], r["batch_size"]) for r in fp32] == [
        ("model alone", 1), ("snac_hf", 1), ("model alone", 2), ("snac_hf", 2),
    ]  # fmt: skip
    for r in fp32:
        assert r["audio_s_per_s"] == pytest.approx(r["batch_size"] * 1.024 / r["seconds_per_call"], rel=0.03)
        assert r["peak_memory_mib"] is None and r["cuda_kernels_per_bucket"] is None
        assert r["aten_ops_per_bucket"] > 200  # 294 in the encoder alone
    assert "tf32" in encoders["refused"]  # no TF32 on a CPU

    codes = report["codes"]
    assert codes["pipeline_vs_snac_encode_per_file"] == 1.0  # files shorter than a segment
    assert codes["batch_vs_alone"] == codes["batch_vs_permuted"] == codes["batch_vs_inside_5"] == 1.0
    assert codes["device_exact_vs_cpu_exact"] is None
    assert codes["nonfinite_latents"]["fp32"] == 0 and codes["agreement_vs_fp32"]["fp32"] == 1.0

    steady = report["steady"]
    assert steady["audio_seconds"] == pytest.approx(4.0, abs=0.25)
    assert steady["unit_records"] >= 2 and steady["decode_only_audio_s_per_s"] > 0
    assert steady["gpu_utilisation_percent"] is None and steady["why"] == "not a CUDA device"

    oom = report["oom"]
    assert oom["float32"] == oom["float64"] == {
        "largest_batch_that_fits": 2, "first_oom_batch": None, "segment_seconds": 1.0, "capped_at": 2,
    }  # fmt: skip
    for heading in ("# GPU check", "## encoders", "## codes", "## steady", "## oom"):
        assert heading in table
    assert table.strip() in capsys.readouterr().out


def test_a_spent_budget_keeps_what_finished_and_says_why_the_rest_is_missing(tmp_path):
    """--budget_s: a section that cannot start is recorded as not run, one that fails as failed,
    and the tables are written from what there is (no model: instant)."""
    gpu_check = load_gpu_check()
    assert gpu_check.run_section(lambda: {"x": 1}, gpu_check.Budget(None)) == {"x": 1}
    assert "not_run" in gpu_check.run_section(lambda: {"x": 1}, gpu_check.Budget(0.0))
    failed = gpu_check.run_section(lambda: 1 / 0, gpu_check.Budget(60.0))
    assert failed["failed"].startswith("ZeroDivisionError")
    report = {"machine": {"loadavg_start": [0.0] * 3}, "started": "now", "codes": failed}
    table = gpu_check.write_report(report, tmp_path)
    assert "## encoders: not reached" in table and "## codes: failed: ZeroDivisionError" in table
    assert json.loads((tmp_path / "gpu_check.json").read_text())["codes"] == failed
