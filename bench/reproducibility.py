"""Which codes are reproducible: code agreement between encoding settings, on real speech.

Agreement = fraction of codes (all files, all scales) equal at the same position. Compared here:

- float32 pipeline (default) vs float64 (`--exact`);
- float32 with 1 thread vs 2 threads (what a rank under torchrun gets vs a plain process);
- float64 with 1 thread vs 2 threads;
- a batched encoder (the CUDA path's batching, forced on CPU) vs per-item (the CPU path);
- 4 s segments vs whole files (the reference), and the same with 0.34 s of context.

    python bench/reproducibility.py [--model DIR] [--audio_dir DIR] [--max_files 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

from snac_hf.codec.encode import SnacEncoder, code_agreement, encode_alone  # noqa: E402
from snac_hf.codec.load import load_codec  # noqa: E402
from snac_hf.codec.model_folder import cached_model_dir  # noqa: E402
from snac_hf.sources.audio import decode_audio  # noqa: E402
from snac_hf.sources.folder import folder_dataset  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def encode(codec, recordings, exact=False, threads=2, batched=False, segment_seconds=None, context=0):
    torch.set_num_threads(threads)
    encoder = SnacEncoder(codec, exact=exact)
    encoder.batch_encoder = batched
    long = max(len(r) for r in recordings) + codec.layout.pad_multiple
    segment = (
        codec.layout.segment_samples(segment_seconds) if segment_seconds else codec.layout.padded_length(long)
    )
    started = time.perf_counter()
    codes = encoder.encode_files(recordings, segment, batch_size=16, context_samples=context)
    return codes, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(cached_model_dir()))
    parser.add_argument("--audio_dir", default=str(REPO / "tests" / "data" / "speech"))
    parser.add_argument("--max_files", type=int, default=20)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    codec = load_codec(args.model)
    ds = folder_dataset(args.audio_dir, args.max_files)
    recordings = [decode_audio(v, codec.layout.sampling_rate) for v in ds["audio"]]
    seconds = sum(len(r) for r in recordings) / codec.layout.sampling_rate

    runs = {
        "float32_2threads": encode(codec, recordings),
        "float32_1thread": encode(codec, recordings, threads=1),
        "float64_2threads": encode(codec, recordings, exact=True),
        "float64_1thread": encode(codec, recordings, exact=True, threads=1),
        "float32_batched_encoder": encode(codec, recordings, batched=True),
        "float32_segments_4s": encode(codec, recordings, segment_seconds=4.0),
        "float32_segments_4s_context": encode(codec, recordings, segment_seconds=4.0, context=4 * 2048),
    }
    torch.set_num_threads(2)
    reference = [encode_alone(codec, r) for r in recordings]  # SNAC's own encode, file alone, 2 threads
    codes = {name: run[0] for name, run in runs.items()}
    agreement = {
        "default_vs_exact": code_agreement(codes["float32_2threads"], codes["float64_2threads"]),
        "float32_1_vs_2_threads": code_agreement(codes["float32_1thread"], codes["float32_2threads"]),
        "float64_1_vs_2_threads": code_agreement(codes["float64_1thread"], codes["float64_2threads"]),
        "batched_vs_per_item_encoder": code_agreement(
            codes["float32_batched_encoder"], codes["float32_2threads"]
        ),
        "pipeline_whole_files_vs_reference": code_agreement(codes["float32_2threads"], reference),
        "segments_4s_vs_reference": code_agreement(codes["float32_segments_4s"], reference),
        "segments_4s_context_vs_reference": code_agreement(codes["float32_segments_4s_context"], reference),
    }
    result = {
        "model": args.model,
        "model_weights": codec.describe()["weights"],
        "files": len(recordings),
        "audio_seconds": round(seconds, 2),
        "agreement": {k: round(v, 5) for k, v in agreement.items()},
        "audio_seconds_per_second": {name: round(seconds / run[1], 2) for name, run in runs.items()},
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
