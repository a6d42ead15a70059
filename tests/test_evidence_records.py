"""Evidence resumes trust nothing they did not write: compression records and their saved
tokenizers are fingerprinted like run records (settings + codes digest + content hash), checked
before use, refused in one line naming the file, and written atomically (issue 30 item 3)."""

from __future__ import annotations

import json
import shutil

import pytest

from snac_hf.bpe.corpus import open_source
from snac_hf.bpe.synthetic import write_synthetic_token_set
from snac_hf.evidence.compression import measure_compression, record_path, tokenizer_folder
from snac_hf.evidence.fingerprint import codes_digest
from snac_hf.evidence.runs import RecordError
from snac_hf.evidence.splits import split
from snac_hf.layout import layout_for
from snac_hf.tokenset.json_files import DamagedInputError

LAYOUT = layout_for("snac_24khz")


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """plain at 20 merges measured once on a small synthetic set: (arguments, rows)."""
    root = tmp_path_factory.mktemp("compression")
    dataset, _ = open_source(str(write_synthetic_token_set(root / "tokens", LAYOUT, 24, shards=1)))
    train, held_out, summary = split(dataset, 0.25, None, "salt")
    inputs = {"codes": codes_digest(dataset), "split": {"holdout": 0.25}}
    args = (train, held_out, LAYOUT, ("plain",), (20,), root / "out", summary.held_out_seconds)
    return args, inputs, measure_compression(*args, inputs=inputs)


def reread(measured, **changes):
    args, inputs, _ = measured
    return measure_compression(*args, inputs={**inputs, **changes})


def test_a_compression_record_is_reused_only_as_written(measured):
    args, _, rows = measured
    out = args[5]
    record = record_path(out, "plain", 20)
    good = record.read_text()
    saved = json.loads(good)
    assert {"run", "tokenizer_sha256", "fingerprint"} <= saved.keys() and "fingerprint" not in rows[0]
    assert reread(measured) == rows  # the same inputs: reused as it is
    assert not list(record.parent.glob("*.partial"))  # written through a temporary file, renamed
    try:
        # edited: codes per token set to 4.0 (the record still parses)
        record.write_text(json.dumps({**saved, "codes_per_token": 4.0}))
        with pytest.raises(RecordError, match=f"^{record}: it was edited after it was written"):
            reread(measured)
        # made for another split (a record copied from another run)
        record.write_text(good)
        with pytest.raises(
            RecordError, match=f"^{record}: it was made for other inputs \\(its split.holdout"
        ):
            reread(measured, split={"holdout": 0.5})
        # truncated: one line naming the file (not "Unterminated string ... (char 93)" alone)
        record.write_text(good[:93])
        with pytest.raises(DamagedInputError, match=f"^{record}: not valid JSON"):
            reread(measured)
    finally:
        record.write_text(good)


def test_a_changed_saved_tokenizer_is_refused(measured):
    args, _, _ = measured
    folder = tokenizer_folder(args[5], "plain", 20)
    path = folder / "tokenizer.json"
    good = path.read_text()
    tokenizer = json.loads(good)
    try:
        tokenizer["model"]["merges"] = tokenizer["model"]["merges"][:-1]  # one merge removed
        path.write_text(json.dumps(tokenizer))
        with pytest.raises(
            RecordError, match=f"^{folder}: the tokenizer of plain-20.json differs from the one"
        ):
            reread(measured)
    finally:
        path.write_text(good)
    assert reread(measured)  # restored: reused
    # records committed without their tokenizers: the tokenizer is trained again, the same one
    shutil.rmtree(folder)
    assert reread(measured)[0]["merges_learned"] == 20 and path.read_text() == good
