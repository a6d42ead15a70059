"""Every example runs as a user types it, on the bundled data (end_to_end is marked slow)."""

from __future__ import annotations

import pytest

from tests.conftest import run_in_process, run_script


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
    from snac_hf.codec.wav import read_float_wav

    result = run_script(
        "examples/end_to_end.py", "--input_dir", str(short_speech_dir), "--model", str(fitted_model),
        "--work_dir", str(tmp_path / "e2e"), "--lm_steps", "3", "--num_merges", "50",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    audio, rate = read_float_wav(tmp_path / "e2e" / "generated.wav")
    assert rate == 24000 and len(audio) > 0
    assert (tmp_path / "e2e" / "tokens" / "metadata.json").is_file()
    assert "noise" in result.stdout  # the offline model's notice


@pytest.mark.slow
def test_train_tts_lm_on_transcribed_speech(speech_dir, fitted_model, tmp_path):
    import csv
    import json
    import shutil

    from snac_hf.layout import layout_for
    from snac_hf.layout.codes import validate_codes
    from snac_hf.tokenset.load import open_token_set

    # The 10 shortest recordings (18.7 s) with their transcripts, as an audiofolder metadata.csv.
    with open(speech_dir / "manifest.tsv", newline="", encoding="utf-8") as f:
        rows = sorted(csv.DictReader(f, delimiter="\t"), key=lambda row: float(row["dur_s"]))[:10]
    audio = tmp_path / "audio"
    audio.mkdir()
    with open(audio / "metadata.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file_name", "transcription"])
        for row in rows:
            shutil.copy(speech_dir / row["file"], audio / row["file"])
            writer.writerow([row["file"], row["text"]])
    tokens, out = tmp_path / "tokens", tmp_path / "tts"
    result = run_in_process(  # `python scripts/tokenize.py ...`, in this process: the example is the test
        "tokenize", "--input_dir", str(audio), "--output_dir", str(tokens),
        "--model", str(fitted_model), "--keep_columns", "transcription", "--no_analysis",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    texts = sorted(row["text"] for row in rows)
    assert sorted(open_token_set(str(tokens))["transcription"]) == texts

    result = run_script(
        "examples/train_tts_lm.py", "--tokens", str(tokens), "--text_column", "transcription",
        "--output_dir", str(out), "--steps", "30", "--num_merges", "10",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["train_files"], summary["held_out_files"]) == (8, 2)
    before, after = summary["held_out_audio_loss_before"], summary["held_out_audio_loss_after"]
    assert after < before and after < summary["uniform_loss"], summary  # learned more than its init's offset
    assert summary["generated_for"] in texts
    layout = layout_for("snac_24khz")
    codes = validate_codes(summary["generated_codes"], layout)  # 3 scales, 0..4095, aligned lengths
    frames = len(codes[0])
    assert frames > 0 and [len(c) for c in codes] == [frames * n for n in layout.codes_per_frame]
