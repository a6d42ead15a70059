"""scripts/tokenize.py end to end: the exact commands a user types, on real speech."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import REPO, SHORT_SPEECH, run_in_process, run_script, run_script_here
from datasets import load_dataset

from snac_hf.codec.encode import QUIET_PEAK, encode_alone
from snac_hf.codec.load import load_codec
from snac_hf.sources.audio import decode_audio
from snac_hf.sources.folder import folder_dataset
from snac_hf.tokenset.schema import ERRORS_FILE, METADATA_FILE


def tokenize(*args, **kwargs):
    """`python scripts/tokenize.py ... ARGS` without analysis or progress bar: run in this process
    (conftest.run_in_process: no 2-3 s of start-up) unless a launcher or other subprocess arguments
    are given; the tests about the process itself (a kill, two ranks, exit) run it as one."""
    fixed = ("--no_analysis", "--no_progress", *args)
    if kwargs:
        return run_script("scripts/tokenize.py", *fixed, **kwargs)
    return run_in_process("tokenize", *fixed, prog="scripts/tokenize.py")


def tokenize_here(capsys, *args):
    """`tokenize` in this process (conftest.run_script_here): for refusals, which stop before any work."""
    return run_script_here(capsys, "scripts/tokenize.py", "--no_analysis", "--no_progress", *args)


def rows(folder) -> dict:
    """Rows of a token set by id (as load_dataset returns them)."""
    ds = load_dataset(str(folder), split="train")
    return {row["id"]: row for row in ds}


def shards(folder) -> dict:
    return {p.name: pq.read_table(p) for p in sorted((folder / "data").glob("*.parquet"))}


def assert_same_shards(folder, expected) -> None:
    """Same shard names, and every shard's table equal value for value."""
    assert shards(folder).keys() == shards(expected).keys()
    for name, table in shards(expected).items():
        assert shards(folder)[name].equals(table), name


def exact_args(audio_dir, model) -> list[str]:
    """One shard per file, float64: codes independent of threads, processes and resume."""
    return ["--input_dir", str(audio_dir), "--model", str(model), "--files_per_shard", "1", "--exact"]


def test_help_runs_despite_the_stdlib_name():
    result = run_script("scripts/tokenize.py", "--help")
    assert result.returncode == 0, result.stderr
    assert "--input_dir" in result.stdout and "--exact" in result.stdout


def test_output_columns_values_and_metadata(tmp_path, short_speech_dir, fitted_model):
    out = tmp_path / "tokens"
    result = tokenize(
        "--input_dir", str(short_speech_dir), "--output_dir", str(out), "--model", str(fitted_model)
    )
    assert result.returncode == 0, result.stderr
    assert "5 files encoded, 0 failed" in result.stdout
    assert "offline stand-in codec" in result.stdout  # the notice travels into the output
    codec = load_codec(str(fitted_model))
    by_id = rows(out)
    assert sorted(by_id) == sorted(SHORT_SPEECH)
    audio = {row["id"]: row["audio"] for row in folder_dataset(str(short_speech_dir))}
    for item_id, row in by_id.items():
        samples = decode_audio(audio[item_id], 24000)
        assert row["file_path"] == str(short_speech_dir / item_id)
        assert row["duration"] == len(samples) / 24000
        # shorter than one segment: identical codes; a quiet file's (ru_034_2, silence) are float64's
        reference = encode_alone(codec, samples, exact=bool(np.abs(samples).max() < QUIET_PEAK))
        for k in range(3):
            assert row[f"tokens_scale_{k}"] == reference[k].tolist()
            assert row[f"n_tokens_scale_{k}"] == len(reference[k]) == codec.layout.n_codes(len(samples))[k]
            assert row[f"shape_scale_{k}"] == [1, len(reference[k])]
    features = load_dataset(str(out), split="train").features
    assert str(features["tokens_scale_0"]) == "List(Value('int16'))"

    meta = json.loads((out / METADATA_FILE).read_text())
    assert meta["files_processed"] == 5 and meta["files_failed"] == 0
    assert meta["total_duration_seconds"] == pytest.approx(sum(r["duration"] for r in by_id.values()))
    assert meta["codec"]["config"]["vq_strides"] == [4, 2, 1]
    assert "offline stand-in" in meta["codec"]["notice"]
    for k in range(3):
        codes = np.concatenate([r[f"tokens_scale_{k}"] for r in by_id.values()])
        stats = meta["scales"][f"scale_{k}"]
        assert stats["total_tokens"] == len(codes)
        assert stats["unique_tokens"] == len(np.unique(codes))
        assert (stats["min"], stats["max"]) == (codes.min(), codes.max())
        top_code, top_count = stats["most_common"][0]
        assert top_count == np.bincount(codes).max() == np.sum(codes == top_code)
    card = (out / "README.md").read_text()
    assert card.startswith("---\n") and "int16" in card and "offline stand-in" in card


