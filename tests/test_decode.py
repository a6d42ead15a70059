"""Decode path: BPE ids -> codes -> SNAC decode equals SNAC's decode of the original codes, bit for bit."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.conftest import run_script, run_script_here


@pytest.fixture(scope="module")
def codec(fitted_model):
    from snac_hf.codec.load import load_codec

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
    from snac_hf.tokenset.load import open_token_set

    return list(open_token_set(str(speech_token_set)).select(range(2)))


def snac_decode(codec, codes) -> np.ndarray:
    torch.manual_seed(0)  # SNAC's decoder adds noise from the global generator; snac_hf seeds it with 0
    with torch.inference_mode():
        tensors = [torch.as_tensor(np.asarray(c), dtype=torch.long).view(1, -1) for c in codes]
        return codec.model.decode(tensors)[0, 0].numpy()


@pytest.mark.parametrize("variant", ["plain", "rl_cross_scale"])
def test_whole_frames_decode_bit_for_bit(variant, tokenizers, rows, codec):
    from snac_hf.codec.decode import decode_ids

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
    from snac_hf.codec.decode import decode_ids, pad_codes

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
    from snac_hf.codec.decode import codes_to_audio
    from snac_hf.codec.wav import read_float_wav
    from snac_hf.sources.audio import decode_audio

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
    # The script's process and this one may run the float32 decoder with other torch thread counts
    # (a test before this one may have changed it), which rounds convolutions differently: equal to
    # within 1e-5 (differences seen: <= 2.4e-6 on samples of magnitude ~0.1), not bit for bit.
    np.testing.assert_allclose(audio, codes_to_audio(codec, codes, n_samples), rtol=0, atol=1e-5)
    # FFmpeg (through datasets' Audio feature) reads the same samples from the file
    decoded = decode_audio({"path": str(tmp_path / "wavs" / "a_b.wav"), "bytes": None}, 24000)
    assert np.array_equal(decoded, audio)
    assert "noise" in result.stderr  # the offline model's notice travels to the user


def test_bad_ids_are_usage_errors(tmp_path, fitted_model, tokenizers, capsys):
    tokenizers["plain"].save_pretrained(tmp_path / "tok")
    (tmp_path / "ids.json").write_text(json.dumps([[1, 2, 999999]]))
    result = run_script_here(
        capsys, "scripts/decode.py",
        "--tokenizer", str(tmp_path / "tok"), "--ids", str(tmp_path / "ids.json"),
        "--model", str(fitted_model), "--out_dir", str(tmp_path / "wavs"),
    )  # fmt: skip
    assert result.returncode == 2 and "unknown token id 999999" in result.stderr


def test_distinct_ids_get_distinct_file_names_in_any_order():
    from snac_hf.codec.decode import output_names

    ids = ["a.wav", "a.flac", "sub/b.wav", "sub_b.wav", "Case.wav", "case.wav", "plain/c.wav"]
    names = output_names(ids)
    assert len({n.casefold() for n in names}) == len(ids)
    assert names[-1] == "plain_c.wav"  # no collision: the flat name alone
    assert all(n.startswith(("a-", "sub_b-", "Case-", "case-")) for n in names[:-1])
    assert dict(zip(ids[::-1], output_names(ids[::-1]))) == dict(zip(ids, names))
    with pytest.raises(ValueError, match="rows 0 and 2 have the same id 'x'"):
        output_names(["x", "y", "x"])


def test_decode_script_never_overwrites_and_checks_durations(
    tokenizers, rows, fitted_model, tmp_path, capsys
):
    from snac_hf.codec.wav import read_float_wav

    tok = tokenizers["plain"]
    tok.save_pretrained(tmp_path / "tok")
    codes = [np.asarray(rows[0][f"tokens_scale_{k}"][: 8 * 2**k]) for k in range(3)]  # 8 whole frames
    ids = tok.encode(codes)
    seconds = 8 * 2048 / 24000

    def decode(items, *extra):
        (tmp_path / "ids.json").write_text(json.dumps(items))
        return run_script(
            "scripts/decode.py", "--tokenizer", str(tmp_path / "tok"), "--ids", str(tmp_path / "ids.json"),
            "--model", str(fitted_model), "--out_dir", str(tmp_path / "wavs"), *extra,
        )  # fmt: skip

    names = ["a.wav", "a.flac", "sub/b.wav", "sub_b.wav"]
    items = [{"id": name, "input_ids": ids, "duration": seconds} for name in names]
    result = decode(items)
    assert result.returncode == 0, result.stderr
    assert "wrote 4 file(s)" in result.stdout
    written = sorted(p.name for p in (tmp_path / "wavs").iterdir())
    assert len(written) == 4 and all(
        len(read_float_wav(tmp_path / "wavs" / n)[0]) == 8 * 2048 for n in written
    )

    again = decode(items)  # the files exist now: refused, nothing replaced
    assert again.returncode == 2 and "exist already; nothing was written. Pass --overwrite" in again.stderr
    assert decode(items, "--overwrite").returncode == 0

    (tmp_path / "bad.json").write_text(json.dumps([{"id": "x", "input_ids": ids, "duration": -1.0}]))
    result = run_script_here(
        capsys, "scripts/decode.py",
        "--tokenizer", str(tmp_path / "tok"), "--ids", str(tmp_path / "bad.json"),
        "--model", str(fitted_model), "--out_dir", str(tmp_path / "bad"),
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "error: row 'x': duration -1.0 s is not positive" in result.stderr
    assert not (tmp_path / "bad").exists()


def test_durations_must_be_positive_finite_and_those_of_the_codes(tokenizers, rows, codec, tmp_path, capsys):
    from snac_hf.codec.decode import decode_rows

    tok = tokenizers["plain"]
    ids = tok.encode([np.asarray(rows[0][f"tokens_scale_{k}"][: 8 * 2**k]) for k in range(3)])
    bad = {
        -1.0: "duration -1.0 s is not positive",
        0: "duration 0 s is not positive",
        float("nan"): "duration nan is not a finite number of seconds",
        float("inf"): "duration inf is not a finite number of seconds",
        "long": "duration 'long' is not a finite number of seconds",
        0.5: r"duration 0.5 s is 12000 samples, whose codes per scale are \(6, 12, 24\), but the row has \(8",
    }
    for duration, message in bad.items():
        with pytest.raises(ValueError, match=f"row 'x': {message}"):
            decode_rows([{"id": "x", "input_ids": ids, "duration": duration}], codec, tmp_path / "out", tok)
    assert not (tmp_path / "out").exists()
    (tmp_path / "broken.json").write_text("[[1, 2,")
    result = run_script_here(
        capsys, "scripts/decode.py", "--ids", str(tmp_path / "broken.json"),
        "--out_dir", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.returncode == 2 and f"{tmp_path / 'broken.json'}: not valid JSON" in result.stderr


def test_n_tokens_must_be_the_lengths_of_the_code_lists(rows, codec, tmp_path):
    """The count check every reader shares (`tokenset.row_checks`), on rows given to decode directly."""
    from snac_hf.codec.decode import decode_rows
    from snac_hf.tokenset.json_files import DamagedInputError

    row = {**rows[0], "n_tokens_scale_2": rows[0]["n_tokens_scale_2"] + 1}
    message = rf"row '{row['id']}': n_tokens_scale_2 is {row['n_tokens_scale_2']}, but tokens_scale_2 holds"
    with pytest.raises(DamagedInputError, match=message):
        decode_rows([row], codec, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    decode_rows([rows[0]], codec, tmp_path / "out")  # the row as the token set holds it
    assert len(list((tmp_path / "out").iterdir())) == 1


def test_rows_without_codes_and_codes_outside_the_codebook_are_clear_errors(codec, tmp_path):
    from snac_hf.codec.decode import decode_rows

    with pytest.raises(ValueError, match="row 'r': neither input_ids nor the columns tokens_scale_0"):
        decode_rows([{"id": "r", "duration": 1.0}], codec, tmp_path)
    row = {"id": "r", "tokens_scale_0": [5000], "tokens_scale_1": [0, 0], "tokens_scale_2": [0] * 4}
    with pytest.raises(ValueError, match="row 'r': scale 0 position 0 holds code 5000, outside 0..4095"):
        decode_rows([row], codec, tmp_path)
    assert not list(tmp_path.iterdir())


def test_decode_script_reads_an_input_ids_set_in_the_data_layout(tokenizers, rows, fitted_model, tmp_path):
    """A set of `input_ids` rows in the standard `data/` layout (as README's Decode section says)."""
    from datasets import Dataset

    from snac_hf.codec.wav import read_float_wav

    tok = tokenizers["plain"]
    tok.save_pretrained(tmp_path / "tok")
    ids = [
        tok.encode([np.asarray(r[f"tokens_scale_{k}"]) for k in range(3)], add_special_tokens=True)
        for r in rows
    ]
    (tmp_path / "ids" / "data").mkdir(parents=True)
    Dataset.from_dict(
        {"id": [r["id"] for r in rows], "input_ids": ids, "duration": [r["duration"] for r in rows]}
    ).to_parquet(str(tmp_path / "ids" / "data" / "train-00000-of-00001.parquet"))
    result = run_script(
        "scripts/decode.py", "--tokenizer", str(tmp_path / "tok"), "--dataset", str(tmp_path / "ids"),
        "--model", str(fitted_model), "--out_dir", str(tmp_path / "wavs"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    wavs = sorted((tmp_path / "wavs").glob("*.wav"))
    assert len(wavs) == len(rows)
    for wav in wavs:
        audio, rate = read_float_wav(wav)
        assert rate == 24000 and len(audio) > 0
