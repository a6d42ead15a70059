"""`snac-hf decode` (`scripts/decode.py`): token ids (or a token set) -> audio files at the codec's rate.

    snac-hf decode --tokenizer TOK_DIR --ids IDS.json --model MODEL --out_dir wavs/
    snac-hf decode --tokenizer TOK_DIR --dataset DIR --model MODEL --out_dir wavs/ --max_files 4
    snac-hf decode --format orpheus --ids IDS.json --model MODEL --out_dir wavs/ [--skip_invalid_frames]
    snac-hf decode --format maya1 --dataset maya1_rows/ --model MODEL --out_dir wavs/   # veena, vyvo_lfm2

`--ids` is a JSON file: a list of ids (one sequence), a list of such lists, or objects
`{"id": ..., "input_ids": [...], "duration": seconds}` (one or a list). `--dataset` is a token-set
folder, a `save_to_disk` folder or a `load_dataset` source; rows with `input_ids` are decoded with
`--tokenizer`, rows with
only `tokens_scale_k` columns are decoded as they are. Audio is trimmed to `duration` when known.
`--format orpheus` (or `maya1`, `veena`, `vyvo_lfm2`: `snac_hf.layout.tts_layouts`): the ids are
that layout's (`snac-hf export` rows, or raw LM output), turned into SNAC 24 kHz codes by
`snac_hf.export.orpheus_ids_to_codes` (the speech after the last start-of-speech, whole frames;
an id outside its frame position's range is an error, or with `--skip_invalid_frames` the frames
are found by position and only broken ones are dropped, and counted); the ids after the last
whole frame are left out and counted too; no --tokenizer, and no `duration` (the audio is that
of the whole frames).
Each row's file is named after its id (`snac_hf.codec.decode.output_names`: distinct ids, distinct files;
a row without an id is `row_<i>`, whatever the JSON's shape; names over 200 bytes are shortened);
existing files are not replaced without --overwrite. `--as_dataset` writes one `datasets` folder
with an `Audio` column instead (`snac_hf.codec.audio_dataset`). Every id in `--ids` must be a JSON
integer (`rows_from_json`). The ids, the tokenizer and the output files are
checked before the model loads. See `snac_hf.codec.decode` for what is exact. Exit status 2 for unusable
arguments or inputs, with one line saying which and what to do (`snac_hf.cli.errors`).
`--out_dir` is an alias of `--output_dir`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable

from snac_hf.cli.errors import run_command
from snac_hf.cli.parser import CommandParser
from snac_hf.codec.load import CodecLoadError
from snac_hf.codec.model_folder import DEFAULT_MODEL
from snac_hf.layout.tts_layouts import TTS_LAYOUTS


def build_parser(prog: str = "scripts/decode.py") -> argparse.ArgumentParser:
    parser = CommandParser(prog, description="Decode SNAC token ids to audio.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--ids", help="JSON file of token ids (see the module docstring)")
    source.add_argument(
        "--dataset", help="token-set folder or load_dataset source (input_ids or tokens_scale_k)"
    )
    parser.add_argument("--tokenizer", help="audio tokenizer folder (train_bpe.py); needed for snac_hf ids")
    parser.add_argument(
        "--format",
        choices=("snac_hf", *TTS_LAYOUTS),
        default="snac_hf",
        help="what the ids are: snac_hf BPE ids (--tokenizer), or a TTS layout's ids (orpheus, ...)",
    )
    parser.add_argument(
        "--skip_invalid_frames",
        action="store_true",
        help="--format orpheus/...: find frames by position, drop broken ones (and count them)",
    )
    parser.add_argument("--model", default=DEFAULT_MODEL, help="SNAC Hub id or local model folder")
    parser.add_argument("--checkpoint", help="fine-tuned .pt state dict on top of --model's architecture")
    parser.add_argument(
        "--output_dir", "--out_dir", dest="out_dir", required=True, help="folder for the .wav files"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace .wav files that exist in --output_dir"
    )
    parser.add_argument(
        "--as_dataset",
        action="store_true",
        help="write --output_dir as a datasets folder (an Audio column, id, duration, text) "
        "that load_dataset reads, instead of .wav files",
    )
    parser.add_argument("--max_files", type=_positive, help="decode only the first N rows")
    parser.add_argument("--split", default="train", help="split of --dataset")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


#: Largest token id a JSON ids file may hold (int32; every tokenizer's vocabulary is far smaller).
MAX_TOKEN_ID = 2**31 - 1


def rows_from_json(path: str) -> list[dict]:
    """The rows of an `--ids` file: one sequence (a list of ids), a list of sequences, or objects
    with `input_ids` (and `id`, `duration`, ...). Every id must be a JSON integer in
    0..`MAX_TOKEN_ID`: a float (`128266.7`, `1e30`), a string, a null or a nested list is refused
    in one line naming the file, the item and the position, never truncated, parsed or flattened.
    Rows keep no made-up id: one without `id` is named `row_<i>` (`codec.decode.row_ids`)."""
    from snac_hf.tokenset.json_files import read_json

    if not os.path.isfile(path):
        raise FileNotFoundError(f"--ids {path}: no such file")
    data = read_json(
        path, "write it as a JSON list of ids, of id lists, or of {id, input_ids, duration} objects"
    )
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path}: expected a non-empty list of ids, of id lists, or of objects")
    if not any(isinstance(x, (list, dict)) for x in data):  # one sequence
        return [{"input_ids": token_ids(data, f"--ids {path}")}]
    rows = []
    for i, item in enumerate(data):
        if isinstance(item, list):
            rows.append({"input_ids": token_ids(item, f"--ids {path}: item {i}")})
        elif isinstance(item, dict) and "input_ids" in item:
            rows.append({**item, "input_ids": token_ids(item["input_ids"], f"--ids {path}: item {i}")})
        else:
            raise ValueError(f"{path}: item {i} is neither a list of ids nor an object with input_ids")
    return rows


def token_ids(value: object, what: str) -> list[int]:
    """`value` if it is a list of JSON integers in 0..`MAX_TOKEN_ID`, else a ValueError naming
    `what`, the position and the value."""
    if not isinstance(value, list):
        raise ValueError(f"{what}: input_ids is {json.dumps(value)}, not a list of integer token ids")
    for position, token in enumerate(value):
        if isinstance(token, bool) or not isinstance(token, int) or not 0 <= token <= MAX_TOKEN_ID:
            shown = json.dumps(token)
            raise ValueError(
                f"{what}: id {shown[:40]} at position {position} is not a token id (token ids are JSON "
                f"integers from 0 to {MAX_TOKEN_ID}; no floats, strings, nulls or nested lists)"
            )
    return value


def rows_from_dataset(source: str, split: str, max_files: int | None) -> list[dict]:
    """The rows of a token-set folder (checked whole), or of any other source `open_dataset` reads."""
    from snac_hf.tokenset.load import open_dataset, open_token_set

    if os.path.isdir(source) and os.path.isdir(os.path.join(source, "data")) and not holds_ids(source):
        dataset = open_token_set(source, split)
    else:  # an input_ids set in the data/ layout is no token set: read as load_dataset reads it
        dataset = open_dataset(source, split)
    if max_files is not None:
        dataset = dataset.select(range(min(max_files, len(dataset))))
    return list(dataset)


def holds_ids(folder: str) -> bool:
    """Whether a folder's `data/*.parquet` hold `input_ids` rather than `tokens_scale_k` (footer only)."""
    import pyarrow.parquet as pq

    from snac_hf.tokenset.schema import parquet_files

    files = parquet_files(folder)
    if not files:
        return False
    names = set(pq.read_schema(files[0]).names)
    return "input_ids" in names and "tokens_scale_0" not in names