def test_exact_four_second_file_gives_47_94_188_codes(tmp_path, speech_dir, fitted_model):
    audio_dir = tmp_path / "audio"
    audio_dir.mkdir()
    subprocess.run(
        [
            "sox",
            str(speech_dir / "en_000_sense_and_sensibility_01_austen_64kb-0870.flac"),
            "-r",
            "24000",
            str(audio_dir / "four.wav"),
            "trim",
            "0",
            "4.0",
        ],
        check=True,
    )
    out = tmp_path / "tokens"
    result = tokenize("--input_dir", str(audio_dir), "--output_dir", str(out), "--model", str(fitted_model))
    assert result.returncode == 0, result.stderr
    by_id = rows(out)
    assert list(by_id) == ["four.wav"], by_id.keys()
    [row] = by_id.values()
    assert row["duration"] == 4.0
    assert [row[f"n_tokens_scale_{k}"] for k in range(3)] == [47, 94, 188]


def test_broken_files_are_listed_and_skipped(tmp_path, short_speech_dir, fitted_model):
    audio_dir = tmp_path / "audio"
    shutil.copytree(short_speech_dir, audio_dir)
    (audio_dir / "sub").mkdir()
    (audio_dir / "sub" / "garbage.WAV").write_bytes(os.urandom(2000))  # upper-case extension is found
    (audio_dir / "empty.flac").write_bytes(b"")
    (audio_dir / "notes.txt").write_text("not audio")  # ignored: not an audio extension
    out = tmp_path / "tokens"
    args = ("--input_dir", str(audio_dir), "--output_dir", str(out), "--model", str(fitted_model))
    result = tokenize(*args, "--files_per_shard", "2")
    assert result.returncode == 0, result.stderr
    assert "5 files encoded, 2 failed" in result.stdout and ERRORS_FILE in result.stdout
    errors = [json.loads(line) for line in (out / ERRORS_FILE).read_text().splitlines()]
    assert sorted(e["id"] for e in errors) == ["empty.flac", "sub/garbage.WAV"]
    assert all("cannot decode audio" in e["error"] for e in errors)
    assert sorted(rows(out)) == sorted(SHORT_SPEECH)
    assert json.loads((out / METADATA_FILE).read_text())["files_failed"] == 2
    # --strict turns failures into a non-zero exit (the resumed run changes nothing else)
    assert tokenize(*args, "--files_per_shard", "2", "--strict").returncode == 1


def test_nothing_encodable_exits_non_zero(tmp_path, fitted_model):
    audio_dir = tmp_path / "audio"
    audio_dir.mkdir()
    (audio_dir / "a.wav").write_bytes(b"RIFF....WAVEfmt ")
    result = tokenize(
        "--input_dir", str(audio_dir), "--output_dir", str(tmp_path / "o"), "--model", str(fitted_model)
    )
    assert result.returncode == 1
    assert "0 files encoded, 1 failed" in result.stdout


