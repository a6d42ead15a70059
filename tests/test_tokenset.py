"""The token-set folder format, without torch: write, card, load_dataset."""

import json

import numpy as np
import pytest
from datasets import load_dataset

from snac_hf.layout import layout_for
from snac_hf.tokenset.card import build_metadata, write_card
from snac_hf.tokenset.load import open_token_set
from snac_hf.tokenset.schema import rows_to_table, shard_name, write_parquet
from snac_hf.tokenset.sections import replace_section, write_section


def make_token_set(folder, item_id, code):
    layout = layout_for("snac_24khz")
    rows = [
        {
            "id": item_id,
            "file_path": f"/audio/{item_id}",
            "duration": 0.1,  # 2400 samples at 24 kHz: 2, 3 and 5 codes (open_token_set checks it)
            "codes": [[code] * 2, [code] * 3, [code] * 5],
        }
    ]
    write_parquet(rows_to_table(rows, 3), folder / shard_name(0, 1))
    counts = [np.bincount([code] * n, minlength=4096).tolist() for n in (2, 3, 5)]
    record = {"rows": 1, "errors": [], "duration": 0.1, "shard": shard_name(0, 1), "counts": counts}
    codec = {"name": "x", "checkpoint": None, "layout": layout.to_dict(), "notice": None}
    settings = {"precision": "float32", "segment_seconds": 4.0, "context_seconds": 0.0}
    meta = build_metadata([record], codec, settings)
    (folder / "metadata.json").write_text(json.dumps(meta))
    write_card(folder, meta)
    return meta


def test_two_token_sets_with_the_same_folder_name_load_their_own_rows(tmp_path):
    first, second = tmp_path / "a" / "tokens", tmp_path / "b" / "tokens"
    make_token_set(first, "one.wav", 1)
    make_token_set(second, "two.wav", 2)
    assert load_dataset(str(first), split="train")["id"][:] == ["one.wav"]
    assert load_dataset(str(second), split="train")["id"][:] == ["two.wav"]
    ds = open_token_set(str(second))
    assert ds["tokens_scale_2"][0] == [2] * 5
    assert str(ds.features["tokens_scale_1"]) == "List(Value('int16'))"


def test_metadata_figures_from_counts(tmp_path):
    meta = make_token_set(tmp_path / "t", "one.wav", 7)
    assert meta["files_processed"] == 1
    assert meta["scales"]["scale_2"] == {
        "total_tokens": 5,
        "unique_tokens": 1,
        "min": 7,
        "max": 7,
        "most_common": [[7, 5]],
    }


def test_card_keeps_other_sections(tmp_path):
    folder = tmp_path / "t"
    make_token_set(folder, "one.wav", 1)
    write_section(folder / "README.md", "analysis", "## Analysis\nGini 0.5")
    meta = make_token_set(folder, "one.wav", 3)
    write_card(folder, meta)
    card = (folder / "README.md").read_text()
    assert card.count("---\n") == 2 and "Gini 0.5" in card and card.count("snac_hf:summary:start") == 1


def test_replace_section_is_idempotent():
    text = replace_section("intro\n", "x", "one")
    assert (
        replace_section(text, "x", "two")
        == "intro\n\n<!-- snac_hf:x:start -->\ntwo\n<!-- snac_hf:x:end -->\n"
    )


def test_bad_codes_and_empty_shards_are_refused(tmp_path):
    rows = [{"id": "a", "file_path": "a", "duration": 1.0, "codes": [[4096], [1, 2], [1, 2, 3, 4]]}]
    with pytest.raises(ValueError, match="codes outside 0..4095"):
        rows_to_table(rows, 3)
    with pytest.raises(ValueError, match="empty shard"):
        write_parquet(rows_to_table([], 3), tmp_path / "x.parquet")
    with pytest.raises(FileNotFoundError, match="no token shards"):
        open_token_set(str(tmp_path))