def orpheus_rows(
    rows: list[dict], skip_invalid_frames: bool, format: str = "orpheus"
) -> tuple[list[dict], int, int]:
    """Rows of a TTS layout's ids (`--format`, Orpheus' by default) as rows of SNAC 24 kHz codes
    (`tokens_scale_k`), the frames skipped and the trailing ids left out."""
    from snac_hf.codec.decode import row_ids
    from snac_hf.export import orpheus_ids_to_codes

    layout = TTS_LAYOUTS[format]
    converted, skipped, trailing = [], 0, 0
    for row, name in zip(rows, row_ids(rows), strict=True):
        if "input_ids" not in row:
            raise ValueError(f"row {name!r}: --format {format} decodes input_ids, and this row has none")
        try:
            found = orpheus_ids_to_codes(row["input_ids"], skip_invalid_frames, layout)
        except ValueError as error:
            raise ValueError(f"row {name!r}: {error}") from None
        if not found.codes[0].size:
            raise ValueError(
                f"row {name!r}: no whole frame of {format} speech ids (7 ids per frame) to decode"
            )
        skipped += found.skipped_frames
        trailing += found.trailing_ids
        codes = {f"tokens_scale_{k}": codes for k, codes in enumerate(found.codes)}
        carried = {k: row[k] for k in ("text", "speaker") if k in row}  # for --as_dataset
        converted.append({"id": name, **codes, **carried})
    return converted, skipped, trailing


