"""`snac-hf export --format NAME` for every SNAC TTS layout (`snac_hf.layout.tts_layouts`), each
checked against a re-implementation written here from its upstream description; the text
tokenizer check (#31 item 6); `--skip_invalid_frames` resynchronising on position ranges (#30);
`--multipack` and its loss equality on a tiny Llama (#28 item 4). Real bundled speech, tokenized
once per session (`speech_token_set`), with the manifest's transcripts and speakers added."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datasets import load_dataset
from tokenizers import Tokenizer

from snac_hf.export import codes_to_orpheus_ids, orpheus_ids_to_codes
from snac_hf.layout.tts_layouts import TTS_LAYOUTS
from snac_hf.tokenset.load import open_token_set
from tests.conftest import SPEECH, run_here
from tests.text_tokenizers import lfm2_like, llama3_like, small_bos0

# --- the upstream layouts, written out the plain way: one frame at a time ---------------------------


def speech_ids(codes, audio_start: int) -> list[int]:
    """Frame i: c0[i], c1[2i], c2[4i], c2[4i+1], c1[2i+1], c2[4i+2], c2[4i+3]; position p's code at
    `audio_start + p * 4096` (Orpheus' `tokenise_audio`, also VyvoTTS' with its
    `audio_tokens_start`); whole frames only."""
    c0, c1, c2 = codes
    ids = []
    for i in range(min(len(c0), len(c1) // 2, len(c2) // 4)):
        frame = [c0[i], c1[2 * i], c2[4 * i], c2[4 * i + 1], c1[2 * i + 1], c2[4 * i + 2], c2[4 * i + 3]]
        ids += [int(code) + audio_start + p * 4096 for p, code in enumerate(frame)]
    return ids


def orpheus_reference(tok: Tokenizer, text: str, speaker: str, codes) -> list[int]:
    """Canopy Labs' Orpheus fine-tuning prep (and Unsloth's notebook): `text_prompt =
    f"{source}: {text}"`, `text_ids = tokenizer.encode(text_prompt, add_special_tokens=True)`,
    `text_ids.append(end_of_text)` (128009), then `[start_of_human] + text_ids + [end_of_human]
    + [start_of_ai] + [start_of_speech] + codes_list + [end_of_speech] + [end_of_ai]` with
    start_of_speech 128257 ... end_of_ai 128262 and audio from 128266."""
    text_ids = tok.encode(f"{speaker}: {text}", add_special_tokens=True).ids + [128009]
    return [128259, *text_ids, 128260, 128261, 128257, *speech_ids(codes, 128266), 128258, 128262]


def maya1_reference(tok: Tokenizer, text: str, description: str, codes) -> list[int]:
    """maya-research/maya1's model card: `formatted_text = f'<description="{description}">
    {text}'`, prompt `soh_token + bos_token + formatted_text + eot_token + eoh_token + soa_token +
    sos_token` (SOH 128259, BOS 128000, TEXT_EOT 128009, EOH 128260, SOA 128261, CODE_START
    128257); generation `eos_token_id=CODE_END_TOKEN_ID` (128258) and its decoder reads SNAC ids
    128266..156937 up to 128258 in 7-id frames. The row ends as Orpheus' rows end (128258, 128262)."""
    text_ids = tok.encode(f'<description="{description}"> {text}', add_special_tokens=False).ids
    prompt = [128259, 128000, *text_ids, 128009, 128260, 128261, 128257]
    return [*prompt, *speech_ids(codes, 128266), 128258, 128262]


def veena_reference(tok: Tokenizer, text: str, speaker: str, codes) -> list[int]:
    """maya-research/veena's card: `prompt = f"<spk_{speaker}> {text}"`, `prompt_tokens =
    tokenizer.encode(prompt, add_special_tokens=False)`, `input_tokens = [START_OF_HUMAN_TOKEN,
    *prompt_tokens, END_OF_HUMAN_TOKEN, START_OF_AI_TOKEN, START_OF_SPEECH_TOKEN]` (128259,
    128260, 128261, 128257; no BOS, no 128009); generation stops at END_OF_SPEECH 128258 or
    END_OF_AI 128262; AUDIO_CODE_BASE_OFFSET 128266, `llm_codebook_offsets = [base + i * 4096]`."""
    prompt_tokens = tok.encode(f"<spk_{speaker}> {text}", add_special_tokens=False).ids
    return [128259, *prompt_tokens, 128260, 128261, 128257, *speech_ids(codes, 128266), 128258, 128262]


def vyvo_lfm2_reference(tok: Tokenizer, text: str, speaker: str, codes) -> list[int]:
    """Vyvo-Labs/VyvoTTS, LFM2 (configs/inference/lfm2.yaml, audio_tokenizer.py): TOKENIZER_LENGTH
    64400, START_OF_TEXT 1, END_OF_TEXT 7, START_OF_SPEECH .. PAD_TOKEN = TOKENIZER_LENGTH + 1 .. + 7,
    AUDIO_TOKENS_START = TOKENIZER_LENGTH + 10; `text_ids = tokenizer.encode(text_prompt,
    add_special_tokens=True)`, `text_ids.append(END_OF_TEXT)`, `input_ids = [START_OF_HUMAN] +
    text_tokens + [END_OF_HUMAN] + [START_OF_AI] + [START_OF_SPEECH] + codes_list +
    [END_OF_SPEECH] + [END_OF_AI]`, text `f"{example['source']}: {example[text_field]}"`."""
    n = 64_400
    text_ids = tok.encode(f"{speaker}: {text}", add_special_tokens=True).ids + [7]
    return [n + 3, *text_ids, n + 4, n + 5, n + 1, *speech_ids(codes, n + 10), n + 2, n + 6]


REFERENCES = {
    "orpheus": orpheus_reference,
    "maya1": maya1_reference,
    "veena": veena_reference,
    "vyvo_lfm2": vyvo_lfm2_reference,
}


# --- fixtures ---------------------------------------------------------------------------------------


def manifest() -> dict[str, dict]:
    with open(SPEECH / "manifest.tsv", newline="", encoding="utf-8") as f:
        return {row["file"]: row for row in csv.DictReader(f, delimiter="\t")}


@pytest.fixture(scope="module")
def transcribed(speech_token_set, tmp_path_factory) -> Path:
    """The shared speech token set with `text` and `speaker` columns from the manifest."""
    from snac_hf.tokenset.schema import METADATA_FILE

    rows = manifest()
    out = tmp_path_factory.mktemp("layouts") / "tokens"
    (out / "data").mkdir(parents=True)
    shutil.copy(speech_token_set / METADATA_FILE, out / METADATA_FILE)
    for shard in sorted((speech_token_set / "data").glob("*.parquet")):
        table = pq.read_table(shard).replace_schema_metadata(None)
        names = [Path(i).name for i in table.column("id").to_pylist()]
        table = table.append_column("text", pa.array([rows[n]["text"] for n in names], pa.string()))
        table = table.append_column("speaker", pa.array([rows[n]["speaker"] for n in names], pa.string()))
        pq.write_table(table, out / "data" / shard.name)
    return out


@pytest.fixture(scope="module")
def llama_tokenizer(tmp_path_factory) -> Path:
    return llama3_like(tmp_path_factory.mktemp("llama3") / "tok")


@pytest.fixture(scope="module")
def lfm2_tokenizer(tmp_path_factory) -> Path:
    return lfm2_like(tmp_path_factory.mktemp("lfm2") / "tok")


def export(capsys, *args: str):
    return run_here(capsys, "export", *args)


# --- every layout against its upstream description, and back --------------------------------------


@pytest.mark.parametrize("name", list(TTS_LAYOUTS))
def test_layout_rows_equal_the_upstream_prep_and_decode_back(
    name, transcribed, llama_tokenizer, lfm2_tokenizer, fitted_model, tmp_path, capsys
):
    tokenizer_dir = lfm2_tokenizer if name == "vyvo_lfm2" else llama_tokenizer
    out = tmp_path / name
    result = export(
        capsys, "--format", name, "--tokens", str(transcribed), "--text_column", "text",
        "--speaker_column", "speaker", "--text_tokenizer", str(tokenizer_dir), "--output_dir", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    tok = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    source = {row["id"]: row for row in open_token_set(str(transcribed))}
    rows = load_dataset(str(out), split="train")
    assert len(rows) == len(source) == 40
    layout = TTS_LAYOUTS[name]
    for row in rows:
        file = source[row["id"]]
        # upstream encodes each file whole and keeps every frame SNAC returns (ceil(n / 2048)): the
        # real codes and, completing the last frame, SNAC's codes over its zero padding (the
        # default `--frames upstream`; tests/test_export.py checks them against a whole-file encode)
        codes = [file[f"tokens_scale_{k}"] + file[f"padding_scale_{k}"] for k in range(3)]
        want = REFERENCES[name](tok, file["text"], file["speaker"], codes)
        assert row["input_ids"] == want, (name, row["id"])
        found = orpheus_ids_to_codes(row["input_ids"], layout=layout)
        frames = len(found.codes[0])
        assert [c.tolist() for c in found.codes] == [
            codes[0][:frames],
            codes[1][: 2 * frames],
            codes[2][: 4 * frames],
        ]
        assert frames == min(len(codes[0]), len(codes[1]) // 2, len(codes[2]) // 4)
    summary = json.loads((out / "export.json").read_text())
    assert summary["format"] == name and summary["text_tokenizer_check"] == "passed"
    assert f"layout `{name}`" in (out / "README.md").read_text()

    wavs = tmp_path / "wavs"
    decoded = run_here(
        capsys, "decode", "--format", name, "--dataset", str(out), "--max_files", "2",
        "--model", str(fitted_model), "--out_dir", str(wavs),
    )  # fmt: skip
    assert decoded.returncode == 0, decoded.stderr
    assert len(list(wavs.glob("*.wav"))) == 2


def test_maya1_and_veena_need_their_speaker_column(transcribed, llama_tokenizer, tmp_path, capsys):
    for name, what in (("maya1", "voice description"), ("veena", "speaker name")):
        result = export(
            capsys, "--format", name, "--tokens", str(transcribed), "--text_column", "text",
            "--text_tokenizer", str(llama_tokenizer), "--output_dir", str(tmp_path / name),
        )  # fmt: skip
        lines = result.stderr.strip().splitlines()
        assert (
            result.returncode == 2 and len(lines) == 1 and what in lines[0] and "--speaker_column" in lines[0]
        )
        assert not (tmp_path / name).exists()


# --- the text tokenizer check (#31 item 6) ----------------------------------------------------------


def test_a_foreign_text_tokenizer_is_refused_or_recorded(
    transcribed, llama_tokenizer, lfm2_tokenizer, tmp_path, capsys
):
    bos0 = small_bos0(tmp_path / "bos0")
    base = ["--tokens", str(transcribed), "--text_column", "text"]
    cases = [
        ("orpheus", bos0, "500 ids"),
        ("orpheus", lfm2_tokenizer, "64,400 ids"),
        ("vyvo_lfm2", llama_tokenizer, "128,256 ids"),
    ]
    for name, tokenizer_dir, words in cases:
        out = tmp_path / f"{name}-{tokenizer_dir.parent.name}"
        result = export(
            capsys, "--format", name, *base, "--text_tokenizer", str(tokenizer_dir), "--output_dir", str(out)
        )
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, result.stderr
        assert (
            lines[0].startswith("error: --text_tokenizer")
            and words in lines[0]
            and "--text_tokenizer_ok" in lines[0]
        )
        assert not out.exists()

    # A Llama 3-sized tokenizer that puts no BOS first: refused for orpheus (its BOS comes from the
    # tokenizer), and so is one whose BOS is another id for maya1 (which writes 128000 itself).
    from transformers import AutoTokenizer

    no_bos = AutoTokenizer.from_pretrained(str(llama_tokenizer))
    no_bos._tokenizer.post_processor = None
    no_bos.save_pretrained(str(tmp_path / "no_bos"))
    result = export(
        capsys, "--format", "orpheus", *base, "--text_tokenizer", str(tmp_path / "no_bos"),
        "--output_dir", str(tmp_path / "x"),
    )  # fmt: skip
    assert result.returncode == 2 and "not the BOS 128000" in result.stderr

    out = tmp_path / "accepted"
    result = export(
        capsys, "--format", "orpheus", *base, "--text_tokenizer", str(bos0), "--text_tokenizer_ok",
        "--output_dir", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "accepted with --text_tokenizer_ok: it has 500 ids" in result.stdout
    summary = json.loads((out / "export.json").read_text())
    assert summary["text_tokenizer_check"].startswith("accepted with --text_tokenizer_ok: it has 500 ids")
    assert "tokenizer check: accepted with --text_tokenizer_ok" in (out / "README.md").read_text()


# --- --skip_invalid_frames: resynchronised on position ranges (#30) ---------------------------------


def test_one_stray_id_skips_only_the_frame_it_touches(transcribed, fitted_model, tmp_path, capsys):
    row = next(iter(open_token_set(str(transcribed))))
    codes = [np.asarray(row[f"tokens_scale_{k}"]) for k in range(3)]
    speech = codes_to_orpheus_ids(codes).tolist()
    frames = len(speech) // 7
    assert frames > 20
    k = 5  # the frame the stray id touches
    start = 7 * k
    strays = {
        "inserted id of position 3": speech[: start + 2] + [128266 + 3 * 4096 + 17] + speech[start + 2 :],
        "inserted marker": speech[: start + 4] + [128258 + 4] + speech[start + 4 :],
        "inserted position-0 id": speech[: start + 3] + [128266 + 5] + speech[start + 3 :],
        "missing id": speech[: start + 1] + speech[start + 2 :],
        "replaced id": speech[: start + 6] + [128266] + speech[start + 7 :],
    }
    kept = [f for f in range(frames) if f != k]
    want = [
        np.concatenate([codes[0][[f]] for f in kept]),
        np.concatenate([codes[1][2 * f : 2 * f + 2] for f in kept]),
        np.concatenate([codes[2][4 * f : 4 * f + 4] for f in kept]),
    ]
    for what, ids in strays.items():
        found = orpheus_ids_to_codes([128257, *ids, 128258], skip_invalid_frames=True)
        assert found.skipped_frames == 1 and found.trailing_ids == 0, what
        assert all(np.array_equal(a, b) for a, b in zip(found.codes, want, strict=True)), what

    # The CLI prints the trailing ids the API counts, and the frames skipped.
    ids = [128257, *strays["inserted marker"], *speech[:3]]
    (tmp_path / "ids.json").write_text(json.dumps([{"id": "a", "input_ids": ids}]))
    result = run_here(
        capsys, "decode", "--format", "orpheus", "--ids", str(tmp_path / "ids.json"), "--skip_invalid_frames",
        "--model", str(fitted_model), "--out_dir", str(tmp_path / "wavs"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "skipped 1 frame(s)" in result.stderr and "left out 3 trailing id(s)" in result.stderr


# --- multipacking (#28 item 4) ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def multipacked(transcribed, llama_tokenizer, tmp_path_factory):
    """The plain orpheus export and the same rows multipacked into blocks of at most 600 ids."""
    from snac_hf.export import ExportSettings, export_orpheus

    out = tmp_path_factory.mktemp("multipack")
    settings = ExportSettings("text", str(llama_tokenizer), speaker_column="speaker", max_length=600)
    export_orpheus(str(transcribed), out / "rows", settings)
    packed = ExportSettings("text", str(llama_tokenizer), speaker_column="speaker", multipack=600)
    summary = export_orpheus(str(transcribed), out / "packed", packed)
    return (
        load_dataset(str(out / "rows"), split="train"),
        load_dataset(str(out / "packed"), split="train"),
        summary,
    )


def test_multipack_blocks_are_whole_rows_with_restarting_positions(multipacked):
    rows, blocks, summary = multipacked
    assert list(blocks.features) == ["id", "input_ids", "labels", "position_ids", "lengths"]
    assert summary["counts"]["rows_written"] == len(rows) and summary["blocks"] == len(blocks) < len(rows)
    assert summary["counts"]["too_long"] > 0  # rows over 600 ids are left out, as with --max_length
    chained = []
    for block in blocks:
        ids, lengths = block["input_ids"], block["lengths"]
        assert len(ids) == sum(lengths) <= 600
        starts = np.cumsum([0, *lengths[:-1]])
        assert block["position_ids"] == [p for n in lengths for p in range(n)]
        assert [block["labels"][s] for s in starts] == [-100] * len(lengths)
        assert [x for i, x in enumerate(block["labels"]) if i not in set(starts)] == [
            x for i, x in enumerate(ids) if i not in set(starts)
        ]
        chained += [ids[s : s + n] for s, n in zip(starts, lengths, strict=True)]
    assert chained == rows["input_ids"]  # whole rows, in order, none lost
    # greedy: inside a shard (ids block-SHARD-INDEX), a block is closed only when the next row does not
    # fit; each shard's last block may be shorter
    for block, after in zip(blocks, list(blocks)[1:], strict=False):
        if block["id"].split("-")[1] == after["id"].split("-")[1]:
            assert sum(block["lengths"]) + after["lengths"][0] > 600


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_a_packed_block_loss_is_the_token_weighted_mean_of_its_rows(multipacked, attention):
    """transformers (5.x) keeps packed rows apart by their position_ids when no attention mask and
    no cache is given: with `use_cache=False` the block's loss equals the token-weighted mean of its
    rows' losses one by one; with the config's default cache the rows see each other (the trap the
    docs name)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    _, blocks, _ = multipacked
    block = max(blocks, key=lambda b: len(b["lengths"]))
    assert len(block["lengths"]) >= 3
    config = LlamaConfig(
        vocab_size=156_940, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, max_position_embeddings=1200, attn_implementation=attention,
    )  # fmt: skip
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()
    assert model.config._attn_implementation == attention

    def tensor(values):
        return torch.tensor([values], dtype=torch.long)

    ids, lengths = block["input_ids"], block["lengths"]
    starts = np.cumsum([0, *lengths[:-1]])
    with torch.no_grad():
        packed = model(
            input_ids=tensor(ids), position_ids=tensor(block["position_ids"]), labels=tensor(block["labels"]),
            use_cache=False,
        ).loss.item()  # fmt: skip
        each = [
            model(input_ids=tensor(ids[s : s + n]), labels=tensor(ids[s : s + n])).loss.item()
            for s, n in zip(starts, lengths, strict=True)
        ]
        cached = model(
            input_ids=tensor(ids), position_ids=tensor(block["position_ids"]), labels=tensor(block["labels"])
        ).loss.item()
    weights = np.asarray(lengths) - 1  # a row of n ids has n - 1 predicted ids
    assert packed == pytest.approx(float(np.dot(each, weights) / weights.sum()), rel=1e-5)
    assert abs(cached - packed) > 1e-4  # with a cache, transformers ignores the packing
