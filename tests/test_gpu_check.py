"""bench/gpu_check.py runs end to end (on the CPU, --tiny) and reports what it says it measures."""

import json

import pytest
import torch
from conftest import run_script

TINY_SECONDS = (26289 + 36917) / 24000  # en_005_001 + en_007_003 at 24 kHz


@pytest.mark.slow  # > 30 s: gpu_check and its three tokenize subprocesses each start torch and a model
def test_gpu_check_tiny_on_cpu_writes_json_and_tables(tmp_path, fitted_model):
    out = tmp_path / "results"
    done = run_script(
        "bench/gpu_check.py", "--device", "cpu", "--tiny", "--model", str(fitted_model),
        "--output_dir", str(out), "--work_dir", str(tmp_path / "work"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "gpu_check.json").read_text())
    table = (out / "gpu_check.md").read_text()

    machine = report["machine"]
    assert machine["torch"] == torch.__version__
    assert len(machine["loadavg_start"]) == len(machine["loadavg_end"]) == 3
    assert report["settings"]["device"] == "cpu" and report["settings"]["num_workers"] == 1

    sweep = report["snac_encode"]["runs"]
    assert [r["batch_size"] for r in sweep] == [1, 2]
    for r in sweep:
        assert r["audio_s_per_s"] == pytest.approx(r["batch_size"] * 1.0 / r["seconds_per_call"])
        assert r["calls"] == 1 and r["peak_memory_mib"] is None
    assert report["snac_encode"]["best"]["audio_s_per_s"] == max(r["audio_s_per_s"] for r in sweep)

    pipeline = report["pipeline"]
    full, half = pipeline["runs"]
    assert (full["files"], full["files_failed"], half["files"]) == (2, 0, 1)
    assert full["audio_seconds"] == pytest.approx(TINY_SECONDS)
    assert half["audio_seconds"] == pytest.approx(26289 / 24000)
    assert pipeline["audio_s_per_s"] == pytest.approx(full["audio_seconds"] / full["job_seconds"])
    best = report["snac_encode"]["best"]["audio_s_per_s"]
    assert pipeline["ratio_to_best_snac_encode"] == pytest.approx(pipeline["audio_s_per_s"] / best)
    assert pipeline["real_time_goal_met"] is False  # 5000x real time on 2 CPU cores: no

    agreement = report["agreement"]
    assert 0.9 <= agreement["device_default_vs_reference"] <= 1.0
    assert agreement["device_exact_vs_reference"] is None  # on the CPU that run is the reference
    assert agreement["batch_sizes_compared"] == [1, 2]
    assert agreement["device_batch_1_vs_batch_b"] == 1.0  # established on CPU: tests/test_encode.py
    quantizer = agreement["quantize_vs_snac_quantizer_item_by_item"]
    assert quantizer["items"] == 1 and 0.9 <= quantizer["codes_agreement"] <= 1.0
    if machine["torch_threads"] == 1:  # equal bit for bit with one thread (rule 3 of snac_hf.codec.encode)
        assert quantizer["z_q_bit_equal"] and quantizer["codes_agreement"] == 1.0

    exact = report["exact_cost"]
    assert exact["audio_seconds"] == pytest.approx(TINY_SECONDS)
    assert exact["ratio"] == pytest.approx(exact["float64_seconds"] / exact["float32_seconds"])

    options = report["encoder_options"]["options"]
    assert options["fp32"]["speed_vs_fp32"] == 1.0 and options["fp32"]["agreement_vs_fp32"] == 1.0
    assert 0.9 <= options["fp32"]["agreement_vs_reference"] <= 1.0
    assert "seconds" in options["bf16"] or "refused" in options["bf16"]  # bf16 where the CPU has it
    assert "not_run" in options["fp32 compiled"]

    headings = ("# GPU check", "## SNAC.encode alone", "## Pipeline", "## Code agreement", "## Cost of")
    headings += ("## Encoder options",)
    assert all(heading in table for heading in headings)
    assert "| 1 | " in table and "| 2 | " in table
    assert table.strip() in done.stdout


def test_a_spent_budget_keeps_what_finished_and_says_why_the_rest_is_missing(tmp_path):
    """--budget_s: a section that cannot start is recorded as not run, one that fails as failed,
    and the tables are written from what there is (no model, no subprocess: instant)."""
    import importlib.util
    import sys

    from conftest import REPO

    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "bench" / "gpu_check.py")
    gpu_check = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = gpu_check  # its dataclasses look their module up there
    spec.loader.exec_module(gpu_check)
    assert gpu_check.run_section(lambda: {"x": 1}, gpu_check.Budget(None)) == {"x": 1}
    assert "not_run" in gpu_check.run_section(lambda: {"x": 1}, gpu_check.Budget(0.0))
    failed = gpu_check.run_section(lambda: 1 / 0, gpu_check.Budget(60.0))
    assert failed["failed"].startswith("ZeroDivisionError")
    report = {"machine": {"loadavg_start": [0.0] * 3}, "started": "now", "pipeline": failed}
    table = gpu_check.write_report(report, tmp_path)
    assert "## settings: not reached" in table and "## pipeline: failed: ZeroDivisionError" in table
    assert json.loads((tmp_path / "gpu_check.json").read_text())["pipeline"] == failed
