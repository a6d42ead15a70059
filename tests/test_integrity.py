"""Damaged token-set folders are refused by every reader, naming the damage, from the footers alone;
intact ones and plain Parquet folders without metadata.json are read as before."""

from __future__ import annotations

import json
import re
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import run_script, run_script_here

from snac_hf.analysis import analyze
from snac_hf.bpe.synthetic import write_synthetic_token_set
from snac_hf.layout import CodecLayout, layout_for
from snac_hf.tokenset.integrity import check_token_set, file_sha256
from snac_hf.tokenset.json_files import DamagedInputError, read_json
from snac_hf.tokenset.load import open_token_set
from snac_hf.tokenset.schema import parquet_files, rows_to_table, shard_name, write_parquet

SHARD_1 = "data/train-00001-of-00003.parquet"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, short_speech_dir, fitted_model):
    """Five real recordings tokenized by the real pipeline, two files per unit: shards of 2, 2, 1 rows."""
    from snac_hf.codec.load import load_codec
    from snac_hf.job.pipeline import TokenizeSettings, tokenize_dataset
    from snac_hf.sources.folder import folder_dataset

    out = tmp_path_factory.mktemp("integrity") / "tokens"
    settings = TokenizeSettings(files_per_shard=2)
    tokenize_dataset(folder_dataset(str(short_speech_dir)), load_codec(str(fitted_model)), str(out), settings)
    return out


@pytest.fixture
def tokens(pristine, tmp_path):
    """A copy of the token set to damage."""
    return shutil.copytree(pristine, tmp_path / "tokens")