def test_bad_flags_and_inputs_are_clear_errors(tmp_path, fitted_model, capsys):
    result = tokenize_here(capsys, "--output_dir", str(tmp_path / "o"))
    assert result.returncode == 2 and "exactly one of --input_dir or --dataset" in result.stderr
    result = tokenize_here(
        capsys,
        "--input_dir",
        str(tmp_path / "missing"),
        "--output_dir",
        str(tmp_path / "o"),
        "--model",
        str(fitted_model),
    )
    assert result.returncode == 2 and "is not a directory" in result.stderr
    result = tokenize_here(
        capsys, "--input_dir", str(tmp_path), "--output_dir", str(tmp_path / "o"), "--batch_size", "0"
    )
    assert result.returncode == 2 and "--batch_size must be positive" in result.stderr


def test_a_different_dataset_is_never_overwritten(tmp_path, short_speech_dir, fitted_model, capsys):
    out = tmp_path / "tokens"
    base = ("--input_dir", str(short_speech_dir), "--output_dir", str(out), "--model", str(fitted_model))
    assert tokenize(*base).returncode == 0
    before = shards(out)
    metadata = (out / METADATA_FILE).read_text()
    result = tokenize_here(capsys, *base, "--segment_length", "1.0")  # other settings -> another dataset
    assert result.returncode == 2 and "--overwrite" in result.stderr
    assert shards(out).keys() == before.keys() and (out / METADATA_FILE).read_text() == metadata
    result = tokenize(*base, "--segment_length", "1.0", "--max_files", "2", "--overwrite")
    assert result.returncode == 0, result.stderr
    assert len(rows(out)) == 2
    # an unrelated folder is not a token set: refused too
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"jpg")
    result = tokenize_here(
        capsys, "--input_dir", str(short_speech_dir), "--output_dir", str(other), "--model", str(fitted_model)
    )
    assert result.returncode == 2 and (other / "cat.jpg").exists()


def test_resume_after_sigkill_equals_uninterrupted(tmp_path, short_speech_dir, fitted_model):
    args = exact_args(short_speech_dir, fitted_model)
    whole = tmp_path / "whole"
    assert tokenize(*args, "--output_dir", str(whole)).returncode == 0

    killed = tmp_path / "killed"
    command = [
        sys.executable,
        "scripts/tokenize.py",
        "--no_analysis",
        "--no_progress",
        *args,
        "--window_seconds",  # a window per file (about 2 s each): shards are written one by one
        "1",
        "--output_dir",
        str(killed),
    ]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while len(list((killed / "data").glob("*.parquet"))) < 2 and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / METADATA_FILE).exists()
    done = len(list((killed / "data").glob("*.parquet")))
    assert 2 <= done < 5
    result = tokenize(*args, "--output_dir", str(killed))  # the same command resumes
    assert result.returncode == 0, result.stderr
    assert_same_shards(killed, whole)
    assert not list(killed.rglob("*.partial"))
    assert (
        json.loads((killed / METADATA_FILE).read_text())["scales"]
        == json.loads((whole / METADATA_FILE).read_text())["scales"]
    )


