"""The dataset card (README.md) and summary (export.json) of an export folder.

The card's YAML header holds the features (so the Hub viewer and `load_dataset` agree on the column
types), the audio data's license when the token set stated one, and tags; its body states the
layout, the text tokenizer, what was written and what was left out and why, and why no frame was
dropped. Nothing carries a local path (the card is meant to be published): a local token set or
tokenizer folder is named by its folder name (`snac_hf.tokenset.card.public_name`). No
`configs:` entry, for the reason `snac_hf.tokenset.card.card_yaml` gives.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from datasets import Features

from snac_hf.export.folder import CARD_FILE, SUMMARY_FILE, write_text
from snac_hf.export.frames import rule_line
from snac_hf.export.orpheus import MODEL_VOCAB_SIZE
from snac_hf.layout.tts_layouts import tts_layout

FRAME_SECONDS = 2048 / 24_000  # one SNAC 24 kHz frame: 4 x 512 samples


def card_yaml(features: Features, license_id: str | None, layout_name: str = "orpheus") -> str:
    header = {"license": license_id} if license_id else {}
    header["dataset_info"] = {"features": features._to_yaml_list()}
    header["tags"] = ["audio", "snac", layout_name, "tts", "text-to-speech", "snac_hf"]
    return "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n"


def layout_lines(summary: dict) -> list[str]:
    layout = tts_layout(summary.get("format", "orpheus"))
    text = f"`{summary['text_column']}`"
    if summary["speaker_column"]:
        form = layout.speaker_template.format(
            speaker=f"{{{summary['speaker_column']}}}", text=f"{{{summary['text_column']}}}"
        )
        text = f'`"{form}"` ({layout.name}\'s {layout.speaker_means} form)'
    special = "with its special tokens" if layout.bos_from_tokenizer else "without special tokens"
    vocab = (
        f"a Llama with `vocab_size` {MODEL_VOCAB_SIZE:,} (Orpheus')"
        if layout.speech_end <= MODEL_VOCAB_SIZE
        else f"a model with at least {layout.speech_end:,} ids"
    )
    lines = [
        f"- layout `{layout.name}` ({layout.source}), one row per audio file: `{list(layout.prompt_start)} "
        f"+ text ids + {list(layout.prompt_end)} + speech ids + {list(layout.row_end)}`",
        f"- text ids: {text} tokenized by {summary['text_tokenizer']} {special}; "
        f"tokenizer check: {summary.get('text_tokenizer_check', 'not made')}",
        "- speech ids: 7 per SNAC 24 kHz frame, `c0[i], c1[2i], c2[4i], c2[4i+1], c1[2i+1], c2[4i+2], "
        f"c2[4i+3]` (scales 0, 1, 2); position p's code is id `code + {layout.speech_base} + p * 4096`",
    ]
    if summary.get("multipack"):
        lines.append(
            f"- multipacked for fine-tuning: whole rows in blocks of at most {summary['multipack']} ids "
            f"({summary['blocks']:,} blocks); `position_ids` restart at 0 at each row, `lengths` are the "
            "rows' lengths, `labels` equal `input_ids` except -100 at each row's first id; no "
            f"`attention_mask` (transformers then keeps rows apart by their position_ids); {vocab} covers "
            "every id"
        )
    else:
        lines.append(f"- `labels` equal `input_ids`, `attention_mask` is all ones; {vocab} covers every id")
    if summary["pack"]:
        lines.append(
            f"- packed for pre-training: the rows chained in order and cut into blocks of exactly "
            f"{summary['pack']} ids (a block may start or end inside a row); {summary['blocks']:,} blocks, "
            f"the last {summary['ids_dropped_after_last_block']:,} ids (less than one block) dropped"
        )
    return lines


def count_lines(summary: dict) -> list[str]:
    counts = summary["counts"]
    limits = [n for n in (summary["max_length"], summary.get("multipack")) if n]
    limit = f"more than {min(limits):,} ids" if limits else "no --max_length"
    hours = counts["frames_written"] * FRAME_SECONDS / 3600
    frames = [rule_line(summary.get("frames", "real"), summary.get("padding_codes_stored", False))]
    if "frames_upstream" in counts:
        frames.append(
            f"- frames of the rows written under each rule: {counts['frames_upstream']:,} by Orpheus' "
            f"ceil(n / 2048) (`--frames upstream`), {counts['frames_real_only']:,} whole real frames only "
            f"(`--frames real`); padding codes written: {counts['padding_codes_written']:,}"
        )
    if summary.get("speaker_column") and tts_layout(summary.get("format", "orpheus")).template is not None:
        frames.append(
            "- rows with an empty or null speaker, written as the text alone (as Orpheus' inference "
            f"prompt without a voice): {counts.get('text_alone', 0):,}"
        )
    return [
        *frames,
        f"- files in the token set: {counts['files']:,}; rows written: {counts['rows_written']:,}",
        f"- left out: {counts['empty_transcript']:,} with an empty transcript (never written with empty "
        f"text), {counts.get('empty_speaker', 0):,} without the speaker the layout needs, "
        f"{counts['no_whole_frame']:,} shorter than one frame (85 ms), {counts['too_long']:,} too long "
        f"({limit}; never cut)",
        f"- partial-frame codes dropped: {counts['partial_frame_codes_dropped']:,} (the last frame of a "
        "file may lack its last codes: the token set keeps only the codes of real audio)",
        f"- speech written: {counts['frames_written']:,} frames ({hours:.4f} hours); ids: "
        f"{counts['ids_written']:,}",
        *split_lines(summary),
    ]


def split_lines(summary: dict) -> list[str]:
    """The splits of an export of several (`load_dataset` names them from `data/{split}-*.parquet`)."""
    splits = summary.get("splits")
    if not splits:
        return []
    each = ", ".join(f"{name} ({s['counts']['rows_written']:,} rows)" for name, s in splits.items())
    return [f"- splits, as the token set's (`load_dataset` returns each by name): {each}"]


def card_body(summary: dict) -> str:
    carried = ", ".join(f"`{c}`" for c in summary["carried_columns"])
    name = summary.get("format", "orpheus")
    reader = {
        "orpheus": "Orpheus' fine-tuning script trains on it as it is.",
        "vyvo_lfm2": "VyvoTTS' LFM2 fine-tuning reads rows of this layout.",
    }.get(name, "its rows are the model's prompt followed by its speech, as its card describes.")
    lines = [
        f"# {name} TTS training data",
        "",
        f"SNAC 24 kHz codes of the token set {summary['token_set']} in the `{name}` (LLM + SNAC) "
        f"layout, written by snac_hf (`snac-hf export --format {name}`). "
        f'`datasets.load_dataset(<this folder or repo>, split="train")` reads it; {reader}',
        "",
    ]
    if summary.get("codec_notice"):
        lines += [f"> **Note:** {summary['codec_notice']}", ""]
    partial = summary.get("token_set_partial")
    if partial:
        total = partial["units_total"] if partial["units_total"] is not None else "?"
        lines += [
            f"> **Partial:** the token set was unfinished: this export holds {partial['units_done']} of "
            f"{total} of its units (`--allow_partial`).",
            "",
        ]
    lines += ["## Layout", "", *layout_lines(summary), "", "## Rows", "", *count_lines(summary), ""]
    lines += [
        "## No frame dropped",
        "",
        "Every whole frame of every file is written. The public Orpheus data preparation drops each frame "
        "whose first code repeats the previous frame's (Orpheus issue #122): that removes real audio "
        "(held sounds, silence); this export keeps them.",
        "",
        "## Columns",
        "",
        (
            "`id` (block-SHARD-INDEX), `input_ids`, `labels`, `position_ids`, `lengths` (int32)."
            if summary.get("multipack")
            else "`id` (the token set's id), `input_ids` (int32), `labels` (int32), `attention_mask` (int8)"
            + (f", and the columns carried from the token set: {carried}." if carried else ".")
        ),
        "The token set's `file_path`, `duration` and per-scale code columns are not carried: the row "
        "replaces the codes, and a local path is not published.",
    ]
    return "\n".join(lines) + "\n"


def write_summary(folder: Path, summary: dict) -> None:
    write_text(folder / SUMMARY_FILE, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")


def write_card(folder: Path, summary: dict, features: Features) -> None:
    header = card_yaml(features, summary.get("license"), summary.get("format", "orpheus"))
    write_text(folder / CARD_FILE, header + "\n" + card_body(summary))
