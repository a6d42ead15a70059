"""`snac-hf export --format orpheus`: the Orpheus-TTS layout, checked against a plain per-frame
implementation written here, on real bundled speech with transcripts tokenized by the real
commands (1 process; 2 processes under `accelerate launch` in a slow test), and the way back."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datasets import load_dataset
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from snac_hf.export import ExportSettings, codes_to_orpheus_ids, export_orpheus, orpheus_ids_to_codes
from snac_hf.export.orpheus import END_OF_SPEECH, START_OF_SPEECH, batch_speech_ids, whole_frames
from snac_hf.tokenset.load import open_token_set
from tests.conftest import REPO, SPEECH, run_here, run_script
from tests.text_tokenizers import llama3_like

# --- the layout, written out the plain way: one frame at a time, straight from the published text ---

TEXT_COLUMN = "transcription"


def reference_speech(c0, c1, c2) -> list[int]:
    """Frame i: c0[i], c1[2i], c2[4i], c2[4i+1], c1[2i+1], c2[4i+2], c2[4i+3]; position p: +128266+p*4096."""
    ids = []
    i = 0
    while i < len(c0) and 2 * i + 1 < len(c1) and 4 * i + 3 < len(c2):
        frame = [c0[i], c1[2 * i], c2[4 * i], c2[4 * i + 1], c1[2 * i + 1], c2[4 * i + 2], c2[4 * i + 3]]
        ids += [int(code) + 128266 + p * 4096 for p, code in enumerate(frame)]
        i += 1
    return ids


def reference_row(text_ids: list[int], codes) -> list[int]:
    speech = reference_speech(*codes)
    return [128259, *text_ids, 128009, 128260, 128261, 128257, *speech, 128258, 128262]


def reference_whole_frames(codes) -> list[list[int]]:
    frames = min(len(codes[0]), len(codes[1]) // 2, len(codes[2]) // 4)
    return [list(codes[0][:frames]), list(codes[1][: 2 * frames]), list(codes[2][: 4 * frames])]


def prompt(row: dict, speaker_column: str | None = None) -> str | None:
    text = row[TEXT_COLUMN]
    if text is None or not text.strip():
        return None
    speaker = row[speaker_column] if speaker_column else None
    return f"{speaker}: {text}" if speaker is not None and speaker.strip() else text


# --- fixtures: 10 bundled recordings with their transcripts, tokenized as a user does ---------------


def manifest() -> list[dict]:
    with open(SPEECH / "manifest.tsv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@pytest.fixture(scope="module")
def transcribed_audio(tmp_path_factory) -> Path:
    """The 10 shortest recordings (18.7 s) and an audiofolder metadata.csv; the shortest one's
    transcript is blank (it must be left out and counted)."""
    rows = sorted(manifest(), key=lambda row: float(row["dur_s"]))[:10]
    folder = tmp_path_factory.mktemp("transcribed") / "audio"
    folder.mkdir()
    with open(folder / "metadata.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file_name", TEXT_COLUMN, "speaker"])
        for i, row in enumerate(rows):
            shutil.copy(SPEECH / row["file"], folder / row["file"])
            writer.writerow([row["file"], "" if i == 0 else row["text"], row["speaker"]])
    return folder


#: One thread per tokenize process, as under `make test` (conftest) and also under a plain `pytest`:
#: float32 codes depend on the thread count, and one process is compared with two here.
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


def tokenize_args(audio: Path, model: Path, out: Path) -> list[str]:
    return [
        "scripts/tokenize.py", "--input_dir", str(audio), "--output_dir", str(out), "--model", str(model),
        "--keep_columns", TEXT_COLUMN, "speaker", "--files_per_shard", "4", "--no_analysis", "--no_progress",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def tokens(transcribed_audio, fitted_model, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("orpheus_tokens") / "tokens"
    result = run_script(*tokenize_args(transcribed_audio, fitted_model, out), env=ONE_THREAD)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def train_text_tokenizer(folder: Path) -> Path:
    """A tokenizer of Llama 3's shape (128,256 ids, BOS 128000 first, `<|eot_id|>` 128009) over the
    bundled transcripts (`tests.text_tokenizers.llama3_like`: the Hub is unreachable)."""
    return llama3_like(folder)


@pytest.fixture(scope="module")
def text_tokenizer(tmp_path_factory) -> Path:
    return train_text_tokenizer(tmp_path_factory.mktemp("text_tokenizer") / "tok")


def text_ids(tokenizer_dir: Path, text: str) -> list[int]:
    """The tokenizer's ids with its special tokens, read by `tokenizers` alone (not transformers)."""
    return Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json")).encode(text).ids


def export_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return run_script("scripts/export.py", "--format", "orpheus", *args, **kwargs)