@pytest.mark.exhaustive
def test_two_processes_equal_one(tmp_path, short_speech_dir, fitted_model):
    """A real 2-rank `accelerate launch` (gloo on CPU) writes the same rows as one process, in
    float64. `make test` makes the same proof faster: a 2-rank folder job equal to one process in
    float32 (test_export) and a 2-rank streamed job equal in float64 (test_scale)."""
    args = exact_args(short_speech_dir, fitted_model)
    one, two = tmp_path / "one", tmp_path / "two"
    assert tokenize(*args, "--output_dir", str(one)).returncode == 0
    launcher = (sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2")
    launcher += ("--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no")
    result = run_script(
        "scripts/tokenize.py",
        "--no_analysis",
        "--no_progress",
        *args,
        "--output_dir",
        str(two),
        launcher=launcher,
    )
    assert result.returncode == 0, result.stderr
    assert "5 files encoded" in result.stdout
    assert_same_shards(two, one)
    settings = json.loads((two / METADATA_FILE).read_text())["settings"]
    assert settings["num_processes"] == 2


def test_dataset_source(tmp_path, short_speech_dir, fitted_model):
    """--dataset takes anything load_dataset reads (here a local audio folder dataset)."""
    out = tmp_path / "tokens"
    result = tokenize(
        "--dataset",
        str(short_speech_dir),
        "--split",
        "train",
        "--max_files",
        "3",
        "--output_dir",
        str(out),
        "--model",
        str(fitted_model),
    )
    assert result.returncode == 0, result.stderr
    by_id = rows(out)
    assert sorted(by_id) == [f"{short_speech_dir}:train:{i}" for i in range(3)]
    assert {os.path.basename(r["file_path"]) for r in by_id.values()} <= set(SHORT_SPEECH)


def test_push_to_hub_fails_before_any_file_is_decoded(capsys, tmp_path, short_speech_dir, fitted_model):
    """Issue 31 item 2: an unusable --push_to_hub failed only after the whole job. Now the Hub, the
    token and the repository are checked first: offline (conftest) and with no Hub at the endpoint,
    one line, exit 2, and not a shard (nor the folder) written."""
    out = tmp_path / "tokens"
    args = ("--input_dir", str(short_speech_dir), "--output_dir", str(out), "--model", str(fitted_model))
    result = tokenize_here(capsys, *args, "--push_to_hub", "someone/tokens")
    assert result.returncode == 2 and not out.exists()
    assert result.stderr.startswith(
        "error: --push_to_hub someone/tokens: the Hugging Face Hub cannot be reached"
    )
    assert "HF_HUB_OFFLINE is set" in result.stderr and result.stderr.count("\n") == 1
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT="http://127.0.0.1:9", HF_HOME=str(tmp_path / "hf"))  # nothing listens on port 9
    command = [
        sys.executable,
        "scripts/tokenize.py",
        "--no_progress",
        *args,
        "--push_to_hub",
        "someone/tokens",
    ]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and not out.exists(), result.stderr
    assert (
        "the Hugging Face Hub cannot be reached (" in result.stderr and "nothing was encoded" in result.stderr
    )


def test_one_run_per_output_folder_and_a_killed_runs_lock_is_free(tmp_path, short_speech_dir, fitted_model):
    """Issue 21: a second run started into the same folder (other --files_per_shard, --overwrite)
    exited 0 while stale shards stayed, and the first run died. Now the second is refused, naming
    the first; once the first is killed (kill -9), its lock is free and the same command resumes."""
    out = tmp_path / "tokens"
    args = ["--input_dir", str(short_speech_dir), "--model", str(fitted_model), "--files_per_shard", "1"]
    command = [
        sys.executable,
        "scripts/tokenize.py",
        "--no_analysis",
        "--no_progress",
        *args,
        "--output_dir",
        str(out),
    ]
    first = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while not (out / ".snac_hf" / "lock.json").is_file() and time.time() < deadline:
            time.sleep(0.05)
        first.send_signal(signal.SIGSTOP)  # holds the lock, writes nothing while the second tries
        second = tokenize(*args[:-1], "2", "--overwrite", "--output_dir", str(out))
        assert second.returncode == 2, second.stderr
        assert f"is being written by another snac_hf run (pid {first.pid} on " in second.stderr
        assert "Nothing was changed" in second.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert not (out / METADATA_FILE).exists()
    result = tokenize(*args, "--output_dir", str(out))
    assert result.returncode == 0, result.stderr
    ids = load_dataset(str(out), split="train")["id"]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 5


