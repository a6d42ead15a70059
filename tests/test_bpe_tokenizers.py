"""Trained BPE tokenizers: exact round trips for every variant, the saved folder, errors, the map."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from datasets import Dataset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snac_hf.bpe import VARIANTS, AudioTokenizer, add_input_ids, load_tokenizer, train_tokenizer
from snac_hf.bpe.alphabet import CODE_BASE, SPECIAL_TOKENS, text_to_codepoints
from snac_hf.bpe.corpus import resolve_layout, split_by_id
from snac_hf.bpe.synthetic import synthetic_rows, write_synthetic_token_set
from snac_hf.layout import layout_for
from snac_hf.layout.codes import expected_lengths
from snac_hf.tokenset.load import open_token_set
from snac_hf.tokenset.schema import tokens_column

LAYOUTS = {"snac_24khz": layout_for("snac_24khz"), "snac_32khz": layout_for("snac_32khz")}
MERGES = 300
# (layout, variant, span_frames): every variant on 3 and 4 scales, plus merges across frames.
TRAINED = [(name, variant, None) for name in LAYOUTS for variant in VARIANTS] + [
    ("snac_24khz", variant, True) for variant in VARIANTS if VARIANTS[variant].frame_based
]


def key_id(key: tuple) -> str:
    name, variant, span = key
    return f"{name}-{variant}" + ("-span" if span else "")


@pytest.fixture(scope="session")
def synthetic_sets(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("bpe_sets")
    return {
        name: write_synthetic_token_set(root / name, layout, n_files=60, seconds=(0.5, 4.0), seed=i)
        for i, (name, layout) in enumerate(LAYOUTS.items())
    }


@pytest.fixture(scope="session")
def trained(synthetic_sets, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("bpe_tokenizers")
    tokenizers = {}
    for key in TRAINED:
        name, variant, span = key
        folder = train_tokenizer(
            synthetic_sets[name],
            variant=variant,
            num_merges=MERGES,
            min_frequency=20 if variant == "thresholded" else None,
            output_dir=root / key_id(key),
            span_frames=span,
        )
        tokenizers[key] = load_tokenizer(folder)
    return tokenizers


@st.composite
def file_codes(draw, layout, max_finest: int = 70):
    """Valid lengths (partial frames, empty), any codes (mostly unseen in training), long runs."""
    finest = draw(st.integers(0, max_finest))
    longest_run = draw(st.sampled_from([1, 3, 40]))
    vocabulary = draw(st.sampled_from([3, 512, layout.codebook_size]))  # 512: the training codes
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    codes = []
    for n in expected_lengths(layout, finest):
        values = rng.integers(0, vocabulary, size=n)
        codes.append(np.repeat(values, rng.integers(1, longest_run + 1, size=n))[:n].astype(np.int16))
    return codes


def assert_same(original, decoded) -> None:
    assert len(original) == len(decoded)
    for a, b in zip(original, decoded, strict=True):
        assert np.asarray(b).tolist() == np.asarray(a).tolist()


@pytest.mark.parametrize("key", TRAINED, ids=key_id)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_encode_decode_is_exact(trained, key, data):
    tokenizer: AudioTokenizer = trained[key]
    files = [data.draw(file_codes(tokenizer.layout)) for _ in range(data.draw(st.integers(1, 3)))]
    batch_ids = tokenizer.encode_batch(files)
    for codes, ids in zip(files, batch_ids, strict=True):
        assert tokenizer.encode(codes) == ids
        assert all(i >= len(SPECIAL_TOKENS) for i in ids)  # no specials unless asked
        assert_same(codes, tokenizer.decode(ids))
        # The raw HF tokenizer decodes to the symbol string (decoders.Fuse), which maps back too.
        assert_same(codes, tokenizer.text_to_codes(tokenizer.hf_tokenizer.decode(ids)))
        with_specials = tokenizer.encode(codes, add_special_tokens=True)
        assert with_specials[:2] == [tokenizer.bos_token_id, tokenizer.audio_start_token_id]
        assert with_specials[-2:] == [tokenizer.audio_end_token_id, tokenizer.eos_token_id]
        assert with_specials[2:-2] == ids
        assert_same(codes, tokenizer.decode(with_specials))
    for codes, decoded in zip(files, tokenizer.decode_batch(batch_ids), strict=True):
        assert_same(codes, decoded)


@pytest.mark.parametrize("key", TRAINED, ids=key_id)
def test_edge_cases_round_trip(trained, key):
    tokenizer: AudioTokenizer = trained[key]
    layout = tokenizer.layout
    per_frame = layout.codes_per_frame
    empty = [np.zeros(0, np.int64) for _ in range(layout.n_scales)]
    one_frame = [np.full(n, 4095 - k) for k, n in enumerate(per_frame)]  # codes never trained
    one_code = [np.array([7]) for _ in range(layout.n_scales)]  # finest length 1: a partial frame
    long_runs = [np.full(n, 11) for n in expected_lengths(layout, 40 * per_frame[-1])]  # runs >> 16
    assert tokenizer.encode(empty) == []
    assert tokenizer.encode(empty, add_special_tokens=True) == [
        tokenizer.bos_token_id,
        tokenizer.audio_start_token_id,
        tokenizer.audio_end_token_id,
        tokenizer.eos_token_id,
    ]
    for codes in (empty, one_frame, one_code, long_runs):
        assert_same(codes, tokenizer.decode(tokenizer.encode(codes)))
    if tokenizer.serializer.uses_runs:
        assert len(tokenizer.encode(long_runs)) < sum(map(len, long_runs)) / 4


@pytest.mark.parametrize("key", TRAINED, ids=key_id)
def test_every_base_symbol_is_in_the_vocabulary(trained, key):
    tokenizer: AudioTokenizer = trained[key]
    vocab = tokenizer.hf_tokenizer.get_vocab()
    assert [vocab[t] for t in SPECIAL_TOKENS] == list(range(len(SPECIAL_TOKENS)))
    for offset in (0, 1, tokenizer.alphabet.size // 2, tokenizer.alphabet.size - 1):
        assert vocab[chr(CODE_BASE + offset)] == len(SPECIAL_TOKENS) + offset
    assert tokenizer.vocab_size == len(SPECIAL_TOKENS) + tokenizer.alphabet.size + tokenizer.num_merges
    expected_merges = MERGES if tokenizer.variant not in ("thresholded", "hierarchical") else None
    if expected_merges:
        assert tokenizer.num_merges == expected_merges
    assert 0 < tokenizer.num_merges <= MERGES


def test_autotokenizer_loads_the_folder_offline(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    tokenizer: AudioTokenizer = trained[("snac_24khz", "rl", None)]
    tokenizer.save_pretrained(tmp_path / "tok")
    auto = AutoTokenizer.from_pretrained(str(tmp_path / "tok"))
    codes = synthetic_rows(tokenizer.layout, 1, seed=5)[0]["codes"]
    text = tokenizer.codes_to_text(codes)
    assert auto(text)["input_ids"] == tokenizer.encode(codes, add_special_tokens=True)
    assert auto(text, add_special_tokens=False)["input_ids"] == tokenizer.encode(codes)
    assert auto.decode(tokenizer.encode(codes)) == text
    assert (auto.pad_token, auto.bos_token, auto.eos_token, auto.unk_token) == (
        "<pad>",
        "<bos>",
        "<eos>",
        "<unk>",
    )
    assert auto.audio_start_token_id == tokenizer.audio_start_token_id == 3
    assert auto.audio_end_token_id == tokenizer.audio_end_token_id == 4
    meta = auto.init_kwargs["codec_meta"]
    assert meta["variant"] == "rl" and meta["options"] == {"max_run": 16}
    assert meta["layout"]["vq_strides"] == [4, 2, 1] and meta["alphabet"]["n_scales"] == 3
    # load -> save -> load keeps everything load_tokenizer needs.
    auto.save_pretrained(str(tmp_path / "again"))
    again = load_tokenizer(tmp_path / "again")
    assert again.encode(codes) == tokenizer.encode(codes)
    assert (tmp_path / "tok" / "tokenizer.json").is_file()


def test_training_record_and_hierarchical_single_artifact(trained):
    tokenizer: AudioTokenizer = trained[("snac_24khz", "hierarchical", None)]
    training = tokenizer.meta["training"]
    assert training["stage1_merges"] == MERGES // 2
    assert training["stage2_merges"] > 0
    assert training["merges_learned"] == tokenizer.num_merges
    model = json.loads(tokenizer.hf_tokenizer.backend_tokenizer.to_str())["model"]
    kinds = tokenizer.alphabet.kind_table

    def scales(token: str) -> set:
        return set(kinds[text_to_codepoints(token).astype(np.int64) - CODE_BASE].tolist())

    stage1 = model["merges"][: training["stage1_merges"]]
    stage2 = model["merges"][training["stage1_merges"] :]
    assert all(len(scales(a + b)) == 1 for a, b in stage1)  # stage 1: inside one scale
    assert any(len(scales(a + b)) > 1 for a, b in stage2)  # stage 2: across scales


@pytest.mark.parametrize("variant", ["cross_scale", "hierarchical", "rl_cross_scale"])
def test_tokens_stay_inside_frames_unless_span_frames(trained, variant):
    def tokens_crossing_frames(tokenizer: AudioTokenizer) -> int:
        crossing = 0
        for token in tokenizer.hf_tokenizer.get_vocab():
            if token in SPECIAL_TOKENS:
                continue
            kinds = tokenizer.alphabet.kind_table[text_to_codepoints(token).astype(np.int64) - CODE_BASE]
            crossing += bool((kinds[1:] == 0).any())  # a scale-0 code after the first symbol
        return crossing

    assert tokens_crossing_frames(trained[("snac_24khz", variant, None)]) == 0
    if variant != "rl_cross_scale":  # its 300 merges here happen to stay inside coarse chunks
        assert tokens_crossing_frames(trained[("snac_24khz", variant, True)]) > 0


def test_decode_refuses_bad_ids(trained):
    tokenizer: AudioTokenizer = trained[("snac_24khz", "cross_scale", None)]
    codes = synthetic_rows(tokenizer.layout, 1, seed=3)[0]["codes"]
    ids = tokenizer.encode(codes)
    with pytest.raises(ValueError, match=f"unknown token id {tokenizer.vocab_size} .* at position 1"):
        tokenizer.decode([ids[0], tokenizer.vocab_size])
    with pytest.raises(ValueError, match="unknown token id -1"):
        tokenizer.decode([-1])
    with pytest.raises(ValueError, match="<unk>"):
        tokenizer.decode([ids[0], tokenizer.unk_token_id])
    with pytest.raises(ValueError, match="sequence 1: unknown token id"):
        tokenizer.decode_batch([ids, [10**9]])
    with pytest.raises(ValueError, match="1-D integers"):
        tokenizer.decode([[1, 2]])
    cut = tokenizer.decode(ids[:-1], strict=False)  # a model's output cut mid-frame
    with pytest.raises(ValueError, match="decoded ids: misaligned scale lengths"):
        tokenizer.decode(ids[:-1])
    assert sum(map(len, cut)) < sum(map(len, codes))
    rl = trained[("snac_24khz", "rl", None)]
    with pytest.raises(ValueError, match="run symbol at position 0"):
        rl.decode([rl.hf_tokenizer.convert_tokens_to_ids(chr(rl.alphabet.run_symbol(4)))])


def test_encode_refuses_bad_codes(trained):
    tokenizer: AudioTokenizer = trained[("snac_32khz", "plain", None)]
    with pytest.raises(ValueError, match="expected 4 scales"):
        tokenizer.encode([np.zeros(1, int)] * 3)
    with pytest.raises(ValueError, match="outside 0..4095"):
        tokenizer.encode([np.array([4096]), np.zeros(2, int), np.zeros(4, int), np.zeros(8, int)])
    with pytest.raises(ValueError, match="file 1: misaligned scale lengths"):
        tokenizer.encode_batch(
            [[np.zeros(n, int) for n in (1, 2, 4, 8)], [np.zeros(n, int) for n in (1, 2, 4, 9)]]
        )


def test_thresholded_and_budget_options(synthetic_sets, tmp_path):
    source = synthetic_sets["snac_24khz"]
    folder = train_tokenizer(source, "thresholded", 500, min_frequency=10**6, output_dir=tmp_path / "t")
    training = json.loads((folder / "training.json").read_text())
    assert training["merges_learned"] == 0 and training["min_frequency"] == 10**6
    with pytest.raises(ValueError, match="min_frequency >= 2"):
        train_tokenizer(source, "thresholded", 10, min_frequency=1, output_dir=tmp_path / "x")
    with pytest.raises(ValueError, match="stage1_merges applies to the hierarchical"):
        train_tokenizer(source, "plain", 10, output_dir=tmp_path / "x", stage1_merges=5)
    zero = load_tokenizer(train_tokenizer(source, "plain", 0, output_dir=tmp_path / "zero"))
    assert zero.num_merges == 0
    codes = synthetic_rows(zero.layout, 1, seed=9)[0]["codes"]
    assert len(zero.encode(codes)) == sum(map(len, codes))


def test_large_corpora_are_subsampled_and_say_so(synthetic_sets, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="snac_hf.bpe.training")
    folder = train_tokenizer(
        synthetic_sets["snac_24khz"], "plain", 50, output_dir=tmp_path / "s", max_train_chars=3000
    )
    corpus = json.loads((folder / "training.json").read_text())["corpus"]
    assert corpus["subsampled"] and 0 < corpus["codes_used"] <= 3000 < corpus["codes_total"]
    assert corpus["files_used"] < corpus["files_total"] == 60
    assert "subsampled from 60 files" in caplog.text


def test_layout_is_read_or_inferred(synthetic_sets):
    for name, folder in synthetic_sets.items():
        dataset = open_token_set(str(folder))
        assert resolve_layout(dataset, folder) == LAYOUTS[name]  # from metadata.json
        assert resolve_layout(dataset, None) == LAYOUTS[name]  # from durations and lengths
    four_scales = open_token_set(str(synthetic_sets["snac_32khz"])).remove_columns(["duration"])
    with pytest.raises(ValueError, match="cannot tell the codec"):
        resolve_layout(four_scales, None)
    assert resolve_layout(four_scales, None, "snac_44khz") == layout_for("snac_44khz")


def test_split_by_id_is_deterministic_and_disjoint(synthetic_sets):
    dataset = open_token_set(str(synthetic_sets["snac_24khz"]))
    train, held = split_by_id(dataset, 0.25)
    train2, held2 = split_by_id(dataset.shuffle(seed=1), 0.25)
    assert sorted(held["id"]) == sorted(held2["id"]) and sorted(train["id"]) == sorted(train2["id"])
    assert not set(train["id"]) & set(held["id"]) and len(train) + len(held) == len(dataset)
    assert 0 < len(held) < len(dataset) / 2


@pytest.mark.parametrize("arrow", [False, True])
def test_add_input_ids_map(synthetic_sets, trained, arrow):
    tokenizer: AudioTokenizer = trained[("snac_32khz", "rl_cross_scale", None)]
    dataset = open_token_set(str(synthetic_sets["snac_32khz"]))
    if arrow:
        mapped = dataset.with_format("arrow").map(
            add_input_ids, batched=True, batch_size=16, fn_kwargs={"tokenizer": tokenizer}
        )
        mapped = mapped.with_format(None)
        assert mapped.column_names == dataset.column_names + ["input_ids"]
    else:
        mapped = dataset.map(add_input_ids, batched=True, batch_size=16, fn_kwargs={"tokenizer": tokenizer})
    assert mapped.features["input_ids"].feature.dtype in ("int32", "int64")
    for row in mapped.select(range(0, len(mapped), 7)):
        ids = row["input_ids"]
        assert (
            ids[:2] == [tokenizer.bos_token_id, tokenizer.audio_start_token_id]
            and ids[-1] == tokenizer.eos_token_id
        )
        assert_same([row[tokens_column(k)] for k in range(4)], tokenizer.decode(ids))


def test_add_input_ids_takes_a_folder_and_names_bad_rows(trained, tmp_path):
    tokenizer: AudioTokenizer = trained[("snac_24khz", "plain", None)]
    tokenizer.save_pretrained(tmp_path / "tok")
    batch = {
        "id": ["a.wav", "b.wav"],
        tokens_column(0): [[1], [1]],
        tokens_column(1): [[1], [1, 2]],
        tokens_column(2): [[1], [1, 2, 3, 4, 5]],  # 5 finest codes need 2 coarse, 3 middle
    }
    with pytest.raises(ValueError, match="file 'b.wav': misaligned"):
        add_input_ids(batch, tokenizer=str(tmp_path / "tok"))
    out = add_input_ids({k: v[:1] for k, v in batch.items()}, rank=0, tokenizer=str(tmp_path / "tok"))
    assert_same([[1], [1], [1]], tokenizer.decode(out["input_ids"][0]))


def test_add_input_ids_on_speech_token_set(speech_token_set, tmp_path):
    """The map on a token set that the real pipeline wrote from tests/data/speech."""
    folder = train_tokenizer(speech_token_set, "rl", 200, output_dir=tmp_path / "speech_tok")
    tokenizer = load_tokenizer(folder)
    dataset = open_token_set(str(speech_token_set))
    mapped = dataset.map(add_input_ids, batched=True, batch_size=8, fn_kwargs={"tokenizer": tokenizer})
    n_scales = tokenizer.layout.n_scales
    total_codes = total_tokens = 0
    for row in mapped:
        codes = [row[tokens_column(k)] for k in range(n_scales)]
        assert_same(codes, tokenizer.decode(row["input_ids"]))
        total_codes += sum(map(len, codes))
        total_tokens += len(row["input_ids"]) - 4
    assert total_tokens < total_codes  # 200 merges learned on this very set must compress it


def test_train_from_a_dataset_object(tmp_path):
    layout = LAYOUTS["snac_24khz"]
    rows = synthetic_rows(layout, 8, seed=4)
    dataset = Dataset.from_dict(
        {"id": [r["id"] for r in rows], "duration": [r["duration"] for r in rows]}
        | {tokens_column(k): [r["codes"][k].tolist() for r in rows] for k in range(3)}
    )
    tokenizer = load_tokenizer(train_tokenizer(dataset, "cross_scale", 20, output_dir=tmp_path / "d"))
    assert tokenizer.layout == layout and tokenizer.num_merges == 20


def edited_copy(source, folder, change) -> str:
    """A copy of the tokenizer folder `source` whose tokenizer.json went through `change`."""
    import shutil

    shutil.copytree(source, folder)
    data = json.loads((folder / "tokenizer.json").read_text())
    change(data)
    (folder / "tokenizer.json").write_text(json.dumps(data))
    return str(folder)


def swap_ids(data: dict, a: str, b: str) -> None:
    vocab = data["model"]["vocab"]
    vocab[a], vocab[b] = vocab[b], vocab[a]


def test_a_tampered_tokenizer_folder_is_refused(trained, tmp_path):
    tokenizer: AudioTokenizer = trained[("snac_24khz", "rl", None)]
    tokenizer.save_pretrained(tmp_path / "good")
    assert load_tokenizer(tmp_path / "good").vocab_size == tokenizer.vocab_size
    run_2, run_3 = (chr(tokenizer.alphabet.run_symbol(r)) for r in (2, 3))
    last_merge = tokenizer.vocab_size - 1
    edits = {
        "swapped base symbols": (
            lambda d: swap_ids(d, chr(CODE_BASE + 1), chr(CODE_BASE + 2)),
            r"id 7 is U\+F0002, but the documented layout puts the base symbol U\+F0001 there",
        ),
        "swapped run symbols": (lambda d: swap_ids(d, run_2, run_3), r"puts the base symbol U\+F3000 there"),
        "normalizer": (lambda d: d.update(normalizer={"type": "NFKC"}), 'its normalizer is {"type": "NFKC"}'),
        "pre-tokenizer": (lambda d: d.update(pre_tokenizer={"type": "Whitespace"}), "its pre_tokenizer is"),
        "decoder": (lambda d: d.update(decoder=None), "its decoder is null, expected"),
        "byte fallback": (lambda d: d["model"].update(byte_fallback=True), "its model is"),
        "reordered merges": (
            lambda d: d["model"]["merges"].insert(0, d["model"]["merges"].pop()),
            f"but the documented layout puts the merge .* there|id {last_merge} is",
        ),
        "added token": (
            lambda d: d["added_tokens"].append({**d["added_tokens"][0], "id": 6, "content": chr(CODE_BASE)}),
            "added tokens",
        ),
    }
    for name, (change, message) in edits.items():
        folder = edited_copy(tmp_path / "good", tmp_path / name.replace(" ", "_"), change)
        with pytest.raises(
            ValueError, match=f"{folder}: tokenizer.json does not match its codec_meta: .*{message}"
        ):
            load_tokenizer(folder)
    (tmp_path / "good" / "tokenizer_config.json").write_text("{")
    with pytest.raises(ValueError, match=r"tokenizer_config\.json: not valid JSON .*train it again"):
        load_tokenizer(tmp_path / "good")
    with pytest.raises(FileNotFoundError, match="no tokenizer.json"):
        load_tokenizer(tmp_path / "missing")
