"""The cost and the effect of tokenize's default context (issue 28): plain 4 s cuts vs 4 s segments
with the encoder's reach of context, side by side in one run, on CPU.

    python bench/whole_file_codes.py                 # bundled speech (40 files) + one 60 s file
    python bench/whole_file_codes.py --repeats 1 --long_seconds 0

For each set: `SnacEncoder.encode_files` (the pipeline's CPU path: float32, one thread, batch 16,
the fitted offline model) with `--context_length 0` and with the default context, run alternately
`--repeats` times (best kept), as audio-seconds per second of wall time and per CPU-second of
this process (`time.process_time`: much less sensitive to other processes on the machine); and
the share of codes equal to SNAC's own float32 `encode` of each whole file (`encode_alone`), in
float32 (the default precision: see docs/tokenize.md for why float32 is not bit-exact and float64
is). The long file is the bundled speech concatenated (real speech, every file at its 24 kHz
samples), cut to `--long_seconds`. Prints a Markdown table and the load average when the run started.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from snac_hf.codec.encode import SnacEncoder, code_agreement, encode_alone
from snac_hf.codec.load import load_codec
from snac_hf.codec.model_folder import cached_model_dir
from snac_hf.codec.receptive_field import context_for
from snac_hf.sources.audio import decode_audio

SPEECH = Path(__file__).resolve().parents[1] / "tests" / "data" / "speech"


def timed(
    encoder: SnacEncoder, files: list[np.ndarray], segment: int, context: int
) -> tuple[float, float, list]:
    """(wall seconds, CPU seconds of this process, codes) of one `encode_files` call."""
    wall, cpu = time.perf_counter(), time.process_time()
    codes = encoder.encode_files(files, segment, 16, context)
    return time.perf_counter() - wall, time.process_time() - cpu, codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--long_seconds", type=float, default=60.0)
    parser.add_argument("--no_bundled", action="store_true", help="only the long file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    load = os.getloadavg()
    codec = load_codec(str(cached_model_dir("fitted")))
    speech = [decode_audio({"path": str(p), "bytes": None}, 24000) for p in sorted(SPEECH.glob("*.flac"))]
    sets = {} if args.no_bundled else {"bundled speech (40 files, 1.1-7.1 s)": speech}
    if args.long_seconds > 0:
        joined = np.concatenate(speech)
        while len(joined) < args.long_seconds * 24000:
            joined = np.concatenate([joined, joined])
        sets[f"one {args.long_seconds:g} s file (bundled speech joined)"] = [
            joined[: int(args.long_seconds * 24000)]
        ]
    segment = codec.layout.segment_samples(4.0)
    context = context_for(codec)
    encoder = SnacEncoder(codec, "cpu")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; torch threads 1")
    print(f"load average at start: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}; context {context} samples\n")
    print(
        "| set | audio s | context | best wall s | audio-s/s | best CPU s | audio-s per CPU-s | codes equal |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, files in sets.items():
        seconds = sum(len(f) for f in files) / 24000
        reference = [encode_alone(codec, f) for f in files]
        walls: dict[int, list[float]] = {0: [], context: []}
        cpus: dict[int, list[float]] = {0: [], context: []}
        codes: dict[int, list] = {}
        for _ in range(args.repeats):
            for ctx in (0, context):
                wall, cpu, codes[ctx] = timed(encoder, files, segment, ctx)
                walls[ctx].append(wall)
                cpus[ctx].append(cpu)
        for ctx in (0, context):
            wall, cpu = min(walls[ctx]), min(cpus[ctx])
            agreement = code_agreement(codes[ctx], reference)
            label = "0 (plain cuts)" if ctx == 0 else f"{ctx / 24000:.3f} s (default)"
            print(
                f"| {name} | {seconds:.1f} | {label} | {wall:.2f} | {seconds / wall:.2f} | {cpu:.2f} | "
                f"{seconds / cpu:.2f} | {agreement:.5f} |"
            )
    end = os.getloadavg()
    print(f"\nload average at end: {end[0]:.2f}, {end[1]:.2f}, {end[2]:.2f}")


if __name__ == "__main__":
    main()
