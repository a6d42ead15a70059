"""Issue 30 item 1: a PCM file cut short, or whose header claims more frames than its data holds,
is an error row, never a shorter row. WAV, W64, CAF, AIFF and AU from real speech (made with SoX),
cut, and with hand-made headers; the declared length is read from the header where FFmpeg clamps
it to the file's size (WAV, RF64, W64, CAF)."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import SHORT_SPEECH, SPEECH, run_script_here

from snac_hf.sources.audio import AudioDecodeError, decode_audio
from snac_hf.sources.pcm_header import DeclaredLength, declared_length_of_value
from snac_hf.tokenset.schema import ERRORS_FILE

LONG_SPEECH_FILE = SPEECH / "en_000_sense_and_sensibility_01_austen_64kb-0870.flac"  # 7.1 s
CONTAINERS = ("wav", "w64", "caf", "aiff", "au")


def sox(source: Path, target: Path, *options: str, effects: tuple[str, ...] = ()) -> Path:
    subprocess.run(["sox", str(source), *options, str(target), *effects], check=True)
    return target


def value(path: Path) -> dict:
    return {"path": str(path), "bytes": None}


def cut(path: Path, target: Path, fraction: float) -> Path:
    data = path.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction) // 4 * 4])  # whole samples: a clean cut
    return target


def assert_truncated(path: Path, header_seconds: float) -> None:
    message = f"truncated: the file's header says {header_seconds:.2f} s"
    with pytest.raises(AudioDecodeError, match=message):
        decode_audio(value(path), 24000)
    with pytest.raises(AudioDecodeError, match=message):  # the same from bytes
        decode_audio({"path": None, "bytes": path.read_bytes()}, 24000)


@pytest.fixture(scope="module")
def whole_files(tmp_path_factory) -> dict[str, Path]:
    """The 7.1 s recording in each container: 24 kHz mono 16-bit, and 44.1 kHz stereo."""
    root = tmp_path_factory.mktemp("pcm")
    files = {ext: sox(LONG_SPEECH_FILE, root / f"whole.{ext}", "-r", "24000") for ext in CONTAINERS}
    for ext in ("wav", "w64", "caf"):
        files[f"{ext}-stereo"] = sox(LONG_SPEECH_FILE, root / f"stereo.{ext}", "-r", "44100", "-c", "2")
    return files


def test_whole_files_decode_and_declare_their_length(whole_files):
    for name, path in whole_files.items():
        samples = decode_audio(value(path), 24000)
        assert len(samples) == pytest.approx(7.1 * 24000, abs=2), name
    assert declared_length_of_value(value(whole_files["wav"])) == DeclaredLength("WAV", 170400, 24000)
    assert declared_length_of_value(value(whole_files["w64-stereo"])) == DeclaredLength("W64", 313110, 44100)
    assert declared_length_of_value(value(whole_files["caf"])) == DeclaredLength("CAF", 170400, 24000.0)


@pytest.mark.parametrize("name", [*CONTAINERS, "wav-stereo", "w64-stereo", "caf-stereo"])
def test_a_cut_pcm_file_is_truncated(name, whole_files, tmp_path):
    whole = whole_files[name]
    assert_truncated(cut(whole, tmp_path / f"cut{whole.suffix}", 0.7), 7.1)


# ---------------------------------------------------------------- hand-made headers: 1 s of data


def one_second(tmp_path: Path, ext: str) -> Path:
    return sox(LONG_SPEECH_FILE, tmp_path / f"one.{ext}", "-r", "24000", effects=("trim", "0", "1"))


def claim_five_seconds(path: Path) -> Path:
    """Rewrite the header's length field(s) to 5 s (120,000 frames, 240,000 bytes) over 1 s of data."""
    data = bytearray(path.read_bytes())
    frames, nbytes = 5 * 24000, 5 * 24000 * 2
    ext = path.suffix
    if ext == ".w64":
        at = data.index(b"data\xf3\xac\xd3\x11")
        struct.pack_into("<Q", data, at + 16, nbytes + 24)
    elif ext == ".caf":
        at = data.index(b"data", 8)
        struct.pack_into(">q", data, at + 4, nbytes + 4)
    elif ext == ".aiff":
        at = data.index(b"COMM")
        struct.pack_into(">I", data, at + 10, frames)
    elif ext == ".au":
        struct.pack_into(">I", data, 8, nbytes)
    path.write_bytes(bytes(data))
    return path