def test_precision_and_compile_on_resume(tmp_path, short_speech_dir, fitted_model):
    """A setting that changes codes (`--precision bf16`) is part of the run fingerprint: a resume
    with it is refused in one line, nothing changed; `--compile` on CPU gives eager's codes bit
    for bit (tests/test_encode.py), so it resumes the same folder (here with nothing left to
    encode: no compilation is paid). bf16 states its precision in metadata.json and the card."""
    from snac_hf.codec.precision import native
    from snac_hf.sources.folder import find_audio_files

    two = tmp_path / "two"
    two.mkdir()
    for name in SHORT_SPEECH[:2]:
        shutil.copy(short_speech_dir / name, two / name)
    out = tmp_path / "tokens"
    base = ("--input_dir", str(two), "--output_dir", str(out), "--model", str(fitted_model))
    assert tokenize(*base, "--files_per_shard", "1").returncode == 0
    before, metadata = shards(out), (out / METADATA_FILE).read_text()
    result = tokenize(*base, "--files_per_shard", "1", "--precision", "bf16")
    assert result.returncode == 2 and "--precision/--exact (float32 -> bfloat16-autocast)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert (out / METADATA_FILE).read_text() == metadata
    result = tokenize(*base, "--files_per_shard", "1", "--compile")
    assert result.returncode == 0, result.stderr
    assert "resuming: 2 of 2 units done; nothing left to encode" in result.stderr
    after = shards(out)
    assert after.keys() == before.keys() and all(after[k].equals(before[k]) for k in before)
    result = tokenize(*base, "--precision", "fp16", "--exact")
    assert result.returncode == 2 and "drop one of the two" in result.stderr
    if not native("bf16", __import__("torch").device("cpu")):
        return
    made = tmp_path / "bf16"
    result = tokenize("--input_dir", str(two), "--output_dir", str(made), "--model", str(fitted_model),
                      "--precision", "bf16")  # fmt: skip
    assert result.returncode == 0, result.stderr
    settings = json.loads((made / METADATA_FILE).read_text())["settings"]
    assert settings["precision"] == "bfloat16-autocast" and settings["compile"] == "auto"
    assert len(rows(made)) == len(find_audio_files(str(two)))
    assert "precision: bfloat16-autocast" in (made / "README.md").read_text()


def test_duration_filters_skip_and_count_files(capsys, tmp_path, short_speech_dir, fitted_model):
    """Issue 31 item 9: --min_duration / --max_duration skip files outside the bounds (after decoding),
    listed in skipped.jsonl and counted in metadata.json and the card; the bounds are part of the
    run's fingerprint, so a resume with other bounds is refused, naming them."""
    out = tmp_path / "tokens"
    args = ["--input_dir", str(short_speech_dir), "--output_dir", str(out), "--model", "offline"]
    args += ["--segment_length", "1", "--files_per_shard", "2"]
    result = tokenize_here(capsys, *args, "--min_duration", "1.5", "--max_duration", "2.05")
    assert result.returncode == 0, result.stderr
    assert "3 files encoded, 0 failed, 2 skipped" in result.stdout
    assert sorted(os.path.basename(p) for p in (r["file_path"] for r in rows(out).values())) == [
        "en_006_002.flac", "en_007_003.flac", "ru_034_2.flac"
    ]  # fmt: skip
    skipped = [json.loads(line) for line in (out / "skipped.jsonl").read_text().splitlines()]
    reasons = {os.path.basename(e["file_path"]): e["reason"] for e in skipped}
    assert reasons == {
        "en_005_001.flac": "shorter than --min_duration 1.5 s (1.095 s)",
        "it_016_dir-first.flac": "longer than --max_duration 2.05 s (2.109 s)",
    }
    meta = json.loads((out / METADATA_FILE).read_text())
    assert meta["files_skipped"] == 2 and meta["files_processed"] == 3
    card = (out / "README.md").read_text()
    assert "3 encoded, 0 failed (see `errors.jsonl`), 2 skipped (see `skipped.jsonl`)" in card
    assert "- duration filter: files shorter than 1.5 s or longer than 2.05 s were skipped" in card
    result = tokenize_here(capsys, *args, "--min_duration", "1.5")
    assert result.returncode == 2
    assert "--max_duration (2.05 s -> not set)" in result.stderr
