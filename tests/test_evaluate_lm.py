"""scripts/evaluate_lm.py with a tiny budget: a table with every variant and finite bits per second."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.conftest import run_script


@pytest.fixture(scope="module")
def synthetic_tokens(tmp_path_factory):
    from snac_hf.bpe.synthetic import write_synthetic_token_set
    from snac_hf.layout import layout_for

    return write_synthetic_token_set(tmp_path_factory.mktemp("lm") / "tokens", layout_for("snac_24khz"), 12)


def test_tiny_budget_reports_every_variant(synthetic_tokens, tmp_path):
    variants = ["plain", "rl", "cross_scale"]
    out = tmp_path / "eval"
    result = run_script(
        "scripts/evaluate_lm.py", "--tokens", str(synthetic_tokens), "--variants", *variants,
        "--num_merges", "30", "30", "100000", "--output_dir", str(out), "--steps", "2", "--batch_size", "2",
        "--context", "32", "--hidden_size", "16", "--num_heads", "2", "--generation_tokens", "4",
        "--holdout", "0.25", "--num_threads", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "lm_eval.json").read_text())
    rows = report["results"]
    # cross_scale asked for 100,000 merges and learned fewer: its row says learned / requested
    learned = next(r["num_merges"] for r in rows if r["num_merges_requested"] == 100_000)
    assert 30 < learned < 100_000
    labels = ["plain (30 merges)", "rl (30 merges)", f"cross_scale ({learned:,}/100,000 merges)"]
    for setting in ("equal_audio", "equal_steps"):
        names = [r["name"] for r in rows if r["setting"] == setting]
        assert names == ["raw codes (cross_scale order, 0 merges)", *labels]
    for r in rows:
        assert math.isfinite(r["bits_per_second"]) and r["bits_per_second"] > 0
        assert r["parameters_non_embedding"] == rows[0]["parameters_non_embedding"]
        assert r["generation_audio_seconds_per_second"] > 0
    # equal audio: every model saw the same audio-seconds; equal steps: the same tokens
    seen = [r["audio_seconds_seen"] for r in rows if r["setting"] == "equal_audio"]
    assert np.allclose(seen, seen[0], rtol=0.05)
    assert len({r["tokens_seen"] for r in rows if r["setting"] == "equal_steps"}) == 1
    table = (out / "lm_eval.md").read_text()
    assert all(label in table for label in labels) and "bits / audio-s" in table
    assert (out / "lm_eval.png").stat().st_size > 0
    assert "bits / audio-s" in result.stdout


def test_scored_tokens_are_audio_tokens_and_end_marker():
    """Each held-out token after <bos> <audio_start> up to <audio_end> is scored exactly once."""
    import torch

    from snac_hf.lm.measure import held_out_nll, scoring_windows
    from snac_hf.lm.model import build_model
    from snac_hf.lm.settings import ModelSettings

    assert scoring_windows(10, 4) == [(0, 4), (3, 7), (6, 10)]
    model = build_model(50, ModelSettings(1, 16, 2), {"bos": 1, "eos": 2, "pad": 0}).eval()
    sequence = np.array([1, 3] + list(range(5, 25)) + [4, 2])  # bos, audio_start, 20 tokens, audio_end, eos
    for window in (4, 7, 64):
        result = held_out_nll(model, [sequence], window, pad_id=0)
        assert result["tokens"] == 21
    with torch.inference_mode():  # a window covering everything equals one plain forward pass
        logits = model(input_ids=torch.tensor(sequence[None])).logits[0, :-1]
        log_probs = torch.log_softmax(logits, -1).gather(-1, torch.tensor(sequence[1:, None]))[:, 0]
    expected = -float(log_probs[1:-1].double().sum())
    assert held_out_nll(model, [sequence], 64, pad_id=0)["nats"] == pytest.approx(expected, rel=1e-5)
    # the parts scored by processes 0..2 of 3 add up to the whole (windows dealt round-robin)
    whole = held_out_nll(model, [sequence, sequence[:9]], 4, pad_id=0)
    parts = [held_out_nll(model, [sequence, sequence[:9]], 4, pad_id=0, part=(i, 3)) for i in range(3)]
    assert [p["tokens"] for p in parts] == [11, 8, 8] and whole["tokens"] == 27
    assert sum(p["nats"] for p in parts) == pytest.approx(whole["nats"], rel=1e-6)


def test_num_merges_must_match_variants(synthetic_tokens, tmp_path):
    result = run_script(
        "scripts/evaluate_lm.py", "--tokens", str(synthetic_tokens), "--variants", "plain", "rl",
        "--num_merges", "1", "2", "3", "--output_dir", str(tmp_path / "x"),
    )  # fmt: skip
    assert result.returncode == 2 and "one per variant" in result.stderr


@pytest.fixture(scope="module")
def two_split_tokens(tmp_path_factory):
    """A token set with a train split (12 files) and a validation split (8 other files)."""
    import shutil

    from snac_hf.bpe.synthetic import write_synthetic_token_set
    from snac_hf.layout import layout_for
    from snac_hf.tokenset.schema import METADATA_FILE, shard_name

    root = tmp_path_factory.mktemp("two_splits")
    tokens = write_synthetic_token_set(root / "tokens", layout_for("snac_24khz"), 12)
    other = write_synthetic_token_set(root / "other", layout_for("snac_24khz"), 8, seed=1, shards=1)
    shutil.copy(other / shard_name(0, 1), tokens / shard_name(0, 1, "validation"))
    metadata = json.loads((tokens / METADATA_FILE).read_text())
    metadata["files_processed"] = 20
    metadata["splits"] = {"train": {"files_processed": 12}, "validation": {"files_processed": 8}}
    (tokens / METADATA_FILE).write_text(json.dumps(metadata))
    return tokens


def test_evaluate_lm_and_evidence_read_the_split_asked_for(two_split_tokens, tmp_path, capsys):
    """`--split validation` trains and scores on that split's files (its own train/held-out split);
    a split the set does not have is one line naming the splits it has, for both commands."""
    from tests.conftest import run_here

    out = tmp_path / "eval"
    result = run_here(
        capsys, "evaluate-lm", "--tokens", str(two_split_tokens), "--split", "validation",
        "--variants", "plain", "--num_merges", "4", "--output_dir", str(out), "--steps", "1",
        "--batch_size", "2", "--context", "32", "--hidden_size", "16", "--num_heads", "2",
        "--generation_tokens", "2", "--holdout", "0.25",
        "--settings", "equal_steps", "--num_threads", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads((out / "lm_eval.json").read_text())["data"]
    assert data["split"] == "validation" and data["files"] == 8
    assert (out / "lm_eval.md").read_text().count("Data: split validation of the token set: 8 files") == 1
    for command in ("evaluate-lm", "evidence"):
        args = ("--tokens", str(two_split_tokens), "--split", "dev", "--output_dir", str(tmp_path / "x"))
        refused = run_here(capsys, command, *args)
        assert refused.returncode == 2 and "no split 'dev'" in refused.stderr
        assert "its splits: train, validation" in refused.stderr and "Traceback" not in refused.stderr
