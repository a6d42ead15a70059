"""Decode path: BPE ids -> codes -> SNAC decode equals SNAC's decode of the original codes, bit for bit."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.conftest import run_script


@pytest.fixture(scope="module")
def codec(fitted_model):
    from snac_hf.codec import load_codec

    return load_codec(str(fitted_model))


@pytest.fixture(scope="module")
def tokenizers(speech_token_set, tmp_path_factory):
    from snac_hf.bpe import load_tokenizer, train_tokenizer

    root = tmp_path_factory.mktemp("decode_tok")
    return {
        variant: load_tokenizer(train_tokenizer(speech_token_set, variant, 200, output_dir=root / variant))
        for variant in ("plain", "rl_cross_scale")
    }


@pytest.fixture(scope="module")
def rows(speech_token_set):
    from snac_hf.tokenset import open_token_set

    return list(open_token_set(str(speech_token_set)).select(range(2)))


def snac_decode(codec, codes) -> np.ndarray:
    torch.manual_seed(0)  # SNAC's decoder adds noise from the global generator; snac_hf seeds it with 0
    with torch.inference_mode():
        tensors = [torch.as_tensor(np.asarray(c), dtype=torch.long).view(1, -1) for c in codes]
        return codec.model.decode(tensors)[0, 0].numpy()


@pytest.mark.parametrize("variant", ["plain", "rl_cross_scale"])
def test_whole_frames_decode_bit_for_bit(variant, tokenizers, rows, codec):
    from snac_hf.decode import decode_ids

    tok = tokenizers[variant]
    frames = 16  # 1.37 s; whole frames need no padding, so SNAC decodes exactly these codes
    codes = [np.asarray(rows[0][f"tokens_scale_{k}"][: frames * 2**k]) for k in range(3)]
    ids = tok.encode(codes, add_special_tokens=True)
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    audio = decode_ids(tok, codec, ids)
    expected = snac_decode(codec, codes)
    assert audio.dtype == np.float32 and audio.shape == expected.shape == (frames * 2048,)
    assert np.array_equal(audio, expected)


def test_partial_frame_is_padded_then_trimmed(tokenizers, rows, codec):
    from snac_hf.decode import decode_ids, pad_codes

    tok = tokenizers["plain"]
    row = rows[1]
    n_samples = round(row["duration"] * codec.layout.sampling_rate)
    codes = [np.asarray(row[f"tokens_scale_{k}"]) for k in range(3)]
    assert [len(c) for c in codes] == list(codec.layout.n_codes(n_samples))
    padded = pad_codes(codec.layout, codes)
    assert all(len(p) * s == len(padded[0]) * 4 for p, s in zip(padded, (4, 2, 1)))
    assert all(np.array_equal(p[: len(c)], c) for p, c in zip(padded, codes))
    audio = decode_ids(tok, codec, tok.encode(codes, add_special_tokens=True), n_samples)
    assert len(audio) == n_samples
    assert np.array_equal(audio, snac_decode(codec, padded)[:n_samples])


def test_decode_script_writes_trimmed_wavs(tokenizers, rows, codec, fitted_model, tmp_path):
    from snac_hf.audio import decode_audio
    from snac_hf.decode import codes_to_audio
    from snac_hf.wav import read_float_wav

    tok = tokenizers["rl_cross_scale"]
    tok.save_pretrained(tmp_path / "tok")
    row = rows[1]
    codes = [np.asarray(row[f"tokens_scale_{k}"]) for k in range(3)]
    items = [
        {
            "id": "a/b.flac",
            "input_ids": tok.encode(codes, add_special_tokens=True),
            "duration": row["duration"],
        }
    ]
    (tmp_path / "ids.json").write_text(json.dumps(items))
    result = run_script(
        "scripts/decode.py", "--tokenizer", str(tmp_path / "tok"), "--ids", str(tmp_path / "ids.json"),
        "--model", str(fitted_model), "--out_dir", str(tmp_path / "wavs"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    audio, rate = read_float_wav(tmp_path / "wavs" / "a_b.wav")
    n_samples = round(row["duration"] * 24000)
    assert rate == 24000 and len(audio) == n_samples
    assert np.array_equal(audio, codes_to_audio(codec, codes, n_samples))
    # FFmpeg (through datasets' Audio feature) reads the same samples from the file
    decoded = decode_audio({"path": str(tmp_path / "wavs" / "a_b.wav"), "bytes": None}, 24000)
    assert np.array_equal(decoded, audio)
    assert "noise" in result.stderr  # the offline model's notice travels to the user


def test_bad_ids_are_usage_errors(tmp_path, fitted_model, tokenizers):
    tokenizers["plain"].save_pretrained(tmp_path / "tok")
    (tmp_path / "ids.json").write_text(json.dumps([[1, 2, 999999]]))
    result = run_script(
        "scripts/decode.py", "--tokenizer", str(tmp_path / "tok"), "--ids", str(tmp_path / "ids.json"),
        "--model", str(fitted_model), "--out_dir", str(tmp_path / "wavs"),
    )  # fmt: skip
    assert result.returncode == 2 and "unknown token id 999999" in result.stderr
