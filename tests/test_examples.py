"""Every example runs as a user types it, on the bundled data (end_to_end is marked slow)."""

from __future__ import annotations

import pytest

from tests.conftest import run_script


@pytest.fixture(scope="module")
def synthetic_tokens(tmp_path_factory):
    from snac_hf.bpe.synthetic import write_synthetic_token_set
    from snac_hf.layout import layout_for

    return write_synthetic_token_set(
        tmp_path_factory.mktemp("examples") / "tokens", layout_for("snac_24khz"), 12
    )


def test_text_and_audio_round_trip():
    result = run_script("examples/text_and_audio.py")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "decoded exactly: 'Speech tokens and text tokens share one sequence.'" in result.stdout


def test_load_token_set_filters_and_streams(synthetic_tokens):
    result = run_script("examples/load_token_set.py", "--tokens", str(synthetic_tokens), "--min_seconds", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "12 files" in result.stdout and "List(Value('int16'))" in result.stdout
    assert result.stdout.count("streamed ") == 3


def test_train_lm_with_trainer(synthetic_tokens, tmp_path):
    result = run_script(
        "examples/train_lm.py", "--tokens", str(synthetic_tokens), "--output_dir", str(tmp_path / "lm"),
        "--max_steps", "2", "--block_size", "32", "--batch_size", "2",
        "--hidden_size", "16", "--num_layers", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "trained 2 steps" in result.stdout
    assert (tmp_path / "lm" / "model" / "tokenizer_config.json").is_file()


@pytest.mark.slow
def test_end_to_end(short_speech_dir, fitted_model, tmp_path):
    from snac_hf.wav import read_float_wav

    result = run_script(
        "examples/end_to_end.py", "--input_dir", str(short_speech_dir), "--model", str(fitted_model),
        "--work_dir", str(tmp_path / "e2e"), "--lm_steps", "3", "--num_merges", "50",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    audio, rate = read_float_wav(tmp_path / "e2e" / "generated.wav")
    assert rate == 24000 and len(audio) > 0
    assert (tmp_path / "e2e" / "tokens" / "metadata.json").is_file()
    assert "noise" in result.stdout  # the offline model's notice
