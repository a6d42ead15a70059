r"""`snac-hf export` (`scripts/export.py`): a token set -> training data in a SNAC TTS layout
(`--format orpheus`, `maya1`, `veena`, `vyvo_lfm2`: `snac_hf.layout.tts_layouts`).

    snac-hf export --format orpheus --tokens TOKENS --text_column text \
        --text_tokenizer meta-llama/Llama-3.2-3B-Instruct --output_dir orpheus/
    snac-hf export --format orpheus --tokens TOKENS --text_column text --speaker_column speaker \
        --text_tokenizer TOKENIZER_DIR --max_length 8192 --num_proc 4 --output_dir orpheus/
    snac-hf export --format orpheus ... --pack 8192 --output_dir pretrain/   # fixed-length blocks
    snac-hf export --format orpheus ... --multipack 8192 --output_dir ft/   # whole rows, fine-tuning
    snac-hf export --format maya1 ... --speaker_column description --output_dir maya1/

The output folder is a dataset that `load_dataset(OUT)` reads and `push_to_hub` accepts; its card
states the layout and what was left out. The work is `snac_hf.export.export_orpheus`; the layout
is docs/export.md. Exit status 2 for unusable arguments or inputs, with one line saying which.
"""

from __future__ import annotations

import argparse
import sys

from snac_hf.cli.errors import report, run_command
from snac_hf.cli.parser import CommandParser

FORMATS = ("orpheus", "maya1", "veena", "vyvo_lfm2")  # snac_hf.layout.tts_layouts.TTS_LAYOUTS


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser(prog: str = "scripts/export.py") -> argparse.ArgumentParser:
    parser = CommandParser(prog, description=__doc__)
    parser.add_argument("--format", choices=FORMATS, required=True, help="the training-data layout")
    parser.add_argument(
        "--tokens",
        required=True,
        help="token-set folder, Parquet file/glob, save_to_disk folder, or Hub dataset name (SNAC 24 kHz)",
    )
    parser.add_argument("--text_column", required=True, help="the column holding each file's transcript")
    parser.add_argument(
        "--text_tokenizer",
        required=True,
        help="text tokenizer: a local folder or a Hub id, read with AutoTokenizer (Llama 3's for Orpheus)",
    )
    parser.add_argument(
        "--text_tokenizer_ok",
        action="store_true",
        help="write the rows even when the text tokenizer is not the layout's (BOS, end of text, size); "
        "the card records it",
    )
    parser.add_argument(
        "--speaker_column",
        help='a speaker column: orpheus "{speaker}: {text}" (an empty or null speaker gives the text alone, '
        "as Orpheus' inference prompt without a voice); maya1 the voice description; veena the speaker "
        "name (maya1 and veena need it)",
    )
    parser.add_argument(
        "--frames",
        choices=("upstream", "real"),
        help="upstream: ceil(n / 2048) frames per file as Orpheus' prep writes them, the last one completed "
        "with SNAC's codes over its zero padding (the default where the token set stores them); real: whole "
        "frames of real audio only (the default for token sets made before padding codes were stored)",
    )
    parser.add_argument(
        "--max_length", type=_positive, help="leave out (and count) rows longer than this many ids"
    )
    parser.add_argument(
        "--pack", type=_positive, metavar="N", help="pre-training: chain the rows into blocks of N ids"
    )
    parser.add_argument(
        "--multipack",
        type=_positive,
        metavar="N",
        help="fine-tuning: whole rows in blocks of at most N ids, position_ids restarting at each row",
    )
    parser.add_argument("--num_proc", type=_positive, default=1, help="worker processes (one shard each)")
    parser.add_argument("--output_dir", required=True, help="the dataset folder to write")
    parser.add_argument(
        "--split",
        help="the one split of the token set to export (default: every split of a token-set folder, each "
        "under its name; of a dataset name: train)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the export in --output_dir (only files snac_hf wrote)",
    )
    parser.add_argument(
        "--allow_partial",
        action="store_true",
        help="export the done units of an unfinished token set (export.json and the card say so)",
    )
    return parser


def main(argv: list[str] | None = None, prog: str = "scripts/export.py") -> int:
    args = build_parser(prog).parse_args(argv)
    return run_command(lambda: export(args))


def export(args: argparse.Namespace) -> int:
    from snac_hf.export import ExportSettings, export_orpheus
    from snac_hf.export.run import WorkerDiedError
    from snac_hf.tokenset.completeness import UnfinishedTokenSetError

    settings = ExportSettings(
        format=args.format,
        multipack=args.multipack,
        text_tokenizer_ok=args.text_tokenizer_ok,
        text_column=args.text_column,
        text_tokenizer=args.text_tokenizer,
        speaker_column=args.speaker_column,
        max_length=args.max_length,
        pack=args.pack,
        num_proc=args.num_proc,
        overwrite=args.overwrite,
        frames=args.frames,
        split=args.split,
        allow_partial=args.allow_partial,
    )
    try:
        summary = export_orpheus(args.tokens, args.output_dir, settings)
    except UnfinishedTokenSetError as error:
        raise ValueError(f"{error}, or pass --allow_partial to export the units done so far") from None
    except WorkerDiedError as error:  # not the user's input, but nothing a traceback would add
        return report(str(error))
    print(describe(summary, args.output_dir))
    if summary.get("codec_notice"):
        print(f"note: {summary['codec_notice']}", file=sys.stderr)
    return 0


def describe(summary: dict, output_dir: str) -> str:
    """The run in two lines: what was written, and what was left out or dropped."""
    c = summary["counts"]
    name = "Orpheus" if summary["format"] == "orpheus" else summary["format"]
    written = f"{c['rows_written']:,} of {c['files']:,} files as {name} rows ({c['ids_written']:,} ids"
    if summary["pack"]:
        written += f", {summary['blocks']:,} blocks of {summary['pack']})"
    elif summary.get("multipack"):
        written += f", {summary['blocks']:,} multipacked blocks of at most {summary['multipack']})"
    else:
        written += ")"
    speakerless = f"{c['empty_speaker']:,} no speaker, " if c.get("empty_speaker") else ""
    left = (
        f"left out: {c['empty_transcript']:,} empty transcript, {speakerless}"
        f"{c['no_whole_frame']:,} no whole frame, "
        f"{c['too_long']:,} too long; partial-frame codes dropped: {c['partial_frame_codes_dropped']:,}"
    )
    if summary["pack"]:
        left += f"; ids after the last block dropped: {summary['ids_dropped_after_last_block']:,}"
    padding = c.get("padding_codes_written", 0)
    left += f"; frames: {summary.get('frames', 'real')} ({padding:,} padding codes written)"
    shards = f"{summary['shards']} shard" + ("s" if summary["shards"] != 1 else "")
    partial = summary.get("token_set_partial")
    if partial:
        total = partial["units_total"] if partial["units_total"] is not None else "?"
        left += f"\npartial: the token set is unfinished; {partial['units_done']} of {total} units exported"
    check = summary.get("text_tokenizer_check", "passed")
    note = f"\nnote: text tokenizer {check}" if check != "passed" else ""
    return f"snac_hf: {written} -> {output_dir} ({shards})\n{left}{note}"


if __name__ == "__main__":
    sys.exit(main(prog="python -m snac_hf.cli.export"))
