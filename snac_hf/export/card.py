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
from snac_hf.export.orpheus import CODE_OFFSET, MODEL_VOCAB_SIZE, PROMPT_END, PROMPT_START, ROW_END

FRAME_SECONDS = 2048 / 24_000  # one SNAC 24 kHz frame: 4 x 512 samples


def card_yaml(features: Features, license_id: str | None) -> str:
    header = {"license": license_id} if license_id else {}
    header["dataset_info"] = {"features": features._to_yaml_list()}
    header["tags"] = ["audio", "snac", "orpheus", "tts", "text-to-speech", "snac_hf"]
    return "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n"


def layout_lines(summary: dict) -> list[str]:
    text = f"`{summary['text_column']}`"
    if summary["speaker_column"]:
        form = f"{{{summary['speaker_column']}}}: {{{summary['text_column']}}}"
        text = f'`"{form}"` (Orpheus\' multi-speaker form)'
    lines = [
        f"- one row per audio file: `{list(PROMPT_START)} + text ids + {list(PROMPT_END)} + speech ids + "
        f"{list(ROW_END)}` (start of human, end of text, end of human, start of AI, start of speech ... "
        "end of speech, end of AI)",
        f"- text ids: {text} tokenized by {summary['text_tokenizer']} with its special tokens",
        "- speech ids: 7 per SNAC 24 kHz frame, `c0[i], c1[2i], c2[4i], c2[4i+1], c1[2i+1], c2[4i+2], "
        f"c2[4i+3]` (scales 0, 1, 2); position p's code is id `code + {CODE_OFFSET} + p * 4096`",
        f"- `labels` equal `input_ids`, `attention_mask` is all ones; a Llama with `vocab_size` "
        f"{MODEL_VOCAB_SIZE:,} (Orpheus') covers every id",
    ]
    if summary["pack"]:
        lines.append(
            f"- packed for pre-training: the rows chained in order and cut into blocks of exactly "
            f"{summary['pack']} ids (a block may start or end inside a row); {summary['blocks']:,} blocks, "
            f"the last {summary['ids_dropped_after_last_block']:,} ids (less than one block) dropped"
        )
    return lines


def count_lines(summary: dict) -> list[str]:
    counts = summary["counts"]
    limit = f"more than {summary['max_length']:,} ids" if summary["max_length"] else "no --max_length"
    hours = counts["frames_written"] * FRAME_SECONDS / 3600
    return [
        f"- files in the token set: {counts['files']:,}; rows written: {counts['rows_written']:,}",
        f"- left out: {counts['empty_transcript']:,} with an empty transcript (never written with empty "
        f"text), {counts['no_whole_frame']:,} shorter than one frame (85 ms), {counts['too_long']:,} too "
        f"long ({limit}; never cut)",
        f"- partial-frame codes dropped: {counts['partial_frame_codes_dropped']:,} (the last frame of a "
        "file may lack its last codes: the token set keeps only the codes of real audio)",
        f"- speech written: {counts['frames_written']:,} frames ({hours:.4f} hours); ids: "
        f"{counts['ids_written']:,}",
    ]


def card_body(summary: dict) -> str:
    carried = ", ".join(f"`{c}`" for c in summary["carried_columns"])
    lines = [
        "# Orpheus TTS training data",
        "",
        f"SNAC 24 kHz codes of the token set {summary['token_set']} in the Orpheus-TTS (Llama + SNAC) "
        "layout, written by snac_hf (`snac-hf export --format orpheus`). "
        '`datasets.load_dataset(<this folder or repo>, split="train")` reads it; Orpheus\' fine-tuning '
        "script trains on it as it is.",
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
        "`id` (the token set's id), `input_ids` (int32), `labels` (int32), `attention_mask` (int8)"
        + (f", and the columns carried from the token set: {carried}." if carried else "."),
        "The token set's `file_path`, `duration` and per-scale code columns are not carried: the row "
        "replaces the codes, and a local path is not published.",
    ]
    return "\n".join(lines) + "\n"


def write_summary(folder: Path, summary: dict) -> None:
    write_text(folder / SUMMARY_FILE, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")


def write_card(folder: Path, summary: dict, features: Features) -> None:
    write_text(folder / CARD_FILE, card_yaml(features, summary.get("license")) + "\n" + card_body(summary))
