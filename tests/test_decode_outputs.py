"""Issue 30 items 5, 7, 10, 11 and issue 31 item 14: `decode` refuses loose ids in one line, never
writes through a link, writes every name it plans (long ids shortened), names rows without an
id `row_<i>` whatever the input's shape, and hints `--format orpheus` for Orpheus rows."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import run_script_here

from snac_hf.codec.decode import MAX_NAME_BYTES, decode_rows, id_hash, output_names

ORPHEUS_FRAME = [128266 + 4096 * p + 17 * (p + 1) for p in range(7)]  # one whole Orpheus frame


@pytest.fixture(scope="module")
def codec(fitted_model):
    from snac_hf.codec.load import load_codec

    return load_codec(str(fitted_model))


def codes_row(file_id: str, frames: int = 4, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"id": file_id, **{f"tokens_scale_{k}": rng.integers(0, 4096, frames * 2**k) for k in range(3)}}


def decode_cli(capsys, tmp_path, items, *extra):
    (tmp_path / "ids.json").write_text(items if isinstance(items, str) else json.dumps(items))
    return run_script_here(
        capsys, "scripts/decode.py", "--ids", str(tmp_path / "ids.json"),
        "--output_dir", str(tmp_path / "wavs"), *extra,
    )  # fmt: skip


def one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if not line.startswith("NOTE:")]
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


# ---------------------------------------------------------------- loose ids (issue 30 items 5, 10)


@pytest.mark.parametrize(
    "items, shown",
    [
        ([128266, 128266.7], "id 128266.7 at position 1"),
        (["128266", 5], 'id "128266" at position 0'),
        ([[1, [2, 3]]], "item 0: id [2, 3] at position 1"),
        ([1, None], "id null at position 1"),
        ({"input_ids": None}, "item 0: input_ids is null, not a list"),
        ({"input_ids": "1 2 3"}, 'item 0: input_ids is "1 2 3", not a list'),
        ([{"id": "a", "input_ids": [1, 1e30]}], "item 0: id 1e+30 at position 1"),
        ([[3, 10**30]], "item 0: id 1000000000000000000000000000000 at position 1"),
        ([[3, -1]], "item 0: id -1 at position 1"),
        ([[True, 2]], "item 0: id true at position 0"),
    ],
)
def test_ids_must_be_json_integers(items, shown, tmp_path, capsys):
    for options in ((), ("--format", "orpheus")):
        line = one_error_line(decode_cli(capsys, tmp_path, items, *options))
        assert f"--ids {tmp_path / 'ids.json'}" in line and shown in line, line
        assert "token ids are JSON integers" in line or "not a list of integer token ids" in line
    assert not (tmp_path / "wavs").exists()


# ---------------------------------------------------------------- links (issue 30 item 7)


def test_decode_never_writes_through_a_planted_link(codec, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("not snac_hf's")
    out = tmp_path / "wavs"
    out.mkdir()
    (out / ".a.wav.partial").symlink_to(outside)  # the temporary name decode used to write through
    decode_rows([codes_row("a")], codec, out)
    assert outside.read_text() == "not snac_hf's"
    assert (out / "a.wav").is_file() and not (out / "a.wav").is_symlink()
    # a link at an output's name is an existing file (even dangling); --overwrite replaces the link
    (out / "b.wav").symlink_to(outside)
    (out / "c.wav").symlink_to(tmp_path / "nowhere")
    for name in ("b", "c"):
        with pytest.raises(FileExistsError, match=f"{name}.wav exist already"):
            decode_rows([codes_row(name)], codec, out)
    decode_rows([codes_row("b"), codes_row("c")], codec, out, overwrite=True)
    assert outside.read_text() == "not snac_hf's" and not (tmp_path / "nowhere").exists()
    assert not (out / "b.wav").is_symlink() and not (out / "c.wav").is_symlink()
    assert sorted(p.name for p in out.iterdir()) == [".a.wav.partial", "a.wav", "b.wav", "c.wav"]


def test_a_wav_written_in_pieces_and_a_failed_write(tmp_path):
    from snac_hf.codec.wav import FloatWavWriter, read_float_wav

    pieces = [np.linspace(-1, 1, n, dtype=np.float32) for n in (5, 0, 7)]
    with FloatWavWriter(tmp_path / "pieces.wav", 24000) as writer:
        for piece in pieces:
            writer.write(piece)
    audio, rate = read_float_wav(tmp_path / "pieces.wav")
    assert rate == 24000 and np.array_equal(audio, np.concatenate(pieces))
    (tmp_path / "pieces.wav").unlink()

    with pytest.raises(RuntimeError), FloatWavWriter(tmp_path / "x.wav", 24000) as writer:
        writer.write(np.zeros(10, np.float32))
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- long ids (issue 30 item 11)


def test_long_ids_are_shortened_deterministically():
    long_ids = ["x" * 300, "x" * 299 + "y", "é" * 150 + ".flac"]
    names = output_names([*long_ids, "short.wav"])
    assert names[-1] == "short.wav"
    for file_id, name in zip(long_ids, names, strict=False):
        assert len(name.encode()) <= MAX_NAME_BYTES and name.endswith(f"-{id_hash(file_id)}.wav")
    assert names[0] != names[1] and names[2].startswith("é" * 93 + "-")
    assert output_names(long_ids[::-1]) == names[:3][::-1]


def test_decode_writes_every_long_named_row(codec, fitted_model, tmp_path, capsys):
    ids = ["a" * 300, "a" * 299 + "b", "s" * 200]
    paths = decode_rows([codes_row(i, seed=n) for n, i in enumerate(ids)], codec, tmp_path / "out")
    assert [p.name for p in paths] == output_names(ids) and all(p.is_file() for p in paths)
    # the CLI: a 300-character id decodes (it used to write the first file, then fail)
    items = [{"id": "q" * 300, "input_ids": ORPHEUS_FRAME}, {"id": "r", "input_ids": ORPHEUS_FRAME}]
    result = decode_cli(capsys, tmp_path, items, "--format", "orpheus", "--model", str(fitted_model))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "wavs").iterdir()) == sorted(output_names(["q" * 300, "r"]))


# ---------------------------------------------------------------- names and hints (issue 31 item 14)


def test_rows_without_an_id_are_row_i_whatever_the_json_shape(tmp_path, capsys):
    (tmp_path / "wavs").mkdir()
    (tmp_path / "wavs" / "row_1.wav").write_bytes(b"mine")
    shapes = [
        [ORPHEUS_FRAME, ORPHEUS_FRAME],
        [{"input_ids": ORPHEUS_FRAME}, {"input_ids": ORPHEUS_FRAME}],
        [{"id": "named", "input_ids": ORPHEUS_FRAME}, {"input_ids": ORPHEUS_FRAME}],
    ]
    for items in shapes:  # the output check runs before the model loads, and names row_1.wav
        line = one_error_line(decode_cli(capsys, tmp_path, items, "--format", "orpheus"))
        assert "row_1.wav exist already" in line, line


def test_orpheus_rows_without_format_hint_format_orpheus(tmp_path, capsys):
    from datasets import Dataset

    Dataset.from_dict({"input_ids": [ORPHEUS_FRAME]}).save_to_disk(str(tmp_path / "orpheus_rows"))
    result = run_script_here(
        capsys, "scripts/decode.py", "--dataset", str(tmp_path / "orpheus_rows"),
        "--output_dir", str(tmp_path / "wavs"),
    )  # fmt: skip
    line = one_error_line(result)
    assert "pass --format orpheus" in line and line.index("--format orpheus") < line.index("--tokenizer")
    line = one_error_line(decode_cli(capsys, tmp_path, [[5, 6, 7]]))
    assert "pass the tokenizer that made them (--tokenizer)" in line


# ---------------------------------------------------------------- a datasets folder (issue 31 item 4)


def test_decode_as_dataset_writes_an_audio_column_that_load_dataset_reads(
    codec, fitted_model, tmp_path, capsys
):
    from datasets import Audio, Dataset, load_dataset

    from snac_hf.codec.decode import codes_to_audio

    rows = [codes_row("spk/a.flac", frames=4, seed=1), codes_row("b.flac", frames=6, seed=2)]
    texts = ["hello there", "second row"]
    Dataset.from_list([{**r, "text": t} for r, t in zip(rows, texts, strict=True)]).save_to_disk(
        str(tmp_path / "rows")
    )
    args = ["--dataset", str(tmp_path / "rows"), "--model", str(fitted_model), "--as_dataset"]
    result = run_script_here(capsys, "scripts/decode.py", *args, "--output_dir", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "wrote 2 row(s) of audio at 24000 Hz" in result.stdout
    decoded = load_dataset(str(tmp_path / "out"), split="train")
    assert isinstance(decoded.features["audio"], Audio) and decoded.features["audio"].sampling_rate == 24000
    assert decoded["id"] == ["spk/a.flac", "b.flac"] and decoded["text"] == texts
    for row, item in zip(rows, decoded, strict=True):
        expected = codes_to_audio(codec, [row[f"tokens_scale_{k}"] for k in range(3)])
        samples = item["audio"].get_all_samples()
        assert samples.sample_rate == 24000
        np.testing.assert_allclose(samples.data.numpy().reshape(-1), expected, rtol=0, atol=1e-5)
        assert item["duration"] == len(expected) / 24000
    again = run_script_here(capsys, "scripts/decode.py", *args, "--out_dir", str(tmp_path / "out"))
    assert "exists already; nothing was written. Pass --overwrite" in one_error_line(again)
    again = run_script_here(
        capsys, "scripts/decode.py", *args, "--out_dir", str(tmp_path / "out"), "--overwrite"
    )
    assert again.returncode == 0, again.stderr
    assert [p.name for p in (tmp_path / "out" / "data").iterdir()] == ["train-00000-of-00001.parquet"]


# ---------------------------------------------------------------- long files in chunks (issue 30, smaller)


def test_chunked_decode_equals_the_whole_decode(codec):
    from snac_hf.codec.chunked_decode import context_steps, decoder_reach
    from snac_hf.codec.decode import audio_pieces, codes_to_audio

    assert decoder_reach(codec.model.decoder) == pytest.approx(11.0078125)  # SNAC 24 kHz's layers
    assert context_steps(codec) == 12
    row = codes_row("long", frames=41, seed=3)  # 3.5 s: decoded whole by default
    codes = [row[f"tokens_scale_{k}"] for k in range(3)]
    n_samples = 41 * 2048 - 700
    state = torch.random.get_rng_state()
    whole = codes_to_audio(codec, codes, n_samples)
    pieces = list(audio_pieces(codec, codes, n_samples, chunk_seconds=0.5))  # chunks of 24 steps
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's generator is left alone
    assert len(pieces) == 7 and sum(len(p) for p in pieces) == n_samples == len(whole)
    # float rounding only (convolutions over other lengths); a missing context or other noise
    # differs by 1e-4 to 0.3 (context 8 steps: 1e-4, none: 0.29)
    np.testing.assert_allclose(np.concatenate(pieces), whole, rtol=0, atol=2e-6)
