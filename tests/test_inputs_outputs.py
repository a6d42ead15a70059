"""Issue 11: every input entry is a row, an error line or a skipped line; the output folder only
loses what snac_hf wrote; the input folder is never an output. Real files throughout."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import SHORT_SPEECH, SPEECH, run_script, run_script_here
from datasets import load_dataset
from test_tokenize_cli import tokenize as tokenize_in_process

from snac_hf.codec.wav import write_float_wav
from snac_hf.job.output_folder import (
    OutputExistsError,
    OutputLocationError,
    check_output,
    check_output_location,
    reset_output,
)
from snac_hf.sources.audio import MAX_ABS_SAMPLE, AudioDecodeError, decode_audio
from snac_hf.sources.folder import AUDIO_EXTENSIONS, folder_dataset, scan_folder
from snac_hf.sources.path_text import path_from_text, text_path
from snac_hf.sources.skipped import SKIPPED_FILE, skipped_summary, write_skipped
from snac_hf.tokenset.ownership import MANIFEST_FILE, STATE_DIR, WRITTEN_DIR, owned_files, record_written
from snac_hf.tokenset.schema import ERRORS_FILE, METADATA_FILE, rows_to_table, shard_name, write_parquet

SPEECH_FILE = SPEECH / SHORT_SPEECH[0]
LONG_SPEECH_FILE = SPEECH / "en_000_sense_and_sensibility_01_austen_64kb-0870.flac"  # 7.1 s
BAD_NAME = b"caf\xe9 \xff.flac"  # latin-1 bytes: not UTF-8


def snapshot(folder: Path) -> dict:
    """Every entry under `folder`: file bytes, link targets, directories (what 'unchanged' means)."""
    found = {}
    for directory, dirs, files in os.walk(os.fsencode(folder)):
        for name in dirs + files:
            path = os.path.join(directory, name)
            key = os.path.relpath(path, os.fsencode(folder))
            if os.path.islink(path):
                found[key] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                found[key] = ("dir",)
            elif os.path.isfile(path):
                found[key] = ("file", Path(os.fsdecode(path)).read_bytes())
            else:
                found[key] = ("special",)
    return found


def speech(seconds: float | None = None, path: Path = SPEECH_FILE) -> np.ndarray:
    samples = decode_audio({"path": str(path), "bytes": None}, 24000)
    return samples if seconds is None else samples[: int(seconds * 24000)]


def encode_with_torchcodec(path: Path, samples: np.ndarray, rate: int = 24000) -> Path:
    import torch
    from torchcodec.encoders import AudioEncoder

    AudioEncoder(torch.from_numpy(samples).reshape(1, -1), sample_rate=rate).to_file(str(path))
    return path


def truncate(path: Path, fraction: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction) // 4 * 4])  # whole PCM samples: a clean cut
    return path


# ---------------------------------------------------------------- names that are not UTF-8 (item 3)


def test_text_path_is_lossless_and_leaves_plain_names_alone():
    names = [os.fsdecode(bytes([b])) for b in range(1, 256) if b != ord("/")]
    names += [
        "plain/name.wav",
        "café/ü.flac",
        "back\\slash.wav",
        "\\x41.wav",
        "\\\\x41.wav",
        os.fsdecode(b"\\\xff.wav"),
        os.fsdecode(b"dir\xfe/a\x80b.wav"),
    ]
    rendered = [text_path(n) for n in names]
    assert len(set(rendered)) == len(names)  # injective: ids stay unique
    for name, text in zip(names, rendered):
        text.encode("utf-8")  # storable in Arrow/JSON
        assert path_from_text(text) == name
        if "\\" not in name and name.encode("utf-8", "surrogateescape").decode("utf-8", "replace") == name:
            assert text == name
    assert text_path(os.fsdecode(b"a\xff.wav")) == "a\\xff.wav"
    assert text_path("back\\slash.wav") == "back\\\\slash.wav"


def test_a_name_that_is_not_utf8_is_a_row_decoded_like_a_copy(tmp_path):
    folder = tmp_path / "audio"
    folder.mkdir()
    shutil.copy(SPEECH_FILE, folder / "plain.flac")
    shutil.copy(SPEECH_FILE, os.path.join(os.fsencode(folder), BAD_NAME))
    rows = {row["id"]: row for row in folder_dataset(str(folder))}
    assert sorted(rows) == ["caf\\xe9 \\xff.flac", "plain.flac"]
    odd = rows["caf\\xe9 \\xff.flac"]
    assert os.fsencode(path_from_text(odd["file_path"])) == os.path.join(os.fsencode(folder), BAD_NAME)
    assert odd["audio"]["path"].startswith("file://")
    decoded = decode_audio(odd["audio"], 24000)
    assert np.array_equal(decoded, decode_audio(rows["plain.flac"]["audio"], 24000))


# ---------------------------------------------------------------- every entry accounted for (item 4)


def make_odd_folder(root: Path) -> Path:
    """Audio in extensions the old list missed, and every kind of entry that is not audio."""
    root.mkdir()
    shutil.copy(SPEECH_FILE, root / "ok.flac")
    subprocess.run(["sox", str(SPEECH_FILE), str(root / "sun.au")], check=True)
    shutil.copy(SPEECH_FILE, root / "noext")
    (root / "notes.txt").write_text("not audio")
    (root / "album.wav").mkdir()  # a directory named like audio: scanned, and listed
    shutil.copy(SPEECH_FILE, root / "album.wav" / "track.flac")
    os.symlink("missing.wav", root / "broken.wav")
    os.symlink("loop.wav", root / "loop.wav")
    os.symlink("album.wav", root / "linked_dir")
    os.symlink("ok.flac", root / "alias.flac")  # a link to a file is a file
    os.mkfifo(root / "pipe.wav")
    os.symlink("/dev/zero", root / "zero.wav")
    old = root / "old_tokens"  # a token set inside the input: snac_hf's output, never input
    (old / STATE_DIR).mkdir(parents=True)
    (old / STATE_DIR / "run.json").write_text("{}")
    shutil.copy(SPEECH_FILE, old / "stray.flac")
    return root


def test_scan_sorts_every_entry_into_audio_or_skipped(tmp_path):
    root = make_odd_folder(tmp_path / "in")
    scan = scan_folder(str(root))
    relative = [Path(f).relative_to(root).as_posix() for f in scan.files]
    assert relative == ["album.wav/track.flac", "alias.flac", "ok.flac", "sun.au"]
    reasons = {Path(e["file_path"]).relative_to(root).as_posix(): e["reason"] for e in scan.skipped}
    assert reasons == {
        "album.wav": "directory named like audio (its files are scanned)",
        "broken.wav": "broken link",
        "linked_dir": "link to a directory (not followed)",
        "loop.wav": "link loop",
        "noext": "no file extension",
        "notes.txt": "not an audio extension",
        "old_tokens": "token set written by snac_hf",
        "pipe.wav": "not a regular file (fifo)",
        "zero.wav": "not a regular file (character device)",
    }
    assert [e["file_path"] for e in scan.skipped] == sorted(e["file_path"] for e in scan.skipped)
    assert skipped_summary(scan.skipped).startswith("9 skipped (1 broken link, 1 directory named")
    # the output folder inside the input is left out, silently, whether it exists yet or not
    out = root / "tokens"
    out.mkdir()
    shutil.copy(SPEECH_FILE, out / "x.flac")
    assert scan_folder(str(root), str(out)).files == scan.files


def test_scan_keeps_the_previous_ids_and_order(speech_dir):
    before = sorted(str(p) for p in Path(speech_dir).rglob("*") if p.suffix.lower() in {".flac"})
    assert scan_folder(str(speech_dir)).files == before
    ids = folder_dataset(str(speech_dir))["id"]
    assert ids == [Path(f).relative_to(speech_dir).as_posix() for f in before]


@pytest.mark.parametrize(
    "extension", [".au", ".w64", ".caf", ".mka", ".mp4", ".m4b", ".spx", ".aifc", ".voc"]
)
def test_widened_extensions_decode(tmp_path, extension):
    assert extension in AUDIO_EXTENSIONS
    path = encode_with_torchcodec(tmp_path / f"clip{extension}", speech(1.0), 16000)  # 1.5 s at 16 kHz
    assert scan_folder(str(tmp_path)).files == [str(path)]
    assert abs(len(decode_audio({"path": str(path), "bytes": None}, 24000)) / 24000 - 1.5) < 0.05


def test_unreadable_entries_as_an_ordinary_user():
    """chmod 000 stops an ordinary user (root reads anything): a forked child drops to `nobody`,
    in a folder outside pytest's (which only its owner may enter)."""
    base = Path(tempfile.mkdtemp(prefix="snac_hf_perm_"))
    try:
        os.chmod(base, 0o755)
        root = base / "in"
        (root / "locked_dir").mkdir(parents=True)
        shutil.copy(SPEECH_FILE, root / "locked_dir" / "hidden.flac")
        shutil.copy(SPEECH_FILE, root / "locked.flac")
        os.chmod(root / "locked_dir", 0)
        os.chmod(root / "locked.flac", 0)
        result = as_nobody(scan_and_decode, str(root))
    finally:
        shutil.rmtree(base)
    if result is None:
        pytest.skip("could not run a child process as an ordinary user here")
    assert result["skipped"] == [
        {"file_path": str(root / "locked_dir"), "reason": "unreadable directory (Permission denied)"}
    ]
    assert result["files"] == [str(root / "locked.flac")]  # a row; its decoding then fails alone
    assert "cannot decode audio" in result["error"] and "Permission denied" in result["error"]


