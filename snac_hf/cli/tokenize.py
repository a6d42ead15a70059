"""`snac-hf tokenize` (`scripts/tokenize.py`): audio (a folder or a `load_dataset` source) -> token set.

    accelerate launch -m snac_hf tokenize --input_dir WAVS --output_dir TOKENS [--model M] ...
    snac-hf tokenize --dataset NAME --audio_column audio --split train --output_dir TOKENS
    snac-hf tokenize --dataset NAME --split train validation test --output_dir TOKENS
    snac-hf tokenize --analyze_only --output_dir TOKENS

The input and the output folder are checked before the model loads, so a wrong path is an error
in seconds; so is an unreachable Hub (`snac_hf.tokenset.hub`).

Exit status: 0 on success (some files may have failed: see errors.jsonl); 1 when no file could be
encoded, or with --strict when any failed; 2 for bad arguments or an unusable model/output folder.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import replace

from snac_hf.cli.errors import report, run_command
from snac_hf.cli.parser import CommandParser
from snac_hf.codec.load import CodecLoadError
from snac_hf.codec.model_folder import DEFAULT_MODEL


def build_parser(prog: str = "scripts/tokenize.py") -> argparse.ArgumentParser:
    parser = CommandParser(prog, description="Encode audio into SNAC tokens as a Hugging Face dataset.")
    source = parser.add_argument_group("input (one of)")
    source.add_argument("--input_dir", help="folder of audio files (searched recursively)")
    source.add_argument("--dataset", help="any load_dataset source with an audio column")
    source.add_argument("--audio_column", default="audio", help="audio column of --dataset (default: audio)")
    source.add_argument(
        "--split",
        nargs="+",
        default=["train"],
        help="split(s) of --dataset, each written as that split of the token set (data/SPLIT-*.parquet; "
        "a slice such as train[:100] is written as train); with --input_dir, the one split the folder "
        "becomes (default: train). A split added to an existing set joins its other splits",
    )
    source.add_argument(
        "--streaming",
        action="store_true",
        help="read --dataset as an IterableDataset, source shard by source shard, without downloading it "
        "whole (Hub, local parquet/audiofolder, save_to_disk folders)",
    )
    source.add_argument("--config", help="configuration (subset) of --dataset")
    source.add_argument(
        "--keep_columns",
        nargs="+",
        metavar="COL",
        help="columns carried into the token set unchanged (transcripts, speakers...): names, or 'all' for "
        "every flat non-audio column; for --input_dir they come from its metadata.csv/metadata.jsonl",
    )
    source.add_argument(
        "--id_column", help="column of --dataset whose value becomes the row id (default: name:split:index)"
    )
    source.add_argument(
        "--max_files", type=int, help="only the first N files (sorted by path; a dataset's first N rows)"
    )
    source.add_argument(
        "--min_duration",
        type=float,
        metavar="SECONDS",
        help="skip files shorter than this (after decoding; listed in skipped.jsonl, counted in the card)",
    )
    source.add_argument(
        "--max_duration",
        type=float,
        metavar="SECONDS",
        help="skip files longer than this (after decoding; listed in skipped.jsonl, counted in the card)",
    )
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
        default=None,
        help="seconds of audio added on both sides of each segment and then discarded (rounded to the "
        "padding multiple); default: the encoder's reach (0.256 s at 24 kHz), with which every file's codes "
        "are its whole-file SNAC codes; 0: plain cuts (codes near each cut differ, as in older versions)",
    )
    encoding.add_argument(
        "--batch_size", type=int, help="segments per batch (default: 64 on CUDA, 16 elsewhere)"
    )
    encoding.add_argument(
        "--files_per_shard", type=int, default=256, help="files per Parquet shard (default: 256)"
    )
    encoding.add_argument(
        "--exact", action="store_true", help="float64: codes independent of threads/processes"
    )
    encoding.add_argument(
        "--precision",
        choices=("fp32", "tf32", "bf16", "fp16"),
        default="fp32",
        help="the encoder's arithmetic: fp32 (IEEE: TF32 off on GPUs), tf32 (CUDA from Ampere), or "
        "bf16/fp16 autocast where the device computes them natively (all but fp32 change codes: "
        "agreement in BENCHMARKS.md and the card; default: fp32)",
    )
    compiling = encoding.add_mutually_exclusive_group()
    compiling.add_argument(
        "--compile",
        action="store_true",
        default=None,
        help="torch.compile the encoder (default: on CPU in fp32 for jobs long enough to repay the "
        "compilation, where its codes equal eager's bit for bit; elsewhere off)",
    )
    compiling.add_argument(
        "--no_compile", dest="compile", action="store_false", default=None, help="never compile the encoder"
    )
    encoding.add_argument(
        "--device",
        help="cpu, cuda or cuda:N (default: accelerate's device for this process: its GPU, else cpu)",
    )
    encoding.add_argument(
        "--num_workers",
        type=int,
        help="decode processes per job process (default: on a GPU the cores per local process less one; "
        "on CPU 0); 0 decodes in a thread of the job process",
    )
    encoding.add_argument(
        "--window_seconds",
        type=float,
        help="audio-seconds of consecutive files whose segments are bucketed and encoded together; "
        "also how far decoding runs ahead (default: 4096 on CUDA, 512 elsewhere)",
    )
    job = parser.add_argument_group("job")
    job.add_argument("--overwrite", action="store_true", help="replace a different token set in --output_dir")
    job.add_argument("--strict", action="store_true", help="exit 1 if any file failed")
    job.add_argument("--no_analysis", action="store_true", help="skip the token analysis at the end")
    job.add_argument("--analyze_only", action="store_true", help="only analyze the token set in --output_dir")
    job.add_argument("--num_proc", type=int, default=1, help="processes for the analysis (default: 1)")
    job.add_argument("--push_to_hub", metavar="REPO", help="upload the token set as a Hub dataset repository")
    job.add_argument(
        "--license", help="the audio data's license for the dataset card (e.g. cc-by-4.0; default: none)"
    )
    job.add_argument("--no_progress", action="store_true", help="no progress bars")
    return parser


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if not args.analyze_only and (args.input_dir is None) == (args.dataset is None):
        parser.error("give exactly one of --input_dir or --dataset (or --analyze_only)")
    for name in ("segment_length", "context_length"):  # float flags: "inf" and "nan" parse too
        if getattr(args, name) is not None and not math.isfinite(getattr(args, name)):
            parser.error(f"--{name} must be a finite number of seconds, not {getattr(args, name)}")
    for name in ("segment_length", "batch_size", "files_per_shard", "num_proc"):
        if getattr(args, name) is not None and getattr(args, name) <= 0:
            parser.error(f"--{name} must be positive")
    if args.num_workers is not None and args.num_workers < 0:
        parser.error("--num_workers must be >= 0")
    if args.window_seconds is not None and not (0 < args.window_seconds < math.inf):
        parser.error("--window_seconds must be a positive number of seconds")
    if args.input_dir is not None:
        for name in ("streaming", "config", "id_column"):
            if getattr(args, name):
                parser.error(f"--{name} goes with --dataset, not --input_dir")
    if args.context_length is not None and args.context_length < 0:
        parser.error("--context_length must be >= 0")
    if args.max_files is not None and args.max_files <= 0:
        parser.error("--max_files must be positive")
    for name in ("min_duration", "max_duration"):
        value = getattr(args, name)
        if value is not None and not (math.isfinite(value) and value > 0):
            parser.error(f"--{name} must be a positive number of seconds, not {value}")
    if args.min_duration and args.max_duration and args.min_duration > args.max_duration:
        parser.error(f"--min_duration {args.min_duration} is above --max_duration {args.max_duration}")
    if args.input_dir is not None and len(args.split) > 1:
        parser.error("--input_dir is one split: give one --split name (run once per folder)")
    try:
        names = [token_split(split) for split in args.split]
    except ValueError as error:
        parser.error(f"--split: {error}")
    if len(set(names)) < len(names):
        parser.error(f"--split: {args.split} name one split of the token set twice")


def token_split(split: str) -> str:
    """The token-set split that split `split` of the input becomes: its name without a slice
    (`train[:100]` -> train), a `datasets` split name (`tokenset.schema.check_split_name`)."""
    from snac_hf.tokenset.schema import check_split_name

    return check_split_name(split.split("[", 1)[0] if split.endswith("]") else split)


def main(argv: list[str] | None = None, prog: str = "scripts/tokenize.py") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    check_args(parser, args)
    return run_command(lambda: analyze(args) if args.analyze_only else tokenize(args), also=(CodecLoadError,))


def analyze(args: argparse.Namespace) -> int:
    from snac_hf.analysis import analyze_folder

    analyze_folder(args.output_dir, num_proc=args.num_proc, split=token_split(args.split[0]))
    return 0


def tokenize(args: argparse.Namespace) -> int:
    from snac_hf.codec.load import load_codec
    from snac_hf.job.launch import check_device, current_processes, single_process_warning
    from snac_hf.job.output_folder import OutputExistsError, check_output_location
    from snac_hf.job.pipeline import TokenizeSettings, tokenize_dataset

    if args.push_to_hub:  # hours of work are not spent on a set that cannot be uploaded
        from snac_hf.tokenset.hub import check_push_target

        check_push_target(args.push_to_hub)
    if args.device:
        check_device(args.device)
    check_output_location(args.input_dir, args.output_dir)
    sources = [(token_split(s), open_input(args, s)) for s in args.split]  # before the model loads
    processes = current_processes(args.device)
    warning = single_process_warning()
    if warning and processes.is_main:
        print(warning, file=sys.stderr)
    check_encoder_options(args, processes.device)
    codec = load_codec(args.model, args.checkpoint)
    settings = TokenizeSettings(
        segment_seconds=args.segment_length,
        context_seconds=args.context_length,
        batch_size=args.batch_size,
        files_per_shard=args.files_per_shard,
        exact=args.exact,
        num_workers=args.num_workers,
        window_seconds=args.window_seconds,
        license=args.license,
        precision=args.precision,
        compile=args.compile,
        min_duration=args.min_duration,
        max_duration=args.max_duration,
    )
    for split, source in sources:
        started = time.perf_counter()
        try:
            meta = tokenize_dataset(
                source,
                codec,
                args.output_dir,
                replace(settings, split=split),
                processes,
                args.overwrite,
                not args.no_progress,
            )
        except OutputExistsError as error:
            return report(str(error))
        if meta is None:  # not the main process: the main one reports
            continue
        label = f" (split {split})" if len(sources) > 1 or split != "train" else ""
        print(summary_line(meta, args.output_dir, time.perf_counter() - started) + label)
    if meta is None:
        return 0
    if meta["files_processed"] and not args.no_analysis:
        from snac_hf.analysis import analyze_folder

        analyze_folder(args.output_dir, num_proc=args.num_proc, split=analyzed_split(meta))
    if args.push_to_hub:
        from snac_hf.tokenset.load import push_to_hub

        try:
            print(f"pushed: {push_to_hub(args.output_dir, args.push_to_hub)}")
        except RuntimeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    failed = meta["files_failed"]
    return 1 if meta["files_processed"] == 0 or (args.strict and failed) else 0


def analyzed_split(meta: dict) -> str:
    """The split the analysis after tokenize reads: train when the set has one, else its first."""
    splits = list(meta.get("splits", {})) or ["train"]
    return "train" if "train" in splits else splits[0]


def check_encoder_options(args: argparse.Namespace, device: str) -> None:
    """`--precision` and `--compile` this device can run (before the model loads)."""
    import torch

    from snac_hf.codec.compile_choice import has_cpp_compiler
    from snac_hf.codec.precision import check_precision

    check_precision(args.precision, device, args.exact)
    if args.compile and torch.device(device).type == "cpu" and not has_cpp_compiler():
        raise ValueError(
            "--compile on CPU needs a C++ compiler (g++ or clang++) for torch.compile; install one"
        )


def open_input(args: argparse.Namespace, split: str = "train"):
    """The job's input (`snac_hf.job.inputs`): a folder, a dataset loaded whole, or a streamed one."""
    from snac_hf.job.inputs import MapInput, StreamInput
    from snac_hf.sources.columns import ColumnError, attach_folder_columns
    from snac_hf.sources.dataset import DatasetRequest, StreamSource, hub_dataset, source_fingerprint
    from snac_hf.sources.folder import scan_folder
    from snac_hf.sources.skipped import skipped_summary

    if args.input_dir is not None:
        scan = scan_folder(args.input_dir, args.output_dir)
        audio = scan.dataset(args.max_files)
        if len(audio) == 0:
            raise FileNotFoundError(
                f"no audio files found in --input_dir {args.input_dir}; {skipped_summary(scan.skipped)}"
            )
        try:
            columns = attach_folder_columns(audio, args.input_dir, args.keep_columns)
            return MapInput(columns, skipped=scan.skipped)
        except ColumnError as error:
            raise ValueError(str(error)) from error
    request = DatasetRequest(
        name=args.dataset,
        split=split,
        audio_column=args.audio_column,
        keep_columns=args.keep_columns,
        id_column=args.id_column,
        max_files=args.max_files,
        config=args.config,
    )
    if args.streaming:
        return StreamInput(StreamSource(request))
    audio = hub_dataset(request)
    if len(audio) == 0:
        raise FileNotFoundError(f"--dataset {args.dataset}: split {split!r} has no rows")
    return MapInput(audio, {"source": source_fingerprint(request)})


def summary_line(meta: dict, output_dir: str, seconds: float) -> str:
    """What the set holds, what this run did (and how fast), and the codec's notice, once."""
    failed, skipped = meta["files_failed"], meta.get("files_skipped", 0)
    line = (
        f"snac_hf: {meta['files_processed']} files encoded, {failed} failed"
        + (f" (see {output_dir}/errors.jsonl)" if failed else "")
        + (f", {skipped} skipped (see {output_dir}/skipped.jsonl)" if skipped else "")
        + f"; {meta['total_duration_seconds'] / 3600:.4f} h of audio -> {output_dir}"
    )
    run = meta.get("this_run")
    if run is not None and run["units"] == 0:
        line += "\nthis run: nothing was left to encode (every unit was done)"
    elif run is not None:
        audio = run["audio_seconds"]
        line += (
            f"\nthis run: {run['files']} files, {audio / 3600:.4f} h of audio in {seconds:.2f} s "
            f"({audio / max(seconds, 1e-9):.1f}x real time)"
        )
    notice = meta["codec"].get("notice")
    return line + (f"\nNOTE: {notice}" if notice else "")


if __name__ == "__main__":
    sys.exit(main(prog="python -m snac_hf.cli.tokenize"))
