"""Inputs a hostile try-out edited (issue #21): a tokenizer folder whose tokenizer.json or special
tokens were edited, an evidence run record copied from another training, edited, or holding NaN,
an unreadable evidence_config.json, and a token set whose codes changed under the same ids,
durations and counts. Each is refused in one line naming the file and what to do; none is used.
(The evidence command on such inputs end to end: tests/test_evidence.py.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import run_here
from transformers import PreTrainedTokenizerFast

from snac_hf.bpe import AudioTokenizer, load_tokenizer, train_tokenizer
from snac_hf.bpe.corpus import open_source
from snac_hf.bpe.synthetic import write_synthetic_token_set
from snac_hf.evidence.experiment import CONFIG_FILE, ConfigMismatch, check_config, source_identity
from snac_hf.evidence.fingerprint import codes_digest
from snac_hf.evidence.runs import NUMBERS, RecordError, Training, load_record, record_path, save_record
from snac_hf.layout import layout_for
from snac_hf.tokenset.json_files import DamagedInputError
from snac_hf.tokenset.schema import tokens_column

LAYOUT = layout_for("snac_24khz")
REMEDY = r"restore the folder `snac-hf train-bpe` wrote, or train it again \(`snac-hf train-bpe`\)"


def recode(source: Path, target: Path) -> Path:
    """A copy of the token set `source` with every code changed (c -> (c + 1) mod codebook size):
    the same ids, durations and code counts, as a set re-tokenized with another model has."""
    shutil.copytree(source, target)
    for shard in sorted((target / "data").glob("*.parquet")):
        table = pq.read_table(shard)
        for k in range(LAYOUT.n_scales):
            name = tokens_column(k)
            recoded = [
                [(c + 1) % LAYOUT.codebook_size for c in row] for row in table.column(name).to_pylist()
            ]
            field = table.schema.field(name)
            table = table.set_column(table.schema.get_field_index(name), field, pa.array(recoded, field.type))
        pq.write_table(table, shard)
    return target


# The codes' digest ------------------------------------------------------------------------------


def test_codes_digest_is_the_codes_not_the_files(tmp_path):
    two = write_synthetic_token_set(tmp_path / "two", LAYOUT, 12, shards=2)
    three = write_synthetic_token_set(tmp_path / "three", LAYOUT, 12, shards=3)  # same rows, other files
    recoded = recode(two, tmp_path / "recoded")
    (a, _), (b, _), (c, _) = (open_source(str(f)) for f in (two, three, recoded))
    assert codes_digest(a) == codes_digest(b) and source_identity(a) == source_identity(b)
    # what the source identity alone missed: same ids, durations and counts, other codes
    assert source_identity(c) == source_identity(a)
    assert codes_digest(c) != codes_digest(a)


# Run records ------------------------------------------------------------------------------------

RAW_SEED0, RAW_SEED1 = Training("raw", 64, 20, 0), Training("raw", 64, 20, 1)
RUN = {"codes": "c0de", "source": "50c", "tokenization": "raw", "window": 64, "seed": 0, "lm": {"steps": 20}}


def measured() -> dict:
    return {"name": "raw", "variant": "cross_scale", **{k: 1.5 for k in NUMBERS}}


def rewrite(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))  # json writes float("nan") as NaN, as a hand edit would


def test_a_record_is_used_only_for_the_training_it_was_made_for(tmp_path):
    save_record(tmp_path, RAW_SEED0, measured(), RUN)
    path = record_path(tmp_path, RAW_SEED0)
    assert load_record(tmp_path, RAW_SEED0, RUN) == measured()  # the fingerprint stays in the file
    assert load_record(tmp_path, RAW_SEED1, {**RUN, "seed": 1}) is None  # not trained yet

    # copied from another run: other steps, other codes, or another seed's file
    with pytest.raises(
        RecordError, match=r"its lm.steps 20 where this run has 40\); nothing was changed: remove it"
    ):
        load_record(tmp_path, RAW_SEED0, {**RUN, "lm": {"steps": 40}})
    with pytest.raises(RecordError, match='made for another training \\(its codes "c0de" where this run has'):
        load_record(tmp_path, RAW_SEED0, {**RUN, "codes": "other"})
    shutil.copy(path, record_path(tmp_path, RAW_SEED1))
    with pytest.raises(
        RecordError, match=f"^{record_path(tmp_path, RAW_SEED1)}: .*its seed 0 where this run has 1"
    ):
        load_record(tmp_path, RAW_SEED1, {**RUN, "seed": 1})

    cases = {
        "edited": (lambda d: d.update(bits_per_second=562.0), "edited after it was written"),
        "nan": (lambda d: d.update(bits_per_second=float("nan")), "its bits_per_second is NaN, not a finite"),
        "infinite": (lambda d: d.update(train_seconds=float("inf")), "its train_seconds is Infinity"),
        "text": (lambda d: d.update(tokens_seen="5120"), 'its tokens_seen is "5120", not a finite number'),
        "missing": (lambda d: d.pop("vocab_size"), "not a complete run record \\(no vocab_size\\)"),
        "no fingerprint": (lambda d: d.pop("fingerprint"), "no fingerprint"),
        "run edited": (lambda d: d["run"].update(seed=1), "its seed 1 where this run has 0"),
        "extra NaN": (lambda d: d.update(note=float("nan")), "holds a non-finite number"),
    }
    original = path.read_text()
    for name, (change, message) in cases.items():
        path.write_text(original)
        rewrite(path, change)
        with pytest.raises(RecordError, match=message) as refused:
            load_record(tmp_path, RAW_SEED0, RUN)
        text = str(refused.value)
        assert text.startswith(f"{path}: ") and "\n" not in text, name
        assert text.endswith(
            "nothing was changed: remove it to train that model again, or give another --output_dir"
        )
    path.write_text('{"name": "raw", ')
    with pytest.raises(
        DamagedInputError, match=f"^{path}: not valid JSON .*remove it to train that model again"
    ):
        load_record(tmp_path, RAW_SEED0, RUN)


def test_a_diverged_training_is_not_recorded(tmp_path):
    with pytest.raises(ValueError, match="its bits_per_second is NaN.*diverged.*lower --learning_rate"):
        save_record(tmp_path, RAW_SEED0, {**measured(), "bits_per_second": float("nan")}, RUN)
    assert not record_path(tmp_path, RAW_SEED0).exists()


def test_an_unreadable_evidence_config_is_named(tmp_path):
    config = {"settings": {"seeds": [0]}, "source": "s", "codes": "c", "layout": {}}
    check_config(tmp_path, config, overwrite=False)
    check_config(tmp_path, config, overwrite=False)  # the same run: resumes
    with pytest.raises(ConfigMismatch, match=r"other codes \(the token set was re-tokenized or edited\).*"
                       "rerun on the token set it was made from"):  # fmt: skip
        check_config(tmp_path, {**config, "codes": "other"}, overwrite=False)
    path = tmp_path / CONFIG_FILE
    for text, problem in (("{", "not valid JSON"), ("[1]", "expected a JSON object, found a list")):
        path.write_text(text)
        with pytest.raises(
            DamagedInputError, match=f"^{path}: {problem}.*give another --output_dir"
        ) as refused:
            check_config(tmp_path, config, overwrite=False)
        assert "\n" not in str(refused.value)
        assert path.read_text() == text  # nothing changed
    (tmp_path / "runs").mkdir()
    check_config(tmp_path, config, overwrite=True)  # --overwrite replaces a run of unknown settings
    assert json.loads(path.read_text()) == config and not (tmp_path / "runs").exists()


# Tokenizer folders ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer_folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tamper")
    tokens = write_synthetic_token_set(root / "tokens", LAYOUT, 16, shards=2)
    return Path(train_tokenizer(tokens, variant="plain", num_merges=30, output_dir=root / "tok"))


def edited(source: Path, target: Path, file: str, change) -> Path:
    shutil.copytree(source, target)
    path = target / file
    data = json.loads(path.read_text()) if path.is_file() else {}
    change(data)
    path.write_text(json.dumps(data))
    return target


def swap(data: dict, a: str, b: str) -> None:
    data[a], data[b] = (
        data.get(b, f"<{b.removesuffix('_token')}>"),
        data.get(a, f"<{a.removesuffix('_token')}>"),
    )


#: Edits `tokenizers` itself cannot load (it raises a bare Exception), and the file each damages.
UNLOADABLE = {
    "merge of unknown tokens": lambda d: d["model"]["merges"].__setitem__(0, ["\U000f0000z", "q"]),
    "vocab id not a number": lambda d: d["model"]["vocab"].update({"x": "seven"}),
    "merge not a pair": lambda d: d["model"]["merges"].__setitem__(0, "one"),
}
SWAPPED = {
    "special_tokens_map.json": ("pad_token", "unk_token", "its pad_token is '<unk>'"),
    "tokenizer_config.json": ("bos_token", "eos_token", "its bos_token is '<eos>'"),
}


def test_an_edited_tokenizer_folder_is_one_line(tokenizer_folder, tmp_path):
    assert load_tokenizer(tokenizer_folder).hf_tokenizer.pad_token == "<pad>"
    for name, change in UNLOADABLE.items():
        folder = edited(tokenizer_folder, tmp_path / name.replace(" ", "_"), "tokenizer.json", change)
        with pytest.raises(
            DamagedInputError, match=f"^{folder}/tokenizer.json: tokenizers cannot load it .*{REMEDY}"
        ):
            load_tokenizer(folder)
    for file, (a, b, message) in SWAPPED.items():
        folder = edited(tokenizer_folder, tmp_path / file, file, lambda d, a=a, b=b: swap(d, a, b))
        with pytest.raises(DamagedInputError, match=f"^{folder}/{file}: {message}, but a snac_hf .*{REMEDY}"):
            load_tokenizer(folder)
        # a tokenizer loaded around load_tokenizer's file checks is refused too
        with pytest.raises(ValueError, match=f"^{folder}: {message}"):
            AudioTokenizer(PreTrainedTokenizerFast.from_pretrained(str(folder)), name=str(folder))


def test_decode_refuses_an_edited_tokenizer_in_one_line(tokenizer_folder, random_model, tmp_path, capsys):
    (tmp_path / "ids.json").write_text(json.dumps([[6, 7, 8]]))
    damaged = {
        "tokenizer.json": edited(
            tokenizer_folder, tmp_path / "merges", "tokenizer.json", UNLOADABLE["merge of unknown tokens"]
        ),
        "special_tokens_map.json": edited(
            tokenizer_folder,
            tmp_path / "specials",
            "special_tokens_map.json",
            lambda d: swap(d, "pad_token", "unk_token"),
        ),
    }
    for file, folder in damaged.items():
        result = run_here(
            capsys, "decode", "--tokenizer", str(folder), "--ids", str(tmp_path / "ids.json"),
            "--model", str(random_model), "--out_dir", str(tmp_path / f"wavs_{file}"),
        )  # fmt: skip
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, result.stderr
        assert lines[0].startswith(f"error: {folder}/{file}: ") and "snac-hf train-bpe" in lines[0]
        assert not (tmp_path / f"wavs_{file}").exists()