def hand_made_wav(path: Path, pcm: bytes, declared_bytes: int, rf64: bool = False) -> Path:
    """A 24 kHz mono 16-bit WAV written with struct, its data chunk declaring `declared_bytes`."""
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 24000, 48000, 2, 16)
    riff_size = 4 + len(fmt) + 8 + declared_bytes
    if rf64:  # RF64: the 32-bit sizes are 0xFFFFFFFF, the real ones in ds64
        ds64 = b"ds64" + struct.pack("<IQQQI", 28, riff_size + 36, declared_bytes, declared_bytes // 2, 0)
        body = b"WAVE" + ds64 + fmt + b"data" + struct.pack("<I", 0xFFFFFFFF) + pcm
        path.write_bytes(b"RF64" + struct.pack("<I", 0xFFFFFFFF) + body)
    else:
        body = b"WAVE" + fmt + b"data" + struct.pack("<I", declared_bytes) + pcm
        path.write_bytes(b"RIFF" + struct.pack("<I", riff_size) + body)
    return path


@pytest.mark.parametrize("ext", ["w64", "caf", "aiff", "au"])
def test_a_header_claiming_more_than_the_data_is_truncated(ext, tmp_path):
    path = one_second(tmp_path, ext)
    assert len(decode_audio(value(path), 24000)) == 24000  # the file as SoX wrote it is whole
    assert_truncated(claim_five_seconds(path), 5.0)


def test_hand_made_wav_and_rf64_headers(tmp_path):
    pcm = (
        (np.clip(decode_audio(value(LONG_SPEECH_FILE), 24000)[:24000], -1, 1) * 32767).astype("<i2").tobytes()
    )
    whole = hand_made_wav(tmp_path / "whole.wav", pcm, len(pcm))
    assert len(decode_audio(value(whole), 24000)) == 24000
    assert_truncated(hand_made_wav(tmp_path / "five.wav", pcm, 5 * 48000), 5.0)
    rf64 = hand_made_wav(tmp_path / "whole_rf64.wav", pcm, len(pcm), rf64=True)
    assert len(decode_audio(value(rf64), 24000)) == 24000
    assert declared_length_of_value(value(rf64)) == DeclaredLength("WAV", 24000, 24000)
    assert_truncated(hand_made_wav(tmp_path / "five_rf64.wav", pcm, 5 * 48000, rf64=True), 5.0)


def test_a_length_left_unknown_is_no_false_alarm(tmp_path):
    """Written to a pipe, SoX leaves WAV's length as 0x7FFFF000 and AU's as 0xFFFFFFFF ("unknown"):
    such files decode whole, without a truncation error."""
    raw = subprocess.run(
        ["sox", str(LONG_SPEECH_FILE), "-r", "24000", "-t", "raw", "-e", "signed", "-b", "16", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    for ext in ("wav", "au"):
        piped = subprocess.run(
            ["sox", "-t", "raw", "-r", "24000", "-e", "signed", "-b", "16", "-c", "1", "-", "-t", ext, "-"],
            input=raw, check=True, capture_output=True,
        ).stdout  # fmt: skip
        assert len(decode_audio({"path": None, "bytes": piped}, 24000)) == len(raw) // 2
    assert declared_length_of_value({"path": None, "bytes": piped}) is None


def test_tokenize_writes_error_rows_for_cut_files(whole_files, fitted_model, tmp_path, capsys):
    folder = tmp_path / "audio"
    folder.mkdir()
    shutil.copy(SPEECH / SHORT_SPEECH[0], folder / "ok.flac")
    for ext in ("wav", "w64", "caf"):
        cut(whole_files[ext], folder / f"cut.{ext}", 0.7)
    claim_five_seconds(one_second(folder, "aiff"))
    out = tmp_path / "tokens"
    result = run_script_here(
        capsys, "scripts/tokenize.py", "--no_analysis", "--no_progress",
        "--input_dir", str(folder), "--output_dir", str(out), "--model", str(fitted_model),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "1 files encoded, 4 failed" in result.stdout
    errors = {e["id"]: e["error"] for e in map(json.loads, (out / ERRORS_FILE).read_text().splitlines())}
    assert sorted(errors) == ["cut.caf", "cut.w64", "cut.wav", "one.aiff"]
    assert all(error.startswith("truncated: the file's header says") for error in errors.values())
    assert "5.00 s, only 1.00 s decode" in errors["one.aiff"]
