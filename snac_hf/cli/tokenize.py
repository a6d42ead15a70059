"""`scripts/tokenize.py`: audio (a folder or a `load_dataset` source) -> a SNAC token set.

    accelerate launch scripts/tokenize.py --input_dir WAVS --output_dir TOKENS [--model M] ...
    python scripts/tokenize.py --dataset NAME --audio_column audio --split train --output_dir TOKENS
    python scripts/tokenize.py --analyze_only --output_dir TOKENS

Exit status: 0 on success (some files may have failed: see errors.jsonl); 1 when no file could be
encoded, or with --strict when any failed; 2 for bad arguments or an unusable model/output folder.
"""

from __future__ import annotations

import argparse
import sys
import time

from snac_hf.codec import DEFAULT_MODEL, CodecLoadError

USAGE_ERRORS = (CodecLoadError, FileNotFoundError, ValueError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scripts/tokenize.py", description="Encode audio into SNAC tokens as a Hugging Face dataset."
    )
    source = parser.add_argument_group("input (one of)")
    source.add_argument("--input_dir", help="folder of audio files (searched recursively)")
    source.add_argument("--dataset", help="any load_dataset source with an audio column")
    source.add_argument("--audio_column", default="audio", help="audio column of --dataset (default: audio)")
    source.add_argument("--split", default="train", help="split of --dataset (default: train)")
    source.add_argument("--max_files", type=int, help="only the first N files (sorted by path)")
    parser.add_argument("--output_dir", required=True, help="token-set folder to write (or to analyze)")
    codec = parser.add_argument_group("codec")
    codec.add_argument(
        "--model", default=DEFAULT_MODEL, help="Hub id or local model folder (default: %(default)s)"
    )
    codec.add_argument("--checkpoint", help="fine-tuned .pt state dict on top of --model's architecture")
    encoding = parser.add_argument_group("encoding")
    encoding.add_argument(
        "--segment_length", type=float, default=4.0, help="seconds per segment (default: 4.0)"
    )
    encoding.add_argument(
        "--context_length",
        type=float,
        default=0.0,
        help="seconds of audio added on both sides of each segment and then discarded, so codes near cuts "
        "equal whole-file codes (default: 0)",
    )
    encoding.add_argument("--batch_size", type=int, default=16, help="segments per batch (default: 16)")
    encoding.add_argument(
        "--files_per_shard", type=int, default=256, help="files per Parquet shard (default: 256)"
    )
    encoding.add_argument(
        "--exact", action="store_true", help="float64: codes independent of threads/processes"
    )
    job = parser.add_argument_group("job")
    job.add_argument("--overwrite", action="store_true", help="replace a different token set in --output_dir")
    job.add_argument("--strict", action="store_true", help="exit 1 if any file failed")
    job.add_argument("--no_analysis", action="store_true", help="skip the token analysis at the end")
    job.add_argument("--analyze_only", action="store_true", help="only analyze the token set in --output_dir")
    job.add_argument("--num_proc", type=int, default=1, help="processes for the analysis (default: 1)")
    job.add_argument("--push_to_hub", metavar="REPO", help="upload the token set as a Hub dataset repository")
    job.add_argument("--no_progress", action="store_true", help="no progress bars")
    return parser


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if not args.analyze_only and (args.input_dir is None) == (args.dataset is None):
        parser.error("give exactly one of --input_dir or --dataset (or --analyze_only)")
    for name in ("segment_length", "batch_size", "files_per_shard", "num_proc"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be positive")
    if args.context_length < 0:
        parser.error("--context_length must be >= 0")
    if args.max_files is not None and args.max_files <= 0:
        parser.error("--max_files must be positive")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_args(parser, args)
    try:
        if args.analyze_only:
            return analyze(args)
        return tokenize(args)
    except USAGE_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def analyze(args: argparse.Namespace) -> int:
    from snac_hf.analysis import analyze_folder

    analyze_folder(args.output_dir, num_proc=args.num_proc)
    return 0


def tokenize(args: argparse.Namespace) -> int:
    from snac_hf.codec import load_codec
    from snac_hf.dataset_source import hub_dataset
    from snac_hf.folder import folder_dataset
    from snac_hf.launch import current_processes
    from snac_hf.output_folder import OutputExistsError
    from snac_hf.pipeline import TokenizeSettings, tokenize_dataset

    processes = current_processes()
    codec = load_codec(args.model, args.checkpoint)
    if processes.is_main and codec.notice:
        print(f"NOTE: {codec.notice}", file=sys.stderr)
    if args.input_dir is not None:
        audio = folder_dataset(args.input_dir, args.max_files)
    else:
        audio = hub_dataset(args.dataset, args.audio_column, args.split, args.max_files)
    if len(audio) == 0:
        raise FileNotFoundError(f"no audio files found in {args.input_dir or args.dataset}")
    settings = TokenizeSettings(
        segment_seconds=args.segment_length,
        context_seconds=args.context_length,
        batch_size=args.batch_size,
        files_per_shard=args.files_per_shard,
        exact=args.exact,
    )
    started = time.perf_counter()
    try:
        meta = tokenize_dataset(
            audio, codec, args.output_dir, settings, processes, args.overwrite, not args.no_progress
        )
    except OutputExistsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if meta is None:  # not the main process: the main one reports
        return 0
    print(summary_line(meta, args.output_dir, time.perf_counter() - started))
    if meta["files_processed"] and not args.no_analysis:
        from snac_hf.analysis import analyze_folder

        analyze_folder(args.output_dir, num_proc=args.num_proc)
    if args.push_to_hub:
        from snac_hf.tokenset import push_to_hub

        try:
            print(f"pushed: {push_to_hub(args.output_dir, args.push_to_hub)}")
        except RuntimeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    failed = meta["files_failed"]
    return 1 if meta["files_processed"] == 0 or (args.strict and failed) else 0


def summary_line(meta: dict, output_dir: str, seconds: float) -> str:
    audio = meta["total_duration_seconds"]
    failed = meta["files_failed"]
    line = (
        f"snac_hf: {meta['files_processed']} files encoded, {failed} failed"
        + (f" (see {output_dir}/errors.jsonl)" if failed else "")
        + f"; {audio / 3600:.4f} h of audio in {seconds:.1f} s ({audio / max(seconds, 1e-9):.1f}x real time)"
        + f" -> {output_dir}"
    )
    notice = meta["codec"].get("notice")
    return line + (f"\nNOTE: {notice}" if notice else "")