def one_line_error(result) -> str:
    """The CLI's error: exit status 2, one `error:` line, no traceback."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_an_intact_set_is_read_from_its_footers(pristine):
    footers = check_token_set(pristine)
    meta = json.loads((pristine / "metadata.json").read_text())
    assert [f.rows for f in footers] == [2, 2, 1] and (meta["files_processed"], meta["num_shards"]) == (5, 3)
    assert len({f.digest for f in footers}) == 3
    assert len(open_token_set(str(pristine))) == 5


READERS = {  # each command with TOKENS and OUT to fill in
    "analyze": "scripts/analyze.py --output_dir TOKENS --quiet --no_plots",
    "train_bpe": "scripts/train_bpe.py --tokens TOKENS --num_merges 10 --output_dir OUT",
    "compare_bpe": "scripts/compare_bpe.py --tokens TOKENS --num_merges 10 --output_dir OUT",
    "evaluate_lm": "scripts/evaluate_lm.py --tokens TOKENS --steps 1 --output_dir OUT",
    "decode": "scripts/decode.py --dataset TOKENS --model unused --out_dir OUT",
    "tokenize --analyze_only": "scripts/tokenize.py --analyze_only --output_dir TOKENS",
}


@pytest.mark.parametrize("reader", READERS)
def test_every_reader_refuses_a_set_that_lost_a_shard(tokens, tmp_path, reader):
    (tokens / SHARD_1).unlink()
    command = READERS[reader].replace("TOKENS", str(tokens)).replace("OUT", str(tmp_path / "out"))
    line = one_line_error(run_script(*command.split()))
    assert f"{SHARD_1} is missing (.snac_hf/units/00001.json says it holds 2 rows)" in line
    assert "metadata.json says 3 shards, data/ holds 2" in line
    assert "run the same scripts/tokenize.py command again" in line


def test_an_extra_shard_is_named(tokens):
    shutil.copy(tokens / SHARD_1, tokens / "data" / "train-00007-of-00009.parquet")
    with pytest.raises(DamagedInputError, match="train-00007-of-00009.parquet belongs to no unit record"):
        analyze(str(tokens))
    with pytest.raises(DamagedInputError, match="metadata.json says 5 files, the shards hold 7 rows"):
        open_token_set(str(tokens))


def test_truncated_and_empty_shards_are_one_line_errors(tokens, tmp_path):
    data = (tokens / SHARD_1).read_bytes()
    (tokens / SHARD_1).write_bytes(data[: len(data) // 2])
    table = pq.read_table(tokens / "data" / "train-00002-of-00003.parquet")
    pq.write_table(table.slice(0, 0), tokens / "data" / "train-00002-of-00003.parquet")
    line = one_line_error(run_script("scripts/analyze.py", "--output_dir", str(tokens), "--quiet"))
    assert f"{tokens / SHARD_1}: unreadable Parquet file" in line
    assert "train-00002-of-00003.parquet: holds no rows" in line
    # the same files given by glob (no completeness check, but each file must be usable)
    glob = str(tokens / "data" / "*.parquet")
    line = one_line_error(
        run_script("scripts/analyze.py", "--tokens", glob, "--report_dir", str(tmp_path / "r"))
    )
    assert "unreadable Parquet file" in line and "holds no rows" in line


def test_a_shard_with_other_rows_than_its_record(tokens):
    table = pq.read_table(tokens / SHARD_1)
    write_parquet(table.slice(0, 1), tokens / SHARD_1)
    with pytest.raises(DamagedInputError, match=f"{SHARD_1} holds 1 rows, its record 00001.json says 2"):
        check_token_set(tokens)


def test_without_unit_records_metadata_counts_decide(tokens):
    shutil.rmtree(tokens / ".snac_hf")  # as pushed to the Hub: no resume state
    check_token_set(tokens)
    (tokens / SHARD_1).unlink()
    with pytest.raises(
        DamagedInputError, match="says 3 shards, data/ holds 2; metadata.json says 5 files, the shards hold 3"
    ):
        open_token_set(str(tokens))
    with pytest.raises(DamagedInputError, match="copy or download the token set again"):
        analyze(str(tokens))


def test_plain_parquet_without_metadata_is_accepted(tokens):
    shutil.rmtree(tokens / ".snac_hf")
    (tokens / "metadata.json").unlink()
    (tokens / SHARD_1).unlink()  # nothing says what should be there
    assert len(open_token_set(str(tokens))) == 3
    assert analyze(str(tokens))["files"] == 3


def test_damaged_json_files_are_named(tokens):
    record = tokens / ".snac_hf" / "units" / "00002.json"
    record.write_text(record.read_text()[:-5])
    with pytest.raises(
        DamagedInputError, match=r"00002\.json: not valid JSON .*delete that file and run the same"
    ):
        check_token_set(tokens)
    (tokens / "metadata.json").write_text('{"files_processed": 5,')
    line = one_line_error(
        run_script(
            "scripts/train_bpe.py", "--tokens", str(tokens), "--output_dir", str(tokens.parent / "tok")
        )
    )
    assert f"{tokens / 'metadata.json'}: not valid JSON" in line
    (tokens / "metadata.json").write_text("[1, 2]")
    with pytest.raises(DamagedInputError, match="metadata.json: expected a JSON object, found a list"):
        analyze(str(tokens))
    (tokens / "x.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(
        DamagedInputError, match=r"x\.json: not a UTF-8 text file \(invalid start byte\); fix it"
    ):
        read_json(tokens / "x.json", "fix it")


def test_metadata_that_contradicts_itself_or_the_shards(tokens):
    meta = json.loads((tokens / "metadata.json").read_text())
    contradictions = {
        "n_scales": lambda m: m["codec"]["layout"].update(n_scales=4),
        "config": lambda m: m["codec"]["config"].update(vq_strides=[8, 4, 1]),
        "four scales": lambda m: m["codec"].update(layout=layout_for("snac_32khz").to_dict(), config=None),
        "codebook": lambda m: m["codec"].update(
            layout={**m["codec"]["layout"], "codebook_size": 16}, config=None
        ),
    }
    messages = {
        "n_scales": r"contradictory codec layout: n_scales is 4, but vq_strides \[4, 2, 1\] give 3",
        "config": "differs from the layout of codec.config",
        "four scales": "has 3 token columns, the layout in metadata.json 4 scales",
        "codebook": r"holds codes \d+\.\.\d+ in tokens_scale_0, outside the codebook 0\.\.15",
    }
    for name, change in contradictions.items():
        edited = json.loads(json.dumps(meta))
        change(edited)
        (tokens / "metadata.json").write_text(json.dumps(edited))
        with pytest.raises(ValueError, match=messages[name]):
            open_token_set(str(tokens))
        with pytest.raises(ValueError, match=messages[name]):
            analyze(str(tokens))


def test_analyze_validates_the_layout_as_train_bpe_does(tmp_path):
    from snac_hf.bpe import train_tokenizer

    layout = layout_for("snac_24khz")
    rows = [{"id": "bad", "file_path": "bad", "duration": 1.0, "codes": [[1, 2], [3], [4, 5, 6, 7]]}]
    write_parquet(rows_to_table(rows, 3), tmp_path / "set" / shard_name(0, 1))
    (tmp_path / "set" / "metadata.json").write_text(json.dumps({"codec": {"layout": layout.to_dict()}}))
    message = r"file 'bad': misaligned scale lengths \(2, 1, 4\): no audio gives these"
    with pytest.raises(ValueError, match=message):
        train_tokenizer(tmp_path / "set", "plain", 5, output_dir=tmp_path / "tok")
    with pytest.raises(ValueError, match=message):
        analyze(str(tmp_path / "set"))
    # strides that are not coarse-to-fine divisors: refused by both before any code is read
    odd = CodecLayout(24000, 512, (4, 3, 1)).to_dict()
    (tmp_path / "set" / "metadata.json").write_text(json.dumps({"codec": {"layout": odd}}))
    for run in (
        lambda: analyze(str(tmp_path / "set")),
        lambda: train_tokenizer(tmp_path / "set", "plain", 5),
    ):
        with pytest.raises(ValueError, match=r"vq_strides \(4, 3, 1\): expected strictly decreasing strides"):
            run()


def test_only_footers_are_read(pristine, monkeypatch):
    """The check reads no data page: it still passes when reading a table is impossible."""

    def refuse(*args, **kwargs):
        raise AssertionError("data was read")

    monkeypatch.setattr(pq.ParquetFile, "read", refuse)
    monkeypatch.setattr(pq.ParquetFile, "iter_batches", refuse)
    monkeypatch.setattr(pq, "read_table", refuse)
    assert sum(f.rows for f in check_token_set(pristine)) == 5
    assert len(parquet_files(pristine)) == 3


# ------------------------------------------------- rows that contradict themselves, swapped shards

ROW_READERS = {  # the readers of rows (tokenize --analyze_only reads them as analyze does)
    name: command for name, command in READERS.items() if name != "tokenize --analyze_only"
}
DURATION_DAMAGE = {  # what one shard's durations become, and what the one error line says
    "x10": (
        lambda d: d * 10,
        r"duration [\d.]+ s is \d+ samples, whose codes per scale are \(\d+, \d+, \d+\)",
    ),
    "-1": (lambda d: -1.0, r"duration -1\.0 s is negative"),
    "NaN": (lambda d: float("nan"), "duration nan is not a finite number of seconds"),
}


def rewrite_column(path, name: str, change) -> None:
    """Rewrite one column of a shard with pyarrow, everything else as it was."""
    table = pq.read_table(path)
    column = table.column(name)
    values = pa.array([change(v) for v in column.to_pylist()], column.type)
    write_parquet(table.set_column(table.schema.get_field_index(name), name, values), path)


@pytest.fixture
def downloaded(tokens):
    """The token set as pushed to the Hub: no resume state, so no shard digests to check."""
    shutil.rmtree(tokens / ".snac_hf")
    return tokens


@pytest.mark.parametrize("reader", ROW_READERS)
def test_every_reader_refuses_durations_that_are_not_those_of_the_codes(downloaded, tmp_path, reader, capsys):
    pristine_shard = (downloaded / SHARD_1).read_bytes()
    for damage, (change, message) in DURATION_DAMAGE.items():
        (downloaded / SHARD_1).write_bytes(pristine_shard)
        rewrite_column(downloaded / SHARD_1, "duration", change)
        out = tmp_path / f"out-{damage}"
        command = ROW_READERS[reader].replace("TOKENS", str(downloaded)).replace("OUT", str(out))
        line = one_line_error(run_script_here(capsys, *command.split()))
        assert re.search(f"{SHARD_1}(: | row 0, )file 'en_007_003.flac': {message}", line), (
            damage,
            line,
        )
        assert line.endswith("restore the token set, or tokenize the audio again (scripts/tokenize.py)")


@pytest.mark.parametrize("reader", ROW_READERS)
def test_every_reader_refuses_n_tokens_that_are_not_the_list_lengths(downloaded, tmp_path, reader, capsys):
    rewrite_column(downloaded / SHARD_1, "n_tokens_scale_1", lambda n: n + 1)
    command = ROW_READERS[reader].replace("TOKENS", str(downloaded)).replace("OUT", str(tmp_path / "out"))
    line = one_line_error(run_script_here(capsys, *command.split()))
    assert re.search(
        f"{SHARD_1}(: | row 0, )file 'en_007_003.flac': n_tokens_scale_1 is (\\d+), but "
        "tokens_scale_1 holds (\\d+) codes",
        line,
    ), line


def test_unit_records_hold_each_shards_sha256(pristine):
    records = [
        json.loads(path.read_text()) for path in sorted((pristine / ".snac_hf" / "units").glob("*.json"))
    ]
    assert [r["sha256"] for r in records] == [file_sha256(pristine / r["shard"]) for r in records]


@pytest.mark.parametrize("reader", ["analyze", "train_bpe", "evaluate_lm"])
def test_a_shard_of_another_set_with_the_same_rows_is_refused(tokens, tmp_path, reader, capsys):
    other = write_synthetic_token_set(tmp_path / "other", layout_for("snac_24khz"), 4, shards=2)
    shutil.copy(parquet_files(other)[0], tokens / SHARD_1)  # 2 rows, as the shard it replaces
    command = READERS[reader].replace("TOKENS", str(tokens)).replace("OUT", str(tmp_path / "out"))
    line = one_line_error(run_script_here(capsys, *command.split()))
    assert (
        f"{SHARD_1} is not the shard tokenize wrote (its sha256 differs from the one in 00001.json)" in line
    )
    assert "restore the shards, or delete the damaged ones and run the same scripts/tokenize.py" in line


def test_swapped_shards_are_refused_and_records_without_digests_accepted(tokens):
    first, second = tokens / "data/train-00000-of-00003.parquet", tokens / SHARD_1
    a, b = first.read_bytes(), second.read_bytes()
    first.write_bytes(b)
    second.write_bytes(a)
    with pytest.raises(DamagedInputError) as error:
        check_token_set(tokens)
    assert "train-00000-of-00003.parquet is not the shard tokenize wrote" in str(error.value)
    assert f"{SHARD_1} is not the shard tokenize wrote" in str(error.value)
    for path in (tokens / ".snac_hf" / "units").glob("*.json"):  # records of an older snac_hf
        record = json.loads(path.read_text())
        del record["sha256"]
        path.write_text(json.dumps(record))
    assert sum(f.rows for f in check_token_set(tokens)) == 5
    first_record = tokens / ".snac_hf" / "units" / "00000.json"
    first_record.write_text(json.dumps({**json.loads(first_record.read_text()), "sha256": "x"}))
    with pytest.raises(DamagedInputError, match=r"00000\.json: 'sha256' is not a hex SHA-256 digest"):
        check_token_set(tokens)


@pytest.mark.parametrize("reader", ["analyze", "export"])
def test_a_glob_of_a_sets_shards_is_checked_against_its_records(tokens, tmp_path, reader, capsys):
    """Issue 30: `TOKENS/data/*.parquet` gets the sha256 check a folder gets (a subset is fine)."""
    from snac_hf.tokenset.integrity import check_parquet_files

    assert [f.rows for f in check_parquet_files([str(tokens / SHARD_1)])] == [2]  # one shard alone
    other = write_synthetic_token_set(tmp_path / "other", layout_for("snac_24khz"), 4, shards=2)
    shutil.copy(parquet_files(other)[0], tokens / SHARD_1)  # 2 rows, as the shard it replaces
    pattern = str(tokens / "data" / "*.parquet")
    with pytest.raises(DamagedInputError, match="is not the shard tokenize wrote"):
        open_token_set(pattern)
    if reader == "analyze":
        line = one_line_error(
            run_script_here(
                capsys, "scripts/analyze.py", "--tokens", pattern, "--report_dir", str(tmp_path / "r")
            )
        )
    else:
        from snac_hf.export import ExportSettings, export_orpheus

        with pytest.raises(DamagedInputError) as error:
            export_orpheus(pattern, tmp_path / "out", ExportSettings("text", str(tmp_path / "no_tokenizer")))
        line = str(error.value)
    assert f"{SHARD_1} is not the shard tokenize wrote" in line


def test_completeness_is_keyed_on_unit_records_and_metadata_of_every_split(tmp_path):
    """Issue 30 item 2: no metadata.json, or fewer records than a split's num_units, is unfinished;
    a split whose run started (`run-SPLIT.json`) but that metadata.json does not list yet too."""
    from snac_hf.tokenset.completeness import UnfinishedTokenSetError, check_finished

    units = tmp_path / ".snac_hf" / "units"
    units.mkdir(parents=True)
    (tmp_path / ".snac_hf" / "run.json").write_text("{}")

    def record(name: str, shard: str) -> None:
        (units / name).write_text(json.dumps({"shard": f"data/{shard}.parquet", "rows": 1}))

    def metadata(**meta) -> None:
        (tmp_path / "metadata.json").write_text(json.dumps(meta))

    assert check_finished(tmp_path / "elsewhere") is None  # no tokenize state: taken as it is
    record("00000.json", "train-00000-of-00002")
    with pytest.raises(UnfinishedTokenSetError, match=r"wrote 1 of 2 units \(no metadata.json yet\); rerun"):
        check_finished(tmp_path)
    assert check_finished(tmp_path, allow_partial=True).to_dict() == {
        "partial": True, "units_done": 1, "units_total": 2
    }  # fmt: skip
    record("00001.json", "train-00001-of-00002")
    metadata(settings={"num_units": 2})
    assert check_finished(tmp_path) is None
    (tmp_path / ".snac_hf" / "run-validation.json").write_text("{}")
    record("validation-00000.json", "validation-00000-of-00003")
    metadata(settings={"num_units": 2}, splits={"train": {"num_units": 2}})
    with pytest.raises(UnfinishedTokenSetError, match="wrote 1 of 3 units of split validation"):
        check_finished(tmp_path)
    metadata(settings={"num_units": 3}, splits={"train": {"num_units": 2}, "validation": {"num_units": 3}})
    with pytest.raises(
        UnfinishedTokenSetError, match=r"1 of 3 units of split validation \(unit records missing"
    ):
        check_finished(tmp_path)
    record("validation-00001.json", "validation-00001-of-00003")
    record("validation-00002.json", "validation-00002-of-00003")
    assert check_finished(tmp_path) is None
