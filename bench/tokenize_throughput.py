"""Tokenize throughput: model-only encode vs the full pipeline vs an original-style loop.

All three run in one process, on the same device, model and batch size, over the same audio:

- model-only: `SNAC.encode` on the exact batches the pipeline forms (audio already decoded and
  cut, in memory), and the same per item (batch 1): on CPU the pipeline sends every segment
  through the encoder alone (see snac_hf/codec/encode.py), so the per-item figure is its compute ceiling;
- pipeline: `tokenize_dataset` from the audio folder to Parquet shards (decode, segment, bucket,
  encode, per-item quantization, write, metadata);
- original-style loop: each file decoded, split into 4 s segments (the last zero-padded), the
  segments of one file encoded together, one file at a time, rows written at the end.

Reported as audio-seconds per second and ratios (pipeline / model-only, pipeline / loop).

    python bench/tokenize_throughput.py [--model DIR] [--audio_dir DIR] [--batch_size 16] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

from snac_hf.codec.encode import length_buckets, plan_segments  # noqa: E402
from snac_hf.codec.load import load_codec  # noqa: E402
from snac_hf.codec.model_folder import cached_model_dir  # noqa: E402
from snac_hf.job.pipeline import TokenizeSettings, tokenize_dataset  # noqa: E402
from snac_hf.sources.audio import decode_audio  # noqa: E402
from snac_hf.sources.folder import folder_dataset  # noqa: E402
from snac_hf.tokenset.schema import rows_to_table, write_parquet  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def audio_folder(source: Path, repeat: int, into: Path) -> Path:
    """`repeat` copies of every file of `source` (more audio without other content)."""
    for copy in range(repeat):
        for path in sorted(source.iterdir()):
            if path.suffix == ".flac":
                shutil.copy(path, into / f"{copy:03d}_{path.name}")
    return into


@torch.inference_mode()
def model_only(codec, recordings: list[np.ndarray], batch_size: int, segment: int, device: str) -> float:
    """Seconds spent in `SNAC.encode` on the pipeline's batches (prepared beforehand).

    With `batch_size` 1 this is the pipeline's own CPU path (each segment through SNAC alone)."""
    model = codec.model.to(device)
    pieces = [
        recording[s.start : s.stop]
        for r, recording in enumerate(recordings)
        for s in plan_segments(r, len(recording), segment)
    ]
    batches = []
    for members in length_buckets([len(p) for p in pieces], codec.layout.pad_multiple, batch_size):
        padded = codec.layout.padded_length(max(len(pieces[i]) for i in members))
        batch = np.zeros((len(members), 1, padded), np.float32)
        for row, i in zip(batch, members):
            row[0, : len(pieces[i])] = pieces[i]
        batches.append(torch.from_numpy(batch).to(device))
    _sync(device)
    started = time.perf_counter()
    for batch in batches:
        model.encode(batch)
    _sync(device)
    return time.perf_counter() - started


@torch.inference_mode()
def original_loop(codec, folder: Path, out: Path, device: str) -> float:
    """The original script's shape: per file, 4 s segments stacked and encoded, rows at the end."""
    model = codec.model.to(device)
    started = time.perf_counter()
    rows = []
    segment = int(4.0 * codec.layout.sampling_rate)
    for row in folder_dataset(str(folder)):
        samples = decode_audio(row["audio"], codec.layout.sampling_rate)
        n = -(-len(samples) // segment)
        padded = np.zeros(n * segment, np.float32)
        padded[: len(samples)] = samples
        codes = model.encode(torch.from_numpy(padded.reshape(n, 1, segment)).to(device))
        flat = [c.reshape(-1).cpu().numpy() for c in codes]
        rows.append(
            {"id": row["id"], "file_path": row["file_path"], "duration": len(samples) / 24000, "codes": flat}
        )
    write_parquet(rows_to_table(rows, codec.layout.n_scales), out / "tokens_batch_0000.parquet")
    _sync(device)
    return time.perf_counter() - started


def pipeline(codec, folder: Path, out: Path, batch_size: int, device: str) -> float:
    from snac_hf.job.pipeline import Processes

    settings = TokenizeSettings(batch_size=batch_size)
    started = time.perf_counter()
    tokenize_dataset(
        folder_dataset(str(folder)), codec, str(out), settings, Processes(device=device), progress=False
    )
    _sync(device)
    return time.perf_counter() - started


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
        "?",
    )
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{cpu}, {os.cpu_count()} cores, {gpu}, torch {torch.__version__}, Python {platform.python_version()}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model", default=str(cached_model_dir()), help="model folder (default: fitted offline)"
    )
    parser.add_argument("--audio_dir", default=str(REPO / "tests" / "data" / "speech"))
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=1, help="copies of the audio (more seconds)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    codec = load_codec(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "audio").mkdir()
        folder = audio_folder(Path(args.audio_dir), args.repeat, Path(tmp) / "audio")
        recordings = [
            decode_audio(v, codec.layout.sampling_rate) for v in folder_dataset(str(folder))["audio"]
        ]
        seconds = sum(len(r) for r in recordings) / codec.layout.sampling_rate
        segment = codec.layout.segment_samples(4.0)
        model_only(codec, recordings[:2], args.batch_size, segment, args.device)  # warm-up
        times = {
            "model_only": model_only(codec, recordings, args.batch_size, segment, args.device),
            "model_only_per_item": model_only(codec, recordings, 1, segment, args.device),
            "pipeline": pipeline(codec, folder, Path(tmp) / "pipeline", args.batch_size, args.device),
            "original_loop": original_loop(codec, folder, Path(tmp), args.device),
        }
    speed = {name: seconds / t for name, t in times.items()}
    result = {
        "machine": machine(),
        "device": args.device,
        "model": args.model,
        "model_weights": codec.describe()["weights"],
        "batch_size": args.batch_size,
        "audio_seconds": round(seconds, 2),
        "files": len(recordings),
        "audio_seconds_per_second": {k: round(v, 3) for k, v in speed.items()},
        "pipeline_over_model_only": round(speed["pipeline"] / speed["model_only"], 3),
        "pipeline_over_model_only_per_item": round(speed["pipeline"] / speed["model_only_per_item"], 3),
        "pipeline_over_original_loop": round(speed["pipeline"] / speed["original_loop"], 3),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