def check_ids_have_a_decoder(rows: list[dict], args: argparse.Namespace) -> None:
    """Rows of `input_ids` with neither `--tokenizer` nor a `--format`: a ValueError saying which
    to pass, `--format orpheus` when the ids reach past Llama 3's text vocabulary (128,256 ids:
    Orpheus-TTS rows, `snac-hf export`), else `--tokenizer`. Before the model loads."""
    from snac_hf.export.orpheus import TEXT_VOCAB_END

    if args.format in TTS_LAYOUTS or args.tokenizer or not any("input_ids" in row for row in rows):
        return
    source = f"--ids {args.ids}" if args.ids else f"--dataset {args.dataset}"
    if any(max(row.get("input_ids") or [0]) >= TEXT_VOCAB_END for row in rows):
        raise ValueError(
            f"{source}: the rows hold ids from {TEXT_VOCAB_END} up, as Orpheus-TTS rows (snac-hf export) "
            "do: pass --format orpheus (snac_hf BPE ids would need --tokenizer instead)"
        )
    raise ValueError(
        f"{source}: the rows hold input_ids: pass the tokenizer that made them (--tokenizer), or "
        "--format orpheus for Orpheus-TTS ids"
    )


def output_writers(as_dataset: bool) -> tuple[Callable, Callable]:
    """(check, write) for the output: `.wav` files (`check_outputs`, `decode_rows`), or one
    datasets folder (`check_dataset_output`, `decode_rows_to_dataset`); same arguments."""
    if as_dataset:
        from snac_hf.codec.audio_dataset import check_dataset_output, decode_rows_to_dataset

        return check_dataset_output, decode_rows_to_dataset
    from snac_hf.codec.decode import check_outputs, decode_rows

    return check_outputs, decode_rows


def main(argv: list[str] | None = None, prog: str = "scripts/decode.py") -> int:
    args = build_parser(prog).parse_args(argv)
    return run_command(lambda: decode(args), also=(CodecLoadError,))


def decode(args: argparse.Namespace) -> int:
    """Rows, tokenizer and output files are checked first; then the codec loads and writes the audio."""
    from snac_hf.bpe import load_tokenizer

    check_outputs, decode_rows = output_writers(args.as_dataset)
    from snac_hf.codec.load import load_codec

    layout_ids = args.format in TTS_LAYOUTS
    if layout_ids and args.tokenizer:
        raise ValueError(
            f"--format {args.format}: {args.format} ids need no --tokenizer (it is for snac_hf BPE ids)"
        )
    if args.skip_invalid_frames and not layout_ids:
        raise ValueError("--skip_invalid_frames is for TTS layout ids: pass --format orpheus (or maya1, ...)")
    rows = (
        rows_from_json(args.ids) if args.ids else rows_from_dataset(args.dataset, args.split, args.max_files)
    )
    check_ids_have_a_decoder(rows, args)
    if args.max_files is not None:
        rows = rows[: args.max_files]
    skipped = trailing = None
    if layout_ids:
        rows, skipped, trailing = orpheus_rows(rows, args.skip_invalid_frames, args.format)
    tokenizer = load_tokenizer(args.tokenizer) if args.tokenizer else None
    check_outputs(rows, args.out_dir, args.overwrite)  # before the model loads
    codec = load_codec(args.model, args.checkpoint)
    if layout_ids:
        from snac_hf.export.orpheus import check_orpheus_layout

        check_orpheus_layout(codec.layout, f"--model {args.model}")
    if skipped:
        print(f"note: skipped {skipped} frame(s) holding an id outside its position's range", file=sys.stderr)
    if trailing:
        print(f"note: left out {trailing} trailing id(s) after the last whole frame", file=sys.stderr)
    paths = decode_rows(rows, codec, args.out_dir, tokenizer, overwrite=args.overwrite)
    if codec.notice:
        print(f"note: {codec.notice}", file=sys.stderr)
    if args.as_dataset:
        print(
            f"wrote {len(rows)} row(s) of audio at {codec.layout.sampling_rate} Hz to {paths[0]} "
            f"(load_dataset({str(args.out_dir)!r}) reads it)"
        )
    else:
        print(f"wrote {len(paths)} file(s) to {args.out_dir} at {codec.layout.sampling_rate} Hz")
    return 0


if __name__ == "__main__":
    sys.exit(main(prog="python -m snac_hf.cli.decode"))
