"""Splits as the Hub knows them (issue 31, item 1): `tokenize --split train validation` writes
`data/{split}-NNNNN-of-NNNNN.parquet`, `load_dataset(folder)` returns both by name, a split added by
a later run joins them, analysis and BPE training read the split they are given, and export
carries every split through under its name."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from datasets import DatasetDict, load_dataset

from snac_hf.tokenset.load import open_token_set
from tests.conftest import SHORT_SPEECH, SPEECH, run_here

#: split -> its recordings (the short ones: seconds of encoding)
SPLITS = {"train": SHORT_SPEECH[:3], "validation": SHORT_SPEECH[3:]}


def transcripts() -> dict[str, str]:
    with open(SPEECH / "manifest.tsv", newline="", encoding="utf-8") as f:
        return {row["file"]: row["text"] for row in csv.DictReader(f, delimiter="\t")}


@pytest.fixture(scope="module")
def split_audio(tmp_path_factory) -> Path:
    """An audiofolder with `train/` and `validation/` (its splits, as `load_dataset` names them), each
    with a metadata.csv of transcripts, and a `test/` folder outside it for a later run."""
    root = tmp_path_factory.mktemp("split_audio")
    text = transcripts()
    for split, names in {**SPLITS, "extra": SHORT_SPEECH[:1]}.items():
        folder = root / ("audio" if split != "extra" else "more") / (split if split != "extra" else "test")
        folder.mkdir(parents=True)
        with open(folder / "metadata.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["file_name", "text"])
            for name in names:
                shutil.copy(SPEECH / name, folder / name)
                writer.writerow([name, text[name]])
    return root


def tokenize(capsys, *args: str):
    return run_here(capsys, "tokenize", "--segment_length", "1", "--no_progress", "--no_analysis", *args)


def test_splits_round_trip_through_load_dataset_analysis_bpe_and_export(
    capsys, split_audio, fitted_model, tmp_path
):
    tokens = tmp_path / "tokens"
    common = ("--model", str(fitted_model), "--keep_columns", "text", "--output_dir", str(tokens))
    audio = str(split_audio / "audio")
    result = tokenize(capsys, "--dataset", audio, "--split", "train", "validation", *common)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tokens / "data").iterdir()) == [
        "train-00000-of-00001.parquet",
        "validation-00000-of-00001.parquet",
    ]
    # load_dataset names the splits from the shard names, as the Hub does
    loaded = load_dataset(str(tokens))
    assert isinstance(loaded, DatasetDict) and sorted(loaded) == ["train", "validation"]
    for split, names in SPLITS.items():
        assert sorted(loaded[split]["text"]) == sorted(transcripts()[n] for n in names)
        assert len(open_token_set(str(tokens), split)) == len(names)
    meta = json.loads((tokens / "metadata.json").read_text())
    assert meta["files_processed"] == 5 and meta["num_shards"] == 2  # the whole set, as before
    assert {s: v["files_processed"] for s, v in meta["splits"].items()} == {"train": 3, "validation": 2}
    assert "| validation | 2 | 0 | 0 |" in (tokens / "README.md").read_text()

    # a later run adds a split beside the others; rerunning one resumes it
    more = str(split_audio / "more")
    result = tokenize(capsys, "--dataset", more, "--split", "test", *common)
    assert result.returncode == 0, result.stderr
    assert sorted(load_dataset(str(tokens))) == ["test", "train", "validation"]
    assert json.loads((tokens / "metadata.json").read_text())["splits"]["test"]["files_processed"] == 1
    result = tokenize(capsys, "--dataset", audio, "--split", "validation", *common)
    assert "nothing left to encode" in result.stderr and len(load_dataset(str(tokens))["validation"]) == 2
    with pytest.raises(ValueError, match=r"no split 'dev' .*its splits: train, test, validation"):
        open_token_set(str(tokens), "dev")

    # analysis, BPE and export read the chosen split
    reports = tmp_path / "reports"
    result = run_here(
        capsys, "analyze", "--tokens", str(tokens), "--split", "validation", "--report_dir", str(reports),
        "--quiet", "--no_plots",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads((reports / "analysis.json").read_text())["files"] == 2
    bpe = tmp_path / "bpe"
    result = run_here(
        capsys, "train-bpe", "--tokens", str(tokens), "--split", "validation", "--variant", "plain",
        "--num_merges", "4", "--output_dir", str(bpe),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads((bpe / "training.json").read_text())["corpus"]["files_total"] == 2
    from tests.test_export import train_text_tokenizer

    text_tokenizer = train_text_tokenizer(tmp_path / "text_tokenizer")
    exported = tmp_path / "orpheus"
    result = run_here(
        capsys, "export", "--format", "orpheus", "--tokens", str(tokens), "--text_column", "text",
        "--text_tokenizer", str(text_tokenizer), "--output_dir", str(exported),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr  # every split carried through, each by its name
    assert {name: len(rows) for name, rows in load_dataset(str(exported)).items()} == {
        "train": 3, "validation": 2, "test": 1
    }  # fmt: skip
    summary = json.loads((exported / "export.json").read_text())
    assert summary["counts"]["rows_written"] == 6 and summary["splits"]["validation"]["shards"] == 1
    assert "validation (2 rows)" in (exported / "README.md").read_text()
    one = tmp_path / "orpheus_test"
    result = run_here(
        capsys, "export", "--format", "orpheus", "--tokens", str(tokens), "--text_column", "text",
        "--text_tokenizer", str(text_tokenizer), "--output_dir", str(one), "--split", "test",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (one / "data").iterdir()) == ["test-00000-of-00001.parquet"]