@pytest.fixture(scope="module")
def exported(tokens, text_tokenizer, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("orpheus_export") / "orpheus"
    result = export_cli(
        "--tokens", str(tokens), "--text_column", TEXT_COLUMN, "--text_tokenizer", str(text_tokenizer),
        "--output_dir", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "9 of 10 files as Orpheus rows" in result.stdout and "1 empty transcript" in result.stdout
    return out


def token_rows(folder: Path) -> dict[str, dict]:
    return {row["id"]: row for row in open_token_set(str(folder))}


def codes_of(row: dict, padding: bool = False) -> list[list[int]]:
    """A token-set row's codes per scale; with `padding`, followed by its padding codes (whole frames)."""
    return [row[f"tokens_scale_{k}"] + (row[f"padding_scale_{k}"] if padding else []) for k in range(3)]


def check_against_reference(
    tokens: Path, exported: Path, tokenizer_dir: Path, speaker: str | None = None, frames: str = "upstream"
):
    """Every exported row equals the plain implementation's row; every left-out file is counted.
    `frames`: "upstream" (the default: the padding codes complete the last frame) or "real"."""
    upstream = frames == "upstream"
    source = token_rows(tokens)
    rows = {row["id"]: row for row in load_dataset(str(exported), split="train")}
    expected = {i: r for i, r in source.items() if prompt(r, speaker) is not None}
    assert rows.keys() == expected.keys()
    for file_id, row in rows.items():
        want = reference_row(
            text_ids(tokenizer_dir, prompt(source[file_id], speaker)), codes_of(source[file_id], upstream)
        )
        assert row["input_ids"] == want, file_id
        assert row["labels"] == want and row["attention_mask"] == [1] * len(want)
        assert (
            row[TEXT_COLUMN] == source[file_id][TEXT_COLUMN] and row["speaker"] == source[file_id]["speaker"]
        )
    summary = json.loads((exported / "export.json").read_text())
    partial = sum(
        sum(len(c) for c in codes_of(source[i]))
        - sum(len(c) for c in reference_whole_frames(codes_of(source[i])))
        for i in rows
    )
    assert summary["counts"]["files"] == len(source)
    assert summary["counts"]["rows_written"] == len(rows)
    assert summary["counts"]["empty_transcript"] == len(source) - len(expected)
    padding = (
        sum(len(c) for i in rows for c in codes_of(source[i], True))
        - sum(len(c) for i in rows for c in codes_of(source[i]))
        if upstream
        else 0
    )
    assert partial > 0 and (padding > 0 or not upstream)
    counts = summary["counts"]
    assert (counts["partial_frame_codes_dropped"], counts["padding_codes_written"], summary["frames"]) == (
        (0, padding, "upstream") if upstream else (partial, 0, "real")
    )
    assert counts["frames_upstream"] == sum(len(source[i]["tokens_scale_0"]) for i in rows)
    assert counts["frames_real_only"] == sum(
        len(reference_whole_frames(codes_of(source[i]))[0]) for i in rows
    )
    return rows, summary


# --- the layout on real speech ------------------------------------------------------------------------


def test_rows_equal_the_plain_per_frame_layout(tokens, exported, text_tokenizer):
    rows, summary = check_against_reference(tokens, exported, text_tokenizer)
    assert len(rows) == 9 and summary["counts"]["empty_transcript"] == 1
    features = load_dataset(str(exported), split="train").features
    assert list(features) == ["id", "input_ids", "labels", "attention_mask", TEXT_COLUMN, "speaker"]
    assert str(features["input_ids"]) == "List(Value('int32'))"
    assert sorted(p.name for p in (exported / "data").iterdir()) == [
        f"train-{i:05d}-of-00003.parquet" for i in range(3)
    ]  # one shard per token-set shard (4 + 4 + 2 files)
    card = (exported / "README.md").read_text()
    assert "name: input_ids" in card and "list: int32" in card  # the YAML features
    assert "rows written: 9" in card and "1 with an empty transcript" in card and "#122" in card
    assert "partial-frame codes dropped: " + f"{summary['counts']['partial_frame_codes_dropped']:,}" in card
    assert "tok (local folder" in card and str(text_tokenizer) not in card  # no local path published


def test_round_trip_ids_to_codes_on_every_exported_row(tokens, exported):
    source = token_rows(tokens)
    for row in load_dataset(str(exported), split="train"):
        found = orpheus_ids_to_codes(row["input_ids"])
        assert [c.tolist() for c in found.codes] == codes_of(source[row["id"]], padding=True)
        assert (found.skipped_frames, found.trailing_ids) == (0, 0)


def test_speaker_column_and_max_length(tokens, text_tokenizer, tmp_path):
    settings = ExportSettings(TEXT_COLUMN, str(text_tokenizer), speaker_column="speaker")
    export_orpheus(str(tokens), tmp_path / "speakers", settings)
    rows, _ = check_against_reference(tokens, tmp_path / "speakers", text_tokenizer, speaker="speaker")

    lengths = sorted(len(r["input_ids"]) for r in rows.values())
    limit = lengths[4]  # rows longer than the 5th shortest are left out, never cut
    settings = ExportSettings(TEXT_COLUMN, str(text_tokenizer), speaker_column="speaker", max_length=limit)
    summary = export_orpheus(str(tokens), tmp_path / "short", settings)
    short = {r["id"]: r for r in load_dataset(str(tmp_path / "short"), split="train")}
    assert short.keys() == {i for i, r in rows.items() if len(r["input_ids"]) <= limit}
    assert all(short[i]["input_ids"] == rows[i]["input_ids"] for i in short)
    assert summary["counts"]["too_long"] == 9 - len(short) > 0
    assert "too long" in (tmp_path / "short" / "README.md").read_text()


def test_pack_chains_rows_into_blocks_and_two_processes_write_the_same(
    tokens, text_tokenizer, tmp_path, monkeypatch
):
    block = 100
    plain = ExportSettings(TEXT_COLUMN, str(text_tokenizer))
    export_orpheus(str(tokens), tmp_path / "rows", plain)
    by_shard = [
        [r["input_ids"] for r in load_dataset("parquet", data_files=str(p), split="train")]
        for p in sorted((tmp_path / "rows" / "data").glob("*.parquet"))
    ]
    packed = ExportSettings(TEXT_COLUMN, str(text_tokenizer), pack=block, num_proc=2)
    summary = export_orpheus(str(tokens), tmp_path / "packed", packed)
    blocks = [r["input_ids"] for r in load_dataset(str(tmp_path / "packed"), split="train")]
    # Expected, spelled out: each shard's rows chained, cut into blocks; the shards' leftovers chained
    # in shard order and cut the same way; the ids after the last whole block dropped.
    expected, tails = [], []
    for rows in by_shard:
        chained = [i for row in rows for i in row]
        whole = len(chained) // block * block
        expected += [chained[k : k + block] for k in range(0, whole, block)]
        tails += chained[whole:]
    whole = len(tails) // block * block
    expected += [tails[k : k + block] for k in range(0, whole, block)]
    assert blocks == expected
    assert summary["blocks"] == len(blocks) and summary["ids_dropped_after_last_block"] == len(tails) - whole
    assert summary["counts"]["ids_written"] == sum(len(r) for rows in by_shard for r in rows)

    # A save_to_disk copy of the token set (read as a Dataset, cut into ranges of 3 rows) gives the same rows.
    from snac_hf.export import source

    monkeypatch.setattr(source, "DATASET_UNIT_ROWS", 3)
    open_token_set(str(tokens)).save_to_disk(str(tmp_path / "saved"))
    assert export_orpheus(str(tmp_path / "saved"), tmp_path / "from_saved", plain)["shards"] == 4
    saved = load_dataset(str(tmp_path / "from_saved"), split="train")
    assert saved.to_list() == load_dataset(str(tmp_path / "rows"), split="train").to_list()

    two = ExportSettings(TEXT_COLUMN, str(text_tokenizer), num_proc=2)
    export_orpheus(str(tokens), tmp_path / "two", two)
    for name in ("README.md", "export.json"):
        assert (tmp_path / "two" / name).read_text() == (tmp_path / "rows" / name).read_text()
    for a, b in zip(
        sorted((tmp_path / "two" / "data").iterdir()), sorted((tmp_path / "rows" / "data").iterdir())
    ):
        assert a.name == b.name and pq.read_table(a).equals(pq.read_table(b))


def rewritten_copy(tokens: Path, folder: Path, change) -> Path:
    """A copy of token set `tokens` (no resume state: its records hold the shards' digests) whose
    shards are `change(table)`."""
    shutil.copytree(tokens, folder, ignore=shutil.ignore_patterns(".snac_hf", "README.md"))
    for shard in sorted((folder / "data").glob("*.parquet")):
        pq.write_table(change(pq.read_table(shard).replace_schema_metadata(None)), shard)
    return folder


def test_frames_rule_old_token_sets_and_the_card(tokens, text_tokenizer, tmp_path, capsys):
    """`--frames real` writes whole real frames only; a token set made before padding codes were
    stored exports as before (whole real frames), and its card says why; `--frames upstream` of
    such a set is one line, nothing written. The card counts the frames under both rules."""
    tok = str(text_tokenizer)
    real = tmp_path / "real"
    export_orpheus(str(tokens), real, ExportSettings(TEXT_COLUMN, tok, frames="real"))
    _, summary = check_against_reference(tokens, real, text_tokenizer, frames="real")
    card = (real / "README.md").read_text()
    assert "whole frames of real audio only (`--frames real`: asked for" in card
    counts = summary["counts"]
    assert f"{counts['frames_upstream']:,} by Orpheus' ceil(n / 2048)" in card
    assert counts["frames_upstream"] > counts["frames_real_only"] == counts["frames_written"]

    def drop_padding(table: pa.Table) -> pa.Table:
        return table.drop_columns([f"padding_scale_{k}" for k in range(3)])

    old = rewritten_copy(tokens, tmp_path / "old_tokens", drop_padding)
    meta = json.loads((old / "metadata.json").read_text())
    del meta["padding_codes"]
    (old / "metadata.json").write_text(json.dumps(meta))
    out = tmp_path / "from_old"
    summary = export_orpheus(str(old), out, ExportSettings(TEXT_COLUMN, tok))
    check_against_reference(old, out, text_tokenizer, frames="real")
    assert summary["frames"] == "real" and not summary["padding_codes_stored"]
    assert "made before snac_hf stored padding codes" in (out / "README.md").read_text()
    assert load_dataset(str(out), split="train").to_list() == load_dataset(str(real), split="train").to_list()

    refused = tmp_path / "refused"
    result = run_export_main(
        capsys, "--tokens", str(old), "--text_column", TEXT_COLUMN, "--text_tokenizer", tok,
        "--frames", "upstream", "--output_dir", str(refused),
    )  # fmt: skip
    assert_refused(result, refused, "--frames upstream", "padding codes", "--frames real")


def test_an_empty_speaker_gives_the_text_alone_and_is_counted(tokens, text_tokenizer, tmp_path):
    """Orpheus' notebook writes `f"{source}: {text}"` for every row of a set with a speaker column
    (": text" for an empty one); its inference code (`orpheus_tts` `_format_prompt`) prompts
    `f"{voice}: {prompt}"` only `if voice`, else the text alone. snac_hf writes what inference
    sends: the text alone for an empty or null speaker, counted in export.json and the card."""
    ids = sorted(i for i, row in token_rows(tokens).items() if (row[TEXT_COLUMN] or "").strip())

    def blank_two(table: pa.Table) -> pa.Table:
        names = table.column("id").to_pylist()
        speakers = table.column("speaker").to_pylist()
        speakers = ["" if i == ids[1] else None if i == ids[2] else s for i, s in zip(names, speakers)]
        return table.set_column(
            table.schema.get_field_index("speaker"), "speaker", pa.array(speakers, pa.string())
        )

    blanked = rewritten_copy(tokens, tmp_path / "tokens", blank_two)
    out = tmp_path / "orpheus"
    summary = export_orpheus(
        str(blanked), out, ExportSettings(TEXT_COLUMN, str(text_tokenizer), speaker_column="speaker")
    )
    check_against_reference(blanked, out, text_tokenizer, speaker="speaker")
    assert summary["counts"]["text_alone"] == 2 and summary["counts"]["empty_speaker"] == 0
    assert "rows with an empty or null speaker, written as the text alone" in (out / "README.md").read_text()


# --- the layout on random codes -----------------------------------------------------------------------


@st.composite
def code_sequences(draw):
    """Codes of audio of any length (real-audio scale lengths: partial last frames) and any values."""
    finest = draw(st.integers(0, 90))
    lengths = (-(-finest // 4), -(-finest // 2), finest)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 4096, n) for n in lengths]


@settings(max_examples=200, deadline=None)
@given(code_sequences())
def test_random_codes_layout_and_round_trip(codes):
    ids = codes_to_orpheus_ids(codes)
    assert ids.tolist() == reference_speech(*codes)
    found = orpheus_ids_to_codes(ids)
    assert [c.tolist() for c in found.codes] == reference_whole_frames(codes)
    row = orpheus_ids_to_codes(
        [128259, 7, 8, 128009, 128260, 128261, START_OF_SPEECH, *ids, END_OF_SPEECH, 128262]
    )
    assert [c.tolist() for c in row.codes] == reference_whole_frames(codes)


@settings(max_examples=50, deadline=None)
@given(st.lists(code_sequences(), min_size=1, max_size=8))
def test_many_files_at_once_equal_one_at_a_time(files):
    """The vectorized mapping over flat Arrow buffers of several files equals the per-file reference."""
    columns = [pa.array([f[k].tolist() for f in files], pa.list_(pa.int16())) for k in range(3)]
    lengths = np.array([[len(f[k]) for k in range(3)] for f in files])
    ids = batch_speech_ids(
        [c.values.to_numpy() for c in columns], [c.offsets.to_numpy() for c in columns], whole_frames(lengths)
    )
    assert ids.tolist() == [i for f in files for i in reference_speech(*f)]


def test_decoding_raw_model_output():
    rng = np.random.default_rng(1)
    codes = [rng.integers(0, 4096, n) for n in (5, 10, 20)]
    speech = codes_to_orpheus_ids(codes).tolist()
    want = reference_whole_frames(codes)
    # Generated: an earlier start-of-speech in the prompt, the last one starts the speech; stop at
    # end-of-speech; what follows is ignored; a trailing partial frame is left out and counted.
    generated = [START_OF_SPEECH, 1, 2, START_OF_SPEECH, *speech, *speech[:3], END_OF_SPEECH, 5, 128262]
    found = orpheus_ids_to_codes(generated)
    assert [c.tolist() for c in found.codes] == want and found.trailing_ids == 3
    assert [c.tolist() for c in orpheus_ids_to_codes(speech).codes] == want  # no marker: all speech

    broken = list(speech)
    broken[7 + 4] = 128266  # position 4 of frame 1 holds position 0's code 0
    with pytest.raises(ValueError, match=r"id 128266 at index 11 \(frame 1, position 4\)"):
        orpheus_ids_to_codes(broken)
    skipped = orpheus_ids_to_codes(broken, skip_invalid_frames=True)
    assert skipped.skipped_frames == 1
    assert skipped.codes[0].tolist() == [want[0][0], *want[0][2:]]
    with pytest.raises(ValueError, match="id 5 at index 0"):
        orpheus_ids_to_codes([5, *speech])  # text before the speech, with no start-of-speech


# --- bad input: one line, exit status 2, nothing written -----------------------------------------------


def assert_refused(result: subprocess.CompletedProcess, out: Path, *words: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert not out.exists()


def run_export_main(capsys, *args: str) -> subprocess.CompletedProcess:
    """`snac-hf export` in this process (as fast as a test can ask it), as a CompletedProcess."""
    return run_here(capsys, "export", "--format", "orpheus", *args)


def test_bad_inputs_are_one_line_and_write_nothing(tokens, text_tokenizer, tmp_path, capsys):
    from snac_hf.bpe.synthetic import write_synthetic_token_set
    from snac_hf.layout import layout_for

    out = tmp_path / "out"
    base = ["--text_tokenizer", str(text_tokenizer), "--output_dir", str(out)]
    no_text = run_export_main(capsys, "--tokens", str(tokens), "--text_column", "text", *base)
    assert_refused(no_text, out, "no column 'text'", "--keep_columns text")

    khz32 = write_synthetic_token_set(tmp_path / "khz32", layout_for("snac_32khz"), 3)
    other_codec = run_export_main(capsys, "--tokens", str(khz32), "--text_column", TEXT_COLUMN, *base)
    assert_refused(other_codec, out, "32000 Hz", "4 scales", "only for SNAC 24 kHz")

    from snac_hf.tokenset.schema import rows_to_table, shard_name, write_parquet

    misaligned = tmp_path / "misaligned"  # 12 codes of scale 2 need 3 of scale 0 and 6 of scale 1
    row = {"id": "odd", "file_path": "odd.wav", "duration": 0.26, "codes": [[1, 2], [3] * 6, [4] * 12]}
    table = rows_to_table([row], 3).append_column(TEXT_COLUMN, pa.array(["some text"], pa.string()))
    write_parquet(table, misaligned / shard_name(0, 1))
    damaged = run_export_main(capsys, "--tokens", str(misaligned), "--text_column", TEXT_COLUMN, *base)
    assert_refused(damaged, out, "'odd'", "misaligned scale lengths (2, 6, 12)")

    stretched = tmp_path / "stretched"  # 8 codes of scale 2 are 0.15-0.17 s of audio, not 1.7 s
    row = {"id": "long", "file_path": "long.wav", "duration": 1.7, "codes": [[1, 2], [3] * 4, [4] * 8]}
    table = rows_to_table([row], 3).append_column(TEXT_COLUMN, pa.array(["some text"], pa.string()))
    write_parquet(table, stretched / shard_name(0, 1))
    wrong_duration = run_export_main(capsys, "--tokens", str(stretched), "--text_column", TEXT_COLUMN, *base)
    assert_refused(wrong_duration, out, "long", "duration")

    broken = tmp_path / "broken_tok"
    broken.mkdir()
    (broken / "tokenizer.json").write_text("{not json")
    (broken / "tokenizer_config.json").write_text("{}")
    unreadable = run_export_main(
        capsys, "--tokens", str(tokens), "--text_column", TEXT_COLUMN, "--text_tokenizer", str(broken),
        "--output_dir", str(out),
    )  # fmt: skip
    assert_refused(unreadable, out, "not a readable tokenizer folder")

    hub = run_export_main(
        capsys, "--tokens", str(tokens), "--text_column", TEXT_COLUMN, "--text_tokenizer",
        "meta-llama/Llama-3.2-3B-Instruct", "--output_dir", str(out),
    )  # fmt: skip
    assert_refused(hub, out, "hf download meta-llama/Llama-3.2-3B-Instruct --local-dir DIR")

    speaker = run_export_main(
        capsys, "--tokens", str(tokens), "--text_column", TEXT_COLUMN, "--speaker_column", "voice", *base
    )
    assert_refused(speaker, out, "--speaker_column voice")
    too_short = run_export_main(
        capsys, "--tokens", str(tokens), "--text_column", TEXT_COLUMN, "--max_length", "7", *base
    )
    assert_refused(too_short, out, "--max_length 7")
    nothing = run_export_main(
        capsys, "--tokens", str(tokens), "--text_column", TEXT_COLUMN, "--max_length", "20", *base
    )
    assert_refused(nothing, out, "nothing to export", "9 longer than --max_length")


def test_the_output_folder_is_never_replaced_by_surprise(tokens, text_tokenizer, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["--tokens", str(tokens), "--text_column", TEXT_COLUMN, "--text_tokenizer", str(text_tokenizer)]
    assert run_export_main(capsys, *args, "--output_dir", str(out)).returncode == 0
    again = run_export_main(capsys, *args, "--output_dir", str(out))
    assert again.returncode == 2 and "--overwrite" in again.stderr and "nothing was changed" in again.stderr
    (out / "notes.txt").write_text("mine")
    assert (
        run_export_main(
            capsys, *args, "--output_dir", str(out), "--max_length", "300", "--overwrite"
        ).returncode
        == 0
    )
    assert (out / "notes.txt").read_text() == "mine"  # the user's file stays
    assert json.loads((out / "export.json").read_text())["max_length"] == 300
    (out / "data" / "mine.parquet").write_text("not ours")
    blocked = run_export_main(capsys, *args, "--output_dir", str(out), "--overwrite")
    assert blocked.returncode == 2 and "data/mine.parquet" in blocked.stderr
    assert json.loads((out / "export.json").read_text())["max_length"] == 300  # nothing was changed
    into_tokens = run_export_main(capsys, *args, "--output_dir", str(tokens / "orpheus"))
    assert into_tokens.returncode == 2 and "token set" in into_tokens.stderr
    assert not (tokens / "orpheus").exists()


def test_export_overwrite_never_removes_through_a_link_or_by_a_planted_record(
    tokens, text_tokenizer, tmp_path, capsys
):
    """Issue 30 item 6, for the export: a valid record naming `sub/f` (`sub` a link to a folder
    outside) and a hand-made record naming the user's file; `--overwrite` removes neither."""
    import hashlib

    from snac_hf.tokenset.ownership import STATE_DIR, WRITTEN_DIR, record_written

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f").write_text("precious")
    out = tmp_path / "out"
    args = ["--tokens", str(tokens), "--text_column", TEXT_COLUMN, "--text_tokenizer", str(text_tokenizer)]
    assert run_export_main(capsys, *args, "--output_dir", str(out)).returncode == 0
    (out / "sub").symlink_to(outside)
    record_written(out, ["sub/f"])
    (out / "notes.txt").write_text("mine")
    digest = hashlib.sha256(json.dumps(["notes.txt"]).encode()).hexdigest()[:24]
    (out / STATE_DIR / WRITTEN_DIR / f"{digest}.json").write_text(json.dumps({"paths": ["notes.txt"]}))
    assert run_export_main(capsys, *args, "--output_dir", str(out), "--overwrite").returncode == 0
    assert (outside / "f").read_text() == "precious" and (out / "notes.txt").read_text() == "mine"


def test_decode_orpheus_ids_to_audio(exported, fitted_model, tmp_path, capsys):
    from snac_hf.cli.decode import main
    from snac_hf.codec.decode import codes_to_audio
    from snac_hf.codec.load import load_codec
    from snac_hf.sources.audio import decode_audio

    row = load_dataset(str(exported), split="train")[0]
    (tmp_path / "ids.json").write_text(json.dumps([{"id": "a", "input_ids": row["input_ids"]}]))
    args = ["--format", "orpheus", "--ids", str(tmp_path / "ids.json"), "--model", str(fitted_model)]
    assert main([*args, "--out_dir", str(tmp_path / "wavs")]) == 0
    codes = orpheus_ids_to_codes(row["input_ids"]).codes
    audio = decode_audio({"path": str(tmp_path / "wavs" / "a.wav"), "bytes": None}, 24000)
    assert np.array_equal(audio, codes_to_audio(load_codec(str(fitted_model)), codes))

    bad = list(row["input_ids"])
    bad[-5] = 7  # a text id inside the speech
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    capsys.readouterr()
    bad_args = ["--format", "orpheus", "--ids", str(tmp_path / "bad.json"), "--model", str(fitted_model)]
    assert main([*bad_args, "--out_dir", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "position 4" in err[0] and "id 7 " in err[0]
    assert not (tmp_path / "none").exists()
    assert main([*bad_args, "--out_dir", str(tmp_path / "skip"), "--skip_invalid_frames"]) == 0
    assert "skipped 1 frame(s)" in capsys.readouterr().err


def test_the_export_package_loads_without_torch():
    code = (
        "import sys, importlib, pkgutil\n"
        "sys.modules['torch'] = None\n"
        "import snac_hf.export\n"
        "for m in pkgutil.iter_modules(snac_hf.export.__path__):\n"
        "    importlib.import_module('snac_hf.export.' + m.name)\n"
        "assert 'torch' not in {m.split('.')[0] for m, v in sys.modules.items() if v is not None}\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]


# --- two processes for the tokenize step; slow: every bundled file, the example ----------------------


def test_two_process_tokenize_then_export_equals_the_plain_layout(
    transcribed_audio, fitted_model, text_tokenizer, tokens, tmp_path
):
    """A real 2-rank `accelerate launch` (gloo on CPU) of the tokenize step writes the shards that
    one process writes (the `tokens` fixture: the same command), then the export."""
    launcher = (sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2")
    launcher += ("--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no")
    one = tokens
    tokens = tmp_path / "tokens"
    result = run_script(
        *tokenize_args(transcribed_audio, fitted_model, tokens), launcher=launcher, env=ONE_THREAD
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "10 files encoded" in result.stdout  # the whole job's count, printed once
    assert json.loads((tokens / "metadata.json").read_text())["settings"]["num_processes"] == 2
    # float32 codes with one thread per process (ONE_THREAD) do not depend on which rank encodes a
    # file nor on the batch it shares: the same shard names, the same tables value for value
    from test_tokenize_cli import assert_same_shards

    assert_same_shards(tokens, one)
    out = tmp_path / "orpheus"
    result = export_cli(
        "--tokens", str(tokens), "--text_column", TEXT_COLUMN, "--text_tokenizer", str(text_tokenizer),
        "--speaker_column", "speaker", "--num_proc", "2", "--output_dir", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows, _ = check_against_reference(tokens, out, text_tokenizer, speaker="speaker")
    assert len(rows) == 9


def transcribed_copy(
    speech_token_set: Path, folder: Path, names: set[str] | None = None, speakers: dict | None = None
) -> Path:
    """The shared speech token set (its rows named in `names`, default all) with the manifest's
    transcripts and speakers (`speakers` overrides some) added as columns, written into `folder`."""
    from snac_hf.tokenset.schema import METADATA_FILE

    texts = {row["file"]: row["text"] for row in manifest()}
    speakers = {**{row["file"]: row["speaker"] for row in manifest()}, **(speakers or {})}
    (folder / "data").mkdir(parents=True)
    if names is None:  # a part of the set would contradict its metadata.json: plain Parquet then
        shutil.copy(speech_token_set / METADATA_FILE, folder / METADATA_FILE)
    for shard in sorted((speech_token_set / "data").glob("*.parquet")):
        table = pq.read_table(shard).replace_schema_metadata(None)  # features: from the Arrow types
        file_names = [Path(i).name for i in table.column("id").to_pylist()]
        keep = pa.array([names is None or n in names for n in file_names])
        table = table.append_column(TEXT_COLUMN, pa.array([texts[n] for n in file_names], pa.string()))
        table = table.append_column("speaker", pa.array([speakers[n] for n in file_names], pa.string()))
        if table.filter(keep).num_rows:
            pq.write_table(table.filter(keep), folder / "data" / shard.name)
    return folder


@pytest.mark.slow
def test_every_bundled_file_round_trips(speech_token_set, text_tokenizer, tmp_path):
    """All 40 recordings (the shared speech token set, with the manifest's transcripts added)."""
    transcribed = transcribed_copy(speech_token_set, tmp_path / "tokens")
    source = token_rows(transcribed)
    assert len(source) == 40
    out = tmp_path / "orpheus"
    export_orpheus(str(transcribed), out, ExportSettings(TEXT_COLUMN, str(text_tokenizer)))
    rows, summary = check_against_reference(transcribed, out, text_tokenizer)
    assert len(rows) == 40 and summary["counts"]["rows_written"] == 40
    for file_id, row in rows.items():
        found = orpheus_ids_to_codes(row["input_ids"])
        assert [c.tolist() for c in found.codes] == codes_of(source[file_id], padding=True)


# --- upstream parity: Orpheus' published data prep, re-implemented here from its text ----------------


def notebook_prep_row(samples: np.ndarray, text: str, tokenizer_dir: Path, model) -> list[int]:
    """One row as the Orpheus fine-tuning notebook's prep makes it, re-implemented from its text
    (unslothai/notebooks `nb/Orpheus_(3B)-TTS.ipynb`, commit 087dc8d, the "Finetuning with unsloth"
    notebook that Orpheus-TTS' README links; Canopy's own Colab prep, README "We prepare the data
    using this notebook", is the same recipe):

        codes = snac_model.encode(waveform)                   # the whole file, one call
        for i in range(codes[0].shape[1]):                    # every frame SNAC returns
            all_codes.append(codes[0][0][i].item()+128266)
            all_codes.append(codes[1][0][2*i].item()+128266+4096)  ... (7 per frame)
        text_ids = tokenizer.encode(text_prompt, add_special_tokens=True); text_ids.append(end_of_text)
        input_ids = [start_of_human] + text_tokens + [end_of_human] + [start_of_ai]
                    + [start_of_speech] + codes_list + [end_of_speech] + [end_of_ai]

    SNAC right-pads the input to a multiple of 2048 samples, so `codes[0].shape[1]` is
    ceil(n / 2048): the last frame's codes past the audio are SNAC's codes over that padding.
    One deviation, named: the notebook then drops every frame whose first code repeats the
    previous frame's (`remove_duplicate_frames`, Orpheus issue #122); snac_hf never does, so
    neither does this reference. Its resampling (torchaudio `Resample`) is left out: both sides
    get the same 24 kHz samples. Written here with plain loops, from the text above."""
    import torch

    with torch.inference_mode():
        codes = model.encode(torch.from_numpy(samples).to(torch.float64).view(1, 1, -1))
    c0, c1, c2 = (c[0].tolist() for c in codes)
    speech = []
    for i in range(len(c0)):
        frame = [c0[i], c1[2 * i], c2[4 * i], c2[4 * i + 1], c1[2 * i + 1], c2[4 * i + 2], c2[4 * i + 3]]
        speech += [code + 128266 + p * 4096 for p, code in enumerate(frame)]
    text_tokens = text_ids(tokenizer_dir, text) + [128009]
    return [128259, *text_tokens, 128260, 128261, 128257, *speech, 128258, 128262]


def check_notebook_parity(speech_token_set, fitted_model, text_tokenizer, folder: Path, names=None) -> int:
    """`export --format orpheus` (defaults) of the speech token set (tokenize's defaults, `--exact`:
    float64) equals `notebook_prep_row` (SNAC's float64 encode of each whole file) on every row,
    its last frame included; returns the rows compared."""
    import torch

    from snac_hf.codec.encode import model_on
    from snac_hf.codec.load import load_codec
    from snac_hf.sources.audio import decode_audio

    transcribed = transcribed_copy(speech_token_set, folder / "tokens", names)
    out = folder / "orpheus"
    result = export_cli(
        "--tokens", str(transcribed), "--text_column", TEXT_COLUMN, "--text_tokenizer", str(text_tokenizer),
        "--output_dir", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    model = model_on(load_codec(str(fitted_model)), torch.device("cpu"), torch.float64)
    texts = {row["file"]: row["text"] for row in manifest()}
    rows = load_dataset(str(out), split="train")
    for row in rows:
        name = Path(row["id"]).name
        samples = decode_audio({"path": str(SPEECH / name), "bytes": None}, 24000)
        assert row["input_ids"] == notebook_prep_row(samples, texts[name], text_tokenizer, model), name
    return len(rows)


def test_export_equals_the_notebook_prep_last_frame_included(
    speech_token_set, fitted_model, text_tokenizer, tmp_path
):
    """Four files: the two longest (7.1 and 6.9 s: longer than a 4 s segment, so tokenize's default
    context is what makes their codes the whole file's) and two short ones whose last frame is
    partial (so its padding codes are needed)."""
    short = [r for r in token_rows(speech_token_set).values() if r["duration"] < 2 and r["padding_scale_2"]]
    names = {"en_000_sense_and_sensibility_01_austen_64kb-0870.flac", "ru_035_tt-allbusy.flac"}
    names |= {Path(r["id"]).name for r in short[:2]}
    assert check_notebook_parity(speech_token_set, fitted_model, text_tokenizer, tmp_path, names) == 4


@pytest.mark.slow
@pytest.mark.exhaustive  # test_export_equals_the_notebook_prep_last_frame_included makes the proof on 4 files
def test_export_equals_the_notebook_prep_on_every_bundled_file(
    speech_token_set, fitted_model, text_tokenizer, tmp_path
):
    assert check_notebook_parity(speech_token_set, fitted_model, text_tokenizer, tmp_path) == 40


@pytest.mark.slow
@pytest.mark.parametrize(
    "multipack",
    # the multipacked run does all the plain run does (it scores and generates from the plain
    # rows) and trains on blocks; training on the plain rows alone runs under `make soak`
    # (each training step computes logits over 156,940 ids for every id of a block: blocks of at
    # most 512 ids and 10 steps keep it to seconds)
    [pytest.param(None, marks=pytest.mark.exhaustive), "512"],
)
def test_finetune_orpheus_example(tokens, tmp_path, multipack):
    result = run_script(
        "examples/finetune_orpheus.py", "--tokens", str(tokens), "--text_column", TEXT_COLUMN,
        "--output_dir", str(tmp_path / "ft"), "--steps", "10",
        *(["--multipack", multipack] if multipack else []),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "ft" / "summary.json").read_text())
    if multipack:  # trained on fewer, multipacked blocks of the same 9 rows
        assert 0 < summary["training_blocks"] < summary["rows"] == 9
    assert summary["loss_after"] < summary["loss_before"]
    assert summary["vocab_size"] == 156_940
    frames = summary["generated_frames"]
    assert frames > 0 and [len(c) for c in summary["generated_codes"]] == [frames, 2 * frames, 4 * frames]


# --- issue 30: unfinished token sets, finished exports, one export per folder, one-line failures --------


def unfinished_copy(tokens: Path, target: Path) -> Path:
    """The token set as tokenize leaves it when killed after 2 of its 3 units: no metadata.json,
    card or errors.jsonl yet, the third unit's record and shard not written."""
    from snac_hf.tokenset.integrity import UNITS_DIR

    shutil.copytree(tokens, target)
    for name in ("metadata.json", "README.md", "errors.jsonl", "skipped.jsonl"):
        (target / name).unlink(missing_ok=True)
    record = target / UNITS_DIR / "00002.json"
    (target / json.loads(record.read_text())["shard"]).unlink()
    record.unlink()
    return target


def one_error_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_an_unfinished_token_set_is_refused_by_every_reader_or_taken_with_allow_partial(
    tokens, text_tokenizer, tmp_path, capsys
):
    from snac_hf.tokenset.load import open_token_set

    partial = unfinished_copy(tokens, tmp_path / "partial")
    out = tmp_path / "out"
    args = ["--tokens", str(partial), "--text_column", TEXT_COLUMN, "--text_tokenizer", str(text_tokenizer)]
    line = one_error_line(run_export_main(capsys, *args, "--output_dir", str(out)))
    assert "tokenize wrote 2 of 3 units" in line and "rerun the same tokenize command to finish it" in line
    assert "--allow_partial" in line and not out.exists()
    for command, extra in (("analyze", []), ("train-bpe", ["--output_dir", str(tmp_path / "bpe")])):
        line = one_error_line(run_here(capsys, command, "--tokens", str(partial), *extra))
        assert "2 of 3 units" in line and "rerun the same tokenize command to finish it" in line, command
    assert not (partial / "analysis.json").exists() and not (tmp_path / "bpe").exists()
    from snac_hf.tokenset.completeness import UnfinishedTokenSetError

    with pytest.raises(UnfinishedTokenSetError, match="2 of 3 units"):
        open_token_set(str(partial))
    taken = run_export_main(capsys, *args, "--output_dir", str(out), "--allow_partial")
    assert taken.returncode == 0, taken.stderr
    assert "partial: the token set is unfinished; 2 of 3 units exported" in taken.stdout
    summary = json.loads((out / "export.json").read_text())
    assert summary["token_set_partial"] == {"partial": True, "units_done": 2, "units_total": 3}
    assert summary["counts"]["files"] == 8 and "2 of 3 of its units" in (out / "README.md").read_text()


def test_finishing_a_set_drops_the_analysis_of_its_earlier_state(
    tokens, transcribed_audio, fitted_model, tmp_path, capsys
):
    """An analysis (and card section) of 8 files must not survive on the finished 10-file set when
    the resume runs with --no_analysis."""
    from snac_hf.analysis.api import analyze, write_card_section, write_reports

    partial = unfinished_copy(tokens, tmp_path / "partial")
    analysis = analyze(str(partial / "data" / "*.parquet"))
    assert analysis["files"] == 8
    write_reports(analysis, str(partial), plots=False)
    write_card_section(analysis, str(partial))
    assert "snac_hf:analysis:start" in (partial / "README.md").read_text()
    resumed = run_here(capsys, "tokenize", *tokenize_args(transcribed_audio, fitted_model, partial)[1:])
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming: 2 of 3 units done" in resumed.stderr
    assert json.loads((partial / "metadata.json").read_text())["files_processed"] == 10
    assert not (partial / "analysis.json").exists() and not (partial / "analysis.md").exists()
    assert "snac_hf:analysis" not in (partial / "README.md").read_text()


def test_export_json_comes_last_and_readers_check_the_shards_against_it(exported, tmp_path, capsys):
    from snac_hf.tokenset.json_files import DamagedInputError
    from snac_hf.tokenset.load import open_dataset

    summary = json.loads((exported / "export.json").read_text())
    listed = [entry["path"] for entry in summary["shard_files"]]
    assert listed == sorted(p.relative_to(exported).as_posix() for p in (exported / "data").glob("*.parquet"))
    assert len(open_dataset(str(exported))) == summary["counts"]["rows_written"]

    stopped = Path(shutil.copytree(exported, tmp_path / "stopped"))
    (stopped / "export.json").unlink()  # killed between its last rename and export.json
    missing = Path(shutil.copytree(exported, tmp_path / "missing"))
    (missing / listed[0]).unlink()
    changed = Path(shutil.copytree(exported, tmp_path / "changed"))
    table = pq.read_table(changed / listed[-1])
    pq.write_table(table.slice(0, table.num_rows - 1), changed / listed[-1])
    for folder, words in (
        (stopped, "an unfinished export (no export.json"),
        (missing, f"{listed[0]} is missing"),
        (changed, f"{listed[-1]} changed after the export wrote it"),
    ):
        with pytest.raises(DamagedInputError, match=re.escape(words)):
            open_dataset(str(folder))
        decoded = run_here(
            capsys,
            "decode",
            "--dataset",
            str(folder),
            "--format",
            "orpheus",
            "--out_dir",
            str(tmp_path / "w"),
        )
        assert words in one_error_line(decoded)
    assert not (tmp_path / "w").exists()


def test_an_export_takes_the_folder_lock(tokens, text_tokenizer, tmp_path, capsys):
    from snac_hf.job.folder_lock import FolderLock  # the lock a tokenize run holds

    out = tmp_path / "out"
    args = ["--tokens", str(tokens), "--text_column", TEXT_COLUMN, "--text_tokenizer", str(text_tokenizer)]
    lock = FolderLock.acquire(out)  # another export (or tokenize) writing there
    try:
        line = one_error_line(run_export_main(capsys, *args, "--output_dir", str(out), "--overwrite"))
        assert "is being written by another snac_hf run" in line and list(out.iterdir()) == []
    finally:
        lock.release()
    assert run_export_main(capsys, *args, "--output_dir", str(out)).returncode == 0
    assert not list((out / ".snac_hf").glob("*.partial"))


def test_columns_of_the_row_are_refused_as_text_or_speaker(tokens, text_tokenizer, tmp_path, capsys):
    out = tmp_path / "out"
    base = ["--tokens", str(tokens), "--text_tokenizer", str(text_tokenizer), "--output_dir", str(out)]
    for extra, words in (
        (["--text_column", "id"], "--text_column id: 'id' is a column of every exported row"),
        (["--text_column", TEXT_COLUMN, "--speaker_column", "id"], "--speaker_column id: 'id' is a column"),
        (["--text_column", TEXT_COLUMN, "--speaker_column", TEXT_COLUMN], "is also the --text_column"),
    ):
        assert_refused(run_export_main(capsys, *base, *extra), out, words)


def test_a_dying_export_worker_is_one_line_naming_the_shards(tokens, text_tokenizer, tmp_path):
    """A worker killed (SIGKILL, as the OOM killer does) while the export runs with --num_proc 3."""
    out = tmp_path / "out"
    command = [
        sys.executable, "scripts/export.py", "--format", "orpheus", "--tokens", str(tokens), "--text_column",
        TEXT_COLUMN, "--text_tokenizer", str(text_tokenizer), "--num_proc", "3", "--output_dir", str(out),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and process.poll() is None and time.monotonic() < deadline:
        for pid in spawned_workers(process.pid):
            os.kill(pid, signal.SIGKILL)
            killed = pid
            break
        time.sleep(0.02)
    stdout, stderr = process.communicate(timeout=120)
    assert killed is not None, "no worker process was seen"
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    line = one_error_line(result)
    assert "an export worker process died" in line and "data/train-" in line and str(tokens) in line
    assert not out.exists()


def spawned_workers(parent: int) -> list[int]:
    """The multiprocessing worker processes (not its resource tracker) whose parent is `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and "spawn_main" in cmdline and "resource_tracker" not in cmdline:
            found.append(int(entry.name))
    return found


def test_a_tokenizer_folder_with_its_own_code_is_refused_without_a_prompt(tokens, text_tokenizer, tmp_path):
    """Issue 30 item 8: an `auto_map` in tokenizer_config.json; answering y to transformers' prompt
    used to run the folder's Python. Now: one line, no prompt, the code never runs."""
    folder = Path(shutil.copytree(text_tokenizer, tmp_path / "custom"))
    marker = tmp_path / "MARKER"
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config.update(tokenizer_class="EvilTokenizer", auto_map={"AutoTokenizer": [None, "evil.EvilTokenizer"]})
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    (folder / "evil.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
        "from transformers import PreTrainedTokenizerFast\n"
        "class EvilTokenizer(PreTrainedTokenizerFast):\n    pass\n"
    )
    out = tmp_path / "out"
    result = export_cli(
        "--tokens", str(tokens), "--text_column", TEXT_COLUMN, "--text_tokenizer", str(folder),
        "--output_dir", str(out), input="y\n",
    )  # fmt: skip
    assert "auto_map" in one_error_line(result) and "[y/N]" not in result.stdout + result.stderr
    assert not marker.exists() and not out.exists()