def scan_and_decode(root: str) -> dict:
    scan = scan_folder(root)
    try:
        decode_audio({"path": scan.files[0], "bytes": None}, 24000)
        error = None
    except AudioDecodeError as failure:
        error = str(failure)
    return {"skipped": scan.skipped, "files": scan.files, "error": error}


def as_nobody(function, *args) -> dict | None:
    """`function(*args)` in a forked child running as uid/gid 65534; its JSON result, or None."""
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        try:
            if os.getuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            os.write(write, json.dumps(function(*args)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        reply = f.read()
    os.waitpid(child, 0)
    return json.loads(reply) if reply else None


def test_write_skipped_lines(tmp_path):
    entries = [{"file_path": text_path(os.fsdecode(b"x\xff.txt")), "reason": "not an audio extension"}]
    assert write_skipped(tmp_path, entries) == 1
    assert [json.loads(line) for line in (tmp_path / SKIPPED_FILE).read_text().splitlines()] == entries
    assert write_skipped(tmp_path, []) == 0 and (tmp_path / SKIPPED_FILE).read_text() == ""
    assert not list(tmp_path.glob(".*.partial"))


# ---------------------------------------------------------------- decoded audio that is wrong (item 5)


def test_samples_far_outside_full_scale_are_refused(tmp_path):
    clip = speech(1.0)
    clip = clip / np.abs(clip).max()
    for peak, accepted in [
        (1.0, True),
        (1.5, True),
        (0.9 * MAX_ABS_SAMPLE, True),
        (1e3, False),
        (1e30, False),
    ]:
        path = write_float_wav(tmp_path / f"peak_{peak:g}.wav", clip * np.float32(peak), 24000)
        value = {"path": str(path), "bytes": None}
        if accepted:
            assert np.abs(decode_audio(value, 24000)).max() == pytest.approx(peak, rel=1e-6)
        else:
            with pytest.raises(AudioDecodeError, match="far outside"):
                decode_audio(value, 24000)


def test_truncated_files_are_errors_where_the_header_counts(tmp_path):
    samples = speech(path=LONG_SPEECH_FILE)
    mp3 = encode_with_torchcodec(tmp_path / "whole.mp3", samples)
    au = tmp_path / "whole.au"
    subprocess.run(["sox", str(LONG_SPEECH_FILE), "-r", "24000", str(au)], check=True)
    for whole in (mp3, au):
        full = decode_audio({"path": str(whole), "bytes": None}, 24000)  # intact: no false alarm
        assert abs(len(full) - len(samples)) < 0.1 * 24000
        cut = truncate(Path(shutil.copy(whole, tmp_path / f"cut{whole.suffix}")), 0.7)
        with pytest.raises(AudioDecodeError, match="truncated: the file's header says"):
            decode_audio({"path": str(cut), "bytes": None}, 24000)
        with pytest.raises(AudioDecodeError, match="truncated"):  # the same from bytes
            decode_audio({"path": None, "bytes": cut.read_bytes()}, 24000)
    # Ogg's duration comes from its last page: a cut Ogg decodes short and cannot be told (documented)
    ogg = truncate(encode_with_torchcodec(tmp_path / "cut.ogg", samples), 0.5)
    assert 0 < len(decode_audio({"path": str(ogg), "bytes": None}, 24000)) < len(samples)


# ---------------------------------------------------------------- output ownership (item 1)


def start_token_set(folder: Path, fingerprint: dict) -> None:
    """What a run writes, recorded as the pipeline records it: a shard, metadata, card, plots."""
    assert check_output(folder, fingerprint, overwrite=True) is False
    reset_output(folder, fingerprint)
    shard = shard_name(0, 1)
    record_written(folder, [shard])
    rows = [{"id": "a.wav", "file_path": "/a.wav", "duration": 0.1, "codes": [[1], [1, 2], [1, 2, 3, 4]]}]
    write_parquet(rows_to_table(rows, 3), folder / shard)
    record_written(folder, [METADATA_FILE, ERRORS_FILE, "README.md", SKIPPED_FILE])
    for name in (METADATA_FILE, ERRORS_FILE, "README.md", SKIPPED_FILE):
        (folder / name).write_text("{}\n")
    record_written(folder, ["rank_frequency.png"])
    (folder / "rank_frequency.png").write_bytes(b"png")


def test_overwrite_removes_exactly_what_snac_hf_wrote(tmp_path):
    out = tmp_path / "tokens"
    out.mkdir()
    (out / "cat.jpg").write_bytes(b"user's")
    (out / "holiday.png").write_bytes(b"user's")
    with pytest.raises(OutputExistsError, match="--overwrite"):  # unrelated files: refused without it
        check_output(out, {"run": 1}, overwrite=False)
    start_token_set(out, {"run": 1})
    assert owned_files(out) >= {shard_name(0, 1), METADATA_FILE, "README.md", "rank_frequency.png"}
    assert not owned_files(out) & {"cat.jpg", "holiday.png"}
    assert check_output(out, {"run": 1}, overwrite=False) is True  # same run: resumed
    start_token_set(out, {"run": 2})  # another run, --overwrite: ours replaced, the user's kept
    assert (out / "cat.jpg").read_bytes() == (out / "holiday.png").read_bytes() == b"user's"
    assert json.loads((out / STATE_DIR / "run.json").read_text()) == {"run": 2}
    reset_output(out, {"run": 3})
    assert sorted(p.name for p in out.iterdir()) == [STATE_DIR, "cat.jpg", "holiday.png"]
    assert (out / STATE_DIR / MANIFEST_FILE).is_file()


@pytest.mark.parametrize("foreign", ["README.md", "data/x.parquet", "data/precious.csv", "errors.jsonl"])
def test_overwrite_refuses_to_replace_a_file_it_did_not_write(tmp_path, foreign):
    out = tmp_path / "tokens"
    reset_output(out, {"run": 1})  # a run that wrote one shard, then was stopped
    record_written(out, [shard_name(0, 2)])
    (out / "data").mkdir()
    (out / shard_name(0, 2)).write_bytes(b"shard")
    (out / foreign).write_text("the user's own")
    before = snapshot(out)
    with pytest.raises(OutputExistsError, match=f"did not write where the token set goes: {foreign}\\."):
        check_output(out, {"run": 2}, overwrite=True)
    with pytest.raises(OutputExistsError):
        reset_output(out, {"run": 2})
    assert snapshot(out) == before


def test_concurrent_writers_record_their_own_files(tmp_path):
    out = tmp_path / "tokens"
    start_token_set(out, {"run": 1})
    jobs = [[f"data/part-{w}-{i}.parquet" for i in range(40)] for w in range(4)] + [
        ["data/shared.parquet"]
    ] * 4
    for paths in jobs:
        for p in paths:
            (out / p).write_bytes(b"x")
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        pool.starmap(record_many, [(str(out), paths) for paths in jobs])
    owned = owned_files(out)
    assert all(p in owned for paths in jobs for p in paths)
    assert not list((out / STATE_DIR / WRITTEN_DIR).glob(".*"))  # no temporary file left
    reset_output(out, {"run": 2})
    assert not (out / "data").exists()


def record_many(folder: str, paths: list[str]) -> None:
    for path in paths:  # one record per file: the most contention
        record_written(folder, [path])
    record_written(folder, paths)


def test_record_written_outside_a_token_set_does_nothing(tmp_path):
    record_written(tmp_path, ["analysis.json"])
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError):
        record_written(tmp_path, ["../escape.txt"])


def plant_record(folder: Path, paths: list[str]) -> None:
    """A record written by hand, named as older versions named records (sha256 of the paths)."""
    import hashlib

    digest = hashlib.sha256(json.dumps(sorted(paths)).encode()).hexdigest()[:24]
    (folder / STATE_DIR / WRITTEN_DIR / f"{digest}.json").write_text(json.dumps({"paths": paths}))


def test_overwrite_never_removes_through_a_link_or_by_a_planted_record(tmp_path):
    """Issue 30 item 6: a record naming `sub/f` with `sub` a link to a folder outside, and a record
    planted by hand naming the user's file: `--overwrite` removes neither."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f").write_text("precious")
    (outside / "g.parquet").write_text("precious too")
    out = tmp_path / "tokens"
    start_token_set(out, {"run": 1})
    (out / "sub").symlink_to(outside)
    record_written(out, ["sub/f"])  # a record with a valid name: the link alone must stop it
    (out / "notes.txt").write_text("the user's")
    plant_record(out, ["notes.txt"])
    shutil.rmtree(out / "data")
    (out / "data").symlink_to(outside)  # data/ itself a link: its files are not the folder's
    record_written(out, ["data/g.parquet"])
    assert not owned_files(out) & {"sub/f", "notes.txt", "data/g.parquet"}
    with pytest.raises(OutputExistsError, match="did not write where the token set goes: data\\."):
        check_output(out, {"run": 2}, overwrite=True)  # a link where data/ goes: refused
    (out / "data").unlink()
    check_output(out, {"run": 2}, overwrite=True)
    reset_output(out, {"run": 2})
    assert (outside / "f").read_text() == "precious" and (outside / "g.parquet").read_text() == "precious too"
    assert (out / "notes.txt").read_text() == "the user's"


def test_a_token_set_from_before_records_owns_only_the_names_it_wrote(tmp_path):
    """No manifest.json: the names older versions wrote are theirs, nothing else."""
    out = tmp_path / "old"
    start_token_set(out, {"run": 1})
    (out / STATE_DIR / MANIFEST_FILE).unlink()
    shutil.rmtree(out / STATE_DIR / WRITTEN_DIR)
    (out / "analysis.md").write_text("report")
    (out / "notes.txt").write_text("mine")
    (out / "figure.png").write_bytes(b"mine")
    owned = owned_files(out)
    assert {shard_name(0, 1), METADATA_FILE, "README.md", "analysis.md", "rank_frequency.png"} <= owned
    assert not owned & {"notes.txt", "figure.png", SKIPPED_FILE}  # skipped.jsonl is new: not theirs
    with pytest.raises(OutputExistsError, match=SKIPPED_FILE):
        check_output(out, {"run": 2}, overwrite=True)
    (out / SKIPPED_FILE).unlink()
    assert check_output(out, {"run": 2}, overwrite=True) is False
    reset_output(out, {"run": 2})
    assert sorted(p.name for p in out.iterdir()) == [STATE_DIR, "figure.png", "notes.txt"]


# ---------------------------------------------------------------- the output folder's location (2, 5)


def test_output_location_checks_change_nothing(tmp_path):
    audio = tmp_path / "audio"
    audio.mkdir()
    shutil.copy(SPEECH_FILE, audio / "a.flac")
    (tmp_path / "file.txt").write_text("x")
    cases = [
        (None, tmp_path / "file.txt", "exists and is not a folder"),
        (None, tmp_path / "file.txt" / "sub", "cannot be created: .*file.txt is a file"),
        (str(audio), audio, "inside --input_dir"),
        (str(audio) + "/", tmp_path / "." / "audio", "inside --input_dir"),
    ]
    (audio / "old").mkdir()
    (audio / "old" / "mine.wav").write_bytes(b"user's")
    cases.append((str(audio), audio / "old", r"inside --input_dir .* \(e.g. mine.wav\)"))
    before = snapshot(tmp_path)
    for input_dir, output_dir, message in cases:
        with pytest.raises(OutputLocationError, match=message):
            check_output_location(input_dir, str(output_dir))
    assert snapshot(tmp_path) == before
    check_output_location(str(audio), str(audio / "tokens"))  # not there yet: fine
    start_token_set(audio / "tokens", {"run": 1})
    check_output_location(str(audio), str(audio / "tokens"))  # only snac_hf's files: fine
    check_output_location(None, str(tmp_path / "new" / "deeper"))
    with pytest.raises(OutputLocationError):
        check_output(tmp_path / "file.txt", {}, overwrite=True)


# ---------------------------------------------------------------- the command line, end to end


def tokenize(*args, **kwargs):
    return run_script("scripts/tokenize.py", "--no_analysis", "--no_progress", *args, timeout=600, **kwargs)


def tokenize_here(capsys, *args):
    """`tokenize` in this process (conftest.run_script_here): for refusals, which stop before any work."""
    return run_script_here(capsys, "scripts/tokenize.py", "--no_analysis", "--no_progress", *args)


def one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if not line.startswith("NOTE:")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_cli_odd_inputs_become_rows_or_error_lines(tmp_path, fitted_model):
    root = make_odd_folder(tmp_path / "in")
    shutil.copy(SPEECH_FILE, os.path.join(os.fsencode(root), BAD_NAME))
    clip = speech(1.0)
    write_float_wav(root / "huge.wav", clip / np.abs(clip).max() * np.float32(1e30), 24000)
    truncate(encode_with_torchcodec(root / "cut.mp3", speech(path=LONG_SPEECH_FILE)), 0.6)
    out = tmp_path / "tokens"
    result = tokenize("--input_dir", str(root), "--output_dir", str(out), "--model", str(fitted_model))
    assert result.returncode == 0, result.stderr
    assert "5 files encoded, 2 failed" in result.stdout
    rows = {row["id"]: row for row in load_dataset(str(out), split="train")}
    assert sorted(rows) == ["album.wav/track.flac", "alias.flac", "caf\\xe9 \\xff.flac", "ok.flac", "sun.au"]
    for k in range(3):  # the odd name's codes are its copy's
        assert rows["caf\\xe9 \\xff.flac"][f"tokens_scale_{k}"] == rows["ok.flac"][f"tokens_scale_{k}"]
    errors = {e["id"]: e["error"] for e in map(json.loads, (out / ERRORS_FILE).read_text().splitlines())}
    assert sorted(errors) == ["cut.mp3", "huge.wav"]
    assert errors["cut.mp3"].startswith("truncated") and "far outside" in errors["huge.wav"]


def test_cli_overwrite_never_deletes_files_it_did_not_write(tmp_path, short_speech_dir, fitted_model, capsys):
    audio = tmp_path / "audio"
    (audio / "data").mkdir(parents=True)
    for name in SHORT_SPEECH[:2]:
        shutil.copy(short_speech_dir / name, audio / "data" / name)
    out = tmp_path / "tokens"
    (out / "data").mkdir(parents=True)
    (out / "data" / "precious.csv").write_text("a,b\n")
    (out / "README.md").write_text("# my notes\n")
    (out / "photo.png").write_bytes(b"png")
    model = ("--model", str(fitted_model))
    for input_dir, output_dir in [(short_speech_dir, out), (audio, audio)]:
        before = snapshot(tmp_path)
        result = tokenize_here(
            capsys, "--input_dir", str(input_dir), "--output_dir", str(output_dir), *model, "--overwrite"
        )
        assert result.returncode == 2
        assert "did not write" in one_error_line(result)
        assert snapshot(tmp_path) == before


def test_cli_overwrite_keeps_the_users_files_and_lists_skipped(tmp_path, short_speech_dir, fitted_model):
    """Needs the pipeline to record its files (`record_written`) and write skipped.jsonl. (In this
    process: the command's own process is not what this is about.)"""
    audio = tmp_path / "audio"
    shutil.copytree(short_speech_dir, audio)
    (audio / "notes.txt").write_text("not audio")
    out = tmp_path / "tokens"
    out.mkdir()
    (out / "cat.jpg").write_bytes(b"user's")
    base = ("--input_dir", str(audio), "--output_dir", str(out), "--model", str(fitted_model))
    result = tokenize_in_process(*base, "--max_files", "2", "--overwrite")
    assert result.returncode == 0, result.stderr
    assert "1 skipped" in result.stdout
    skipped = [json.loads(line) for line in (out / SKIPPED_FILE).read_text().splitlines()]
    assert skipped == [{"file_path": str(audio / "notes.txt"), "reason": "not an audio extension"}]
    assert json.loads((out / METADATA_FILE).read_text())["files_skipped"] == 1
    again = ("--max_files", "3", "--segment_length", "1.0", "--overwrite")
    result = tokenize_in_process(*base, *again)
    assert result.returncode == 0, result.stderr
    assert (out / "cat.jpg").read_bytes() == b"user's"
    assert len(load_dataset(str(out), split="train")) == 3


def test_cli_unusable_output_dir_is_one_line(tmp_path, short_speech_dir, fitted_model, capsys):
    """Needs `check_output_location` called before the model loads."""
    (tmp_path / "file").write_text("x")
    audio = tmp_path / "audio"
    shutil.copytree(short_speech_dir, audio)
    (audio / "tokens").mkdir()
    (audio / "tokens" / "mine.flac").write_bytes(b"user's")
    before = snapshot(tmp_path)
    for output_dir, message in [
        (tmp_path / "file", "not a folder"),
        (audio / "tokens", "inside --input_dir"),
    ]:
        result = tokenize_here(
            capsys, "--input_dir", str(audio), "--output_dir", str(output_dir), "--model", str(fitted_model)
        )
        assert result.returncode == 2 and message in one_error_line(result)
    assert snapshot(tmp_path) == before


def test_a_users_file_inside_the_state_folder_is_theirs(tmp_path):
    """Issue 21: `--overwrite` deleted a user's file placed inside `.snac_hf/` (every file there
    counted as snac_hf's). Only the state files snac_hf writes are; the user's stands in the way."""
    out = tmp_path / "tokens"
    reset_output(out, {"run": 1})
    (out / STATE_DIR / "units" / "00000.json").write_text("{}")
    (out / STATE_DIR / "notes.txt").write_text("mine")
    (out / STATE_DIR / "units" / "mine.json").write_text("mine too")
    owned = owned_files(out)
    assert f"{STATE_DIR}/units/00000.json" in owned and f"{STATE_DIR}/run.json" in owned
    assert f"{STATE_DIR}/notes.txt" not in owned and f"{STATE_DIR}/units/mine.json" not in owned
    with pytest.raises(OutputExistsError, match=r"\.snac_hf/notes\.txt, \.snac_hf/units/mine\.json"):
        check_output(out, {"run": 2}, overwrite=True)
    assert (out / STATE_DIR / "notes.txt").read_text() == "mine"


def test_reports_and_tokenizers_never_replace_a_users_json(tmp_path, capsys):
    """Issue 21: train-bpe replaced a user's training.json, analyze a user's analysis.json in --report_dir."""
    from snac_hf.bpe.synthetic import write_synthetic_token_set
    from snac_hf.layout import layout_for

    tokens = write_synthetic_token_set(tmp_path / "tokens", layout_for("snac_24khz"), 20)
    tok, reports = tmp_path / "tok", tmp_path / "reports"
    for folder, name in ((tok, "training.json"), (reports, "analysis.json")):
        folder.mkdir()
        (folder / name).write_text('{"mine": true}')
    result = run_script_here(
        capsys,
        "scripts/train_bpe.py",
        "--tokens",
        str(tokens),
        "--num_merges",
        "10",
        "--output_dir",
        str(tok),
    )
    assert result.returncode == 2 and "holds training.json but no snac_hf tokenizer" in result.stderr
    result = run_script_here(
        capsys, "scripts/analyze.py", "--tokens", str(tokens), "--report_dir", str(reports)
    )
    assert result.returncode == 2 and "is not a snac_hf analysis; nothing was written" in result.stderr
    assert (tok / "training.json").read_text() == (reports / "analysis.json").read_text() == '{"mine": true}'
    assert sorted(os.listdir(tok)) == ["training.json"] and sorted(os.listdir(reports)) == ["analysis.json"]
    # snac_hf's own analysis.json is replaced by the next analysis
    (reports / "analysis.json").unlink()
    assert (
        run_script_here(
            capsys, "scripts/analyze.py", "--tokens", str(tokens), "--report_dir", str(reports)
        ).returncode
        == 0
    )
    assert (
        run_script_here(
            capsys, "scripts/analyze.py", "--tokens", str(tokens), "--report_dir", str(reports)
        ).returncode
        == 0
    )


def test_a_resume_with_other_arithmetic_is_refused_naming_what_changed(tmp_path, fitted_model):
    """Issue 27 item 5: device type, precision, TF32, compilation and the cuDNN settings are in the
    run fingerprint and metadata.json. A run started on CPU and resumed with another device or
    arithmetic would mix codes: it is refused in one line naming what changed, and nothing in the
    folder changes. A run.json written before the fingerprint held the arithmetic (those versions
    ran on CPU only) still resumes on CPU."""
    from snac_hf.codec.load import load_codec
    from snac_hf.job.pipeline import Processes, TokenizeSettings, tokenize_dataset

    audio = tmp_path / "audio"
    audio.mkdir()
    shutil.copy(SPEECH_FILE, audio / SPEECH_FILE.name)
    codec, out = load_codec(str(fitted_model)), tmp_path / "tokens"
    meta = tokenize_dataset(
        folder_dataset(str(audio)), codec, str(out), TokenizeSettings(exact=True), progress=False
    )
    assert meta["settings"]["arithmetic"] == {
        "device_type": "cpu",
        "tf32": False,
        "compiled": False,
        "cudnn_benchmark": None,
        "cudnn_deterministic": None,
        "quiet_float64_below": None,  # --exact: all float64 already
    }
    before = snapshot(out)
    refusals = {
        "arithmetic.device_type: cpu -> cuda, ": (TokenizeSettings(exact=True), Processes(device="cuda:0")),
        "arithmetic.compiled: False -> True": (TokenizeSettings(exact=True, compile=True), None),
        "--precision/--exact (float64 -> float32-tf32), arithmetic.tf32: False -> True": (
            TokenizeSettings(precision="tf32"),
            None,
        ),
    }
    for changed, (settings, processes) in refusals.items():
        with pytest.raises(OutputExistsError) as refused:
            tokenize_dataset(folder_dataset(str(audio)), codec, str(out), settings, processes, progress=False)
        message = str(refused.value)
        assert "made with other settings or inputs: " in message and changed in message, message
        assert "\n" not in message
        assert snapshot(out) == before
    run_file = out / STATE_DIR / "run.json"
    run = json.loads(run_file.read_text())
    run_file.write_text(json.dumps({k: v for k, v in run.items() if k != "arithmetic"}))  # an older version's
    again = tokenize_dataset(
        folder_dataset(str(audio)), codec, str(out), TokenizeSettings(exact=True), progress=False
    )
    assert again["this_run"]["units"] == 0  # resumed, nothing left


def fingerprint_of(**changes) -> dict:
    """A tokenize fingerprint as `pipeline.run_fingerprint` writes it, with `changes`."""
    base = {
        "inputs": "0" * 64,
        "kept_columns": {},
        "codec": {"name": "offline (local folder)", "checkpoint": None, "weights_sha256": "a" * 64},
        "segment_samples": 98304,
        "context_samples": 0,
        "precision": "float32",
        "files_per_shard": 256,
    }
    return {**base, **changes}


def test_a_resume_refusal_names_what_differs(tmp_path):
    """Issue 31 item 15: "made with other inputs or settings" now says which."""
    out = tmp_path / "tokens"
    start_token_set(out, fingerprint_of())
    cases = {
        "--segment_length (98304 samples -> 49152 samples)": fingerprint_of(segment_samples=49152),
        "--files_per_shard (256 -> 8)": fingerprint_of(files_per_shard=8),
        "--precision/--exact (float32 -> float64)": fingerprint_of(precision="float64"),
        "the input (its rows": fingerprint_of(inputs="1" * 64),
        "--keep_columns ([] -> ['text'])": fingerprint_of(kept_columns={"text": {"dtype": "string"}}),
        "--model (offline (local folder) -> hubertsiuzdak/snac_24khz)": fingerprint_of(
            codec={"name": "hubertsiuzdak/snac_24khz", "checkpoint": None, "weights_sha256": "b" * 64}
        ),
        "the codec weights (same --model name, other weights)": fingerprint_of(
            codec={"name": "offline (local folder)", "checkpoint": None, "weights_sha256": "c" * 64}
        ),
    }
    for named, fingerprint in cases.items():
        with pytest.raises(OutputExistsError) as refused:
            check_output(out, fingerprint, overwrite=False)
        message = str(refused.value)
        assert f"split 'train' made with other settings or inputs: {named}" in message, message
        assert "Nothing was changed" in message and "\n" not in message
    both = fingerprint_of(segment_samples=49152, context_samples=4096)
    with pytest.raises(OutputExistsError, match=r"--segment_length \(.*\), --context_length \(0 samples"):
        check_output(out, both, overwrite=False)


def test_a_split_joins_a_set_made_alike_and_overwrite_replaces_only_it(tmp_path):
    """Issue 31 item 1: another split with the same codec and settings is added beside the set's
    splits; one made otherwise is refused, naming the difference; --overwrite of a split that
    exists replaces that split alone."""
    out = tmp_path / "tokens"
    start_token_set(out, fingerprint_of())
    validation = fingerprint_of(inputs="1" * 64, files_per_shard=4, split="validation")
    assert check_output(out, validation, overwrite=False) is False  # added, not refused
    reset_output(out, validation)
    assert (out / shard_name(0, 1)).is_file() and (out / STATE_DIR / "run.json").is_file()
    record_written(out, [shard_name(0, 1, "validation")])
    (out / shard_name(0, 1, "validation")).write_bytes(b"shard")
    assert check_output(out, validation, overwrite=False) is True
    other_codec = fingerprint_of(
        codec={"name": "x", "checkpoint": None, "weights_sha256": "c" * 64}, split="test"
    )
    with pytest.raises(OutputExistsError, match=r"whose split 'train' was made with other settings: --model"):
        check_output(out, other_codec, overwrite=False)
    arithmetic = {"device_type": "cpu", "tf32": False}  # a split added by this version
    with pytest.raises(OutputExistsError, match=r"arithmetic \(not recorded by the older snac_hf that wrote"):
        check_output(out, fingerprint_of(arithmetic=arithmetic, split="test"), overwrite=False)
    changed = {**validation, "inputs": "2" * 64}
    with pytest.raises(OutputExistsError, match=r"split 'validation' made with other .*: the input"):
        check_output(out, changed, overwrite=False)
    assert check_output(out, changed, overwrite=True) is False
    reset_output(out, changed)
    assert (out / shard_name(0, 1)).is_file() and not (out / shard_name(0, 1, "validation")).exists()
    assert json.loads((out / STATE_DIR / "run-validation.json").read_text()) == changed
    assert json.loads((out / STATE_DIR / "run.json").read_text()) == fingerprint_of()
