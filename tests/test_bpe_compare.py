"""The variant comparison (compare_bpe) and both command lines, on small synthetic token sets."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from snac_hf.bpe import load_tokenizer
from snac_hf.bpe.compare import compare, compression_verdict, heuristic_verdict
from snac_hf.bpe.synthetic import write_synthetic_token_set
from snac_hf.cli.compare_bpe import main as compare_main
from snac_hf.cli.train_bpe import main as train_main
from snac_hf.layout import layout_for

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def token_set(tmp_path_factory) -> Path:
    return write_synthetic_token_set(
        tmp_path_factory.mktemp("cmp") / "tokens",
        layout_for("snac_24khz"),
        n_files=40,
        seconds=(0.5, 3.0),
        seed=7,
    )


def test_compare_reports_every_variant_and_budget(token_set, tmp_path):
    (token_set / "analysis.md").write_text("# Analysis\n\nHeuristics said things.\n")
    (token_set / "analysis.json").write_text(
        json.dumps({"bpe": {"recommendation": {"verdict": "good candidate"}}})
    )
    out = tmp_path / "cmp"
    report = compare(
        token_set,
        out,
        variants=["plain", "rl", "cross_scale"],
        num_merges=[0, 100],
        holdout=0.25,
        annotate=True,
    )

    rows = {(r["variant"], r["num_merges"]): r for r in report["results"]}
    assert set(rows) == {(v, m) for v in ("plain", "rl", "cross_scale") for m in (0, 100)}
    assert all(
        r["round_trip_exact"] and r["files"] == report["split"]["held_out_files"] for r in rows.values()
    )
    assert rows[("plain", 0)]["codes_per_token"] == 1.0 and not rows[("plain", 0)]["compresses"]
    assert rows[("plain", 0)]["compression"] == "no"
    assert rows[("rl", 0)]["codes_per_token"] > 1.0  # silences are runs even without merges
    assert rows[("plain", 100)]["codes_per_token"] > 1.0 and rows[("plain", 100)]["merges_learned"] == 100
    for r in rows.values():
        assert r["tokens_per_second"] == pytest.approx(r["tokens"] / report["split"]["held_out_seconds"])
        assert r["encode_codes_per_second"] > 0 and r["train_seconds"] > 0
        assert 0 < r["vocab_used"] <= r["vocab_size"]
        assert load_tokenizer(r["tokenizer"]).num_merges == r["merges_learned"]

    markdown = (out / "comparison.md").read_text()
    assert "| plain | 0 (0) |" in markdown and "| **no** |" in markdown
    assert "| rl (max_run=16) | 100 (100) |" in markdown
    assert json.loads((out / "comparison.json").read_text())["results"] == json.loads(
        json.dumps(report["results"])
    )
    assert (out / "comparison.png").stat().st_size > 1000

    analysis = (token_set / "analysis.md").read_text()
    assert analysis.startswith("# Analysis\n\nHeuristics said things.")
    assert "<!-- snac_hf:bpe_measured:start -->" in analysis and "**Measured**" in analysis
    assert "heuristic verdict: good candidate" in analysis
    compare(token_set, out, variants=["plain"], num_merges=[0], holdout=0.25, annotate=True)
    assert (token_set / "analysis.md").read_text().count("snac_hf:bpe_measured:start") == 1  # replaced


def test_heuristic_verdict_is_read_defensively(tmp_path):
    cases = {
        '{"verdict": "poor candidate"}': "poor candidate",
        # The layout snac_hf.analysis writes: per-scale verdicts, then the overall one.
        json.dumps(
            {
                "scales": [{"scale": 0, "gini": 0.4}],
                "recommendation": {
                    "per_scale": [{"verdict": "good BPE candidate"}],
                    "verdict": "poor BPE candidate",
                },
            }
        ): "poor BPE candidate",
        '{"bpe": {"recommendations": ["high skew", "sparse"]}}': "high skew; sparse",
        '{"scales": [{"x": 1}, {"bpe_verdict": {"label": "mixed"}}]}': "mixed",
        '{"nothing": 1}': None,
        "not json": None,
    }
    for text, expected in cases.items():
        (tmp_path / "analysis.json").write_text(text)
        assert heuristic_verdict(tmp_path) == expected
    assert heuristic_verdict(tmp_path / "missing") is None


def test_compare_needs_both_splits(token_set, tmp_path):
    with pytest.raises(ValueError, match="both must be non-empty"):
        compare(token_set, tmp_path, variants=["plain"], num_merges=[0], holdout=0.001)
    with pytest.raises(ValueError, match="unknown variants"):
        compare(token_set, tmp_path, variants=["bytes"], num_merges=[0])


def test_train_bpe_command_line(token_set, tmp_path):
    # The exact command users type: the script's folder (with scripts/tokenize.py, which shadows the
    # standard-library module) comes first on sys.path; the script must remove it before importing.
    command = [sys.executable, "scripts/train_bpe.py", "--tokens", str(token_set),
               "--variant", "rl_cross_scale", "--num_merges", "50", "--max_run", "8",
               "--output_dir", str(tmp_path / "tok")]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "learned 50 merges" in done.stderr
    tokenizer = load_tokenizer(tmp_path / "tok")
    assert tokenizer.variant == "rl_cross_scale"
    assert tokenizer.serializer.options() == {"max_run": 8, "span_frames": False}
    bad = [
        "--tokens",
        str(token_set),
        "--variant",
        "plain",
        "--max_run",
        "4",
        "--output_dir",
        str(tmp_path / "x"),
    ]
    assert train_main(bad) == 2


def test_compare_bpe_script(token_set, tmp_path, monkeypatch, capsys):
    # In-process (the subprocess test above covers the sys.path guard, identical in both scripts).
    argv = ["compare_bpe.py", "--tokens", str(token_set), "--variants", "plain", "hierarchical",
            "--num_merges", "0", "20", "--holdout", "0.25",
            "--output_dir", str(tmp_path / "cmp")]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(ROOT / "scripts" / "compare_bpe.py"), run_name="__main__")
    assert exit_info.value.code == 0
    assert "| hierarchical (span_frames=False) | 20 (20) |" in capsys.readouterr().out
    assert (tmp_path / "cmp" / "comparison.json").is_file()
    assert compare_main(["--tokens", str(tmp_path / "missing"), "--output_dir", str(tmp_path / "x")]) == 2


def test_compression_verdict():
    assert [compression_verdict(x) for x in (None, 0.9, 1.0, 1.03, 1.05, 3.0)] == [
        "no",
        "no",
        "no",
        "barely",
        "yes",
        "yes",
    ]


def test_merging_needs_no_torch():
    # Users merge a downloaded token set without torch: nothing in snac_hf.bpe may import it.
    code = (
        "import sys, snac_hf.bpe, snac_hf.bpe.compare, snac_hf.bpe.synthetic; print('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_compare_reads_the_token_set_without_changing_it_unless_asked(capsys, tmp_path):
    """Issue 31 item 8: compare-bpe rewrote the set's analysis.md, analysis.json and card, and wrote
    the measured line twice. Now a reader writes only into its --output_dir; --annotate_tokens
    states the measurement in the set, once per file."""
    from snac_hf.analysis import analyze_folder
    from snac_hf.analysis.markdown import NOT_MEASURED
    from tests.conftest import run_here

    tokens = write_synthetic_token_set(
        tmp_path / "tokens", layout_for("snac_24khz"), n_files=12, seconds=(0.5, 1.5), seed=3
    )
    analyze_folder(str(tokens), plots=False, console=False)

    def contents() -> dict:
        return {p: p.read_bytes() for p in sorted(tokens.rglob("*")) if p.is_file()}

    before = contents()
    args = ("--tokens", str(tokens), "--variants", "plain", "--num_merges", "0", "8", "--holdout", "0.3")
    result = run_here(capsys, "compare-bpe", *args, "--output_dir", str(tmp_path / "cmp"))
    assert result.returncode == 0, result.stderr
    assert contents() == before and "updated" not in result.stdout
    result = run_here(
        capsys, "compare-bpe", *args, "--output_dir", str(tmp_path / "cmp2"), "--annotate_tokens"
    )
    assert result.returncode == 0, result.stderr
    assert "updated" in result.stdout
    assert (tokens / "analysis.md").read_text().count("**Measured**") == 1
    card = (tokens / "README.md").read_text()
    assert card.count("Measured BPE compression:") == 1 and NOT_MEASURED not in card
    assert json.loads((tokens / "analysis.json").read_text())["bpe_measured"]["variant"] == "plain"
