"""Encoder options on this CPU: speed of --compile / --precision against eager fp32, and their codes.

    python bench/encoder_options.py [--model DIR] [--threads 1 2] [--files N] [--audio_dir DIR] [--out DIR]

For each torch thread count (each in a fresh process with an empty inductor cache, so the
compilation measured is a cold one), on the bundled speech (tests/data/speech) through
`SnacEncoder.encode_files` (4 s segments, batch 16: the pipeline's CPU path):

- eager fp32 (the baseline), eager bf16 and fp16 autocast (where the CPU computes them), and
  the compiled fp32 encoder: audio-seconds per second of a timed pass after a warm-up (eager: one
  file; compiled: a whole first pass, whose extra time over the timed pass is the compilation);
- their codes against eager fp32 (agreement, and whether equal bit for bit) and against
  `--exact` (float64) codes.

From these: the break-even of compiling = compile seconds / (1/eager rate - 1/compiled rate)
audio seconds, which `snac_hf.codec.compile_choice.LONG_ENOUGH_SECONDS` is set from. Writes
encoder_options.json (every figure, machine, `uptime`) under --out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

from snac_hf.codec.encode import SnacEncoder, code_agreement  # noqa: E402
from snac_hf.codec.load import load_codec  # noqa: E402
from snac_hf.codec.model_folder import cached_model_dir  # noqa: E402
from snac_hf.codec.precision import native  # noqa: E402
from snac_hf.sources.audio import decode_audio  # noqa: E402
from snac_hf.sources.folder import folder_dataset  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SPEECH = REPO / "tests" / "data" / "speech"
#: (name, precision, compile, exact) of each configuration a worker process measures.
CONFIGS = (
    ("eager fp32", "fp32", False, False),
    ("exact (float64)", "fp32", False, True),
    ("eager bf16", "bf16", False, False),
    ("eager fp16", "fp16", False, False),
    ("compiled fp32", "fp32", True, False),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(cached_model_dir()), help="model folder (default: offline)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--files", type=int, help="only the first N recordings")
    parser.add_argument(
        "--audio_dir", default=str(SPEECH), help="the recordings (default: the bundled speech)"
    )
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "encoder_options"))
    parser.add_argument(
        "--eager_only",
        action="store_true",
        help="skip the compiled encoder (the suite's tiny form: no compilation)",
    )
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)  # thread count of a worker
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S %z"), "runs": {}}
    for threads in args.threads:
        report["runs"][str(threads)] = run_worker(args, threads, out)
        (out / "encoder_options.json").write_text(json.dumps(report, indent=2) + "\n")
    report["across_threads"] = across_threads(out, args.threads)
    report["uptime_end"] = uptime()
    (out / "encoder_options.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(summary(report), indent=2))
    return 0


def machine() -> dict:
    return {
        "processor": cpu_name(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "uptime_start": uptime(),
    }


def cpu_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "")


def uptime() -> str:
    done = subprocess.run(["uptime"], capture_output=True, text=True)
    return done.stdout.strip()


def run_worker(args: argparse.Namespace, threads: int, out: Path) -> dict:
    """One thread count in a fresh process with an empty inductor cache (a cold compilation)."""
    with tempfile.TemporaryDirectory(prefix="inductor_") as cache:
        env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache, "OMP_NUM_THREADS": str(threads)}
        command = [
            sys.executable,
            __file__,
            "--worker",
            str(threads),
            "--model",
            args.model,
            "--out",
            str(out),
        ]
        command += ["--files", str(args.files)] if args.files else []
        command += ["--audio_dir", args.audio_dir]
        command += ["--eager_only"] if args.eager_only else []
        subprocess.run(command, check=True, env=env)
    return json.loads((out / f"threads{threads}.json").read_text())


def worker(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.worker)
    codec = load_codec(args.model)
    rows = folder_dataset(args.audio_dir)
    files = [decode_audio(v, codec.layout.sampling_rate) for v in rows["audio"][: args.files]]
    audio_seconds = sum(map(len, files)) / codec.layout.sampling_rate
    result: dict = {"threads": torch.get_num_threads(), "files": len(files), "audio_seconds": audio_seconds}
    codes: dict[str, list[list[np.ndarray]]] = {}
    for name, precision, compile, exact in CONFIGS:
        if compile and args.eager_only:
            continue
        if precision != "fp32" and not native(precision, torch.device("cpu")):
            result[name] = {"refused": f"this CPU has no native {precision}"}
            continue
        result[name], codes[name] = measure(codec, files, precision, compile, exact)
        result[name]["audio_s_per_s"] = audio_seconds / result[name]["timed_seconds"]
        print(f"threads {args.worker}: {name}: {result[name]}", file=sys.stderr, flush=True)
    for name in codes:
        result[name]["agreement_vs_eager_fp32"] = code_agreement(codes[name], codes["eager fp32"])
        result[name]["bit_equal_eager_fp32"] = bit_equal(codes[name], codes["eager fp32"])
        result[name]["agreement_vs_exact"] = code_agreement(codes[name], codes["exact (float64)"])
    baseline = result["eager fp32"]["audio_s_per_s"]
    for name in codes:
        result[name]["speed_vs_eager_fp32"] = result[name]["audio_s_per_s"] / baseline
    result["break_even_audio_seconds"] = None
    if "compiled fp32" in codes:
        compiled = result["compiled fp32"]
        saved_per_audio_s = 1 / baseline - 1 / compiled["audio_s_per_s"]
        if saved_per_audio_s > 0:
            result["break_even_audio_seconds"] = compiled["compile_seconds"] / saved_per_audio_s
    out = Path(args.out)
    np.savez(out / f"codes_threads{args.worker}.npz", **flatten(codes))
    (out / f"threads{args.worker}.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


def measure(codec, files, precision: str, compile: bool, exact: bool) -> tuple[dict, list]:
    """Seconds of the warm-up and of a timed pass over all files; the timed pass's codes."""
    segment = codec.layout.segment_samples(4.0)
    encoder = SnacEncoder(codec, "cpu", exact=exact, precision=precision, compile=compile)
    started = time.perf_counter()
    encoder.encode_files(files if compile else files[:1], segment, 16)
    warmup = time.perf_counter() - started
    started = time.perf_counter()
    codes = encoder.encode_files(files, segment, 16)
    timed = time.perf_counter() - started
    figures = {"warmup_seconds": warmup, "timed_seconds": timed}
    if compile:  # the first pass did the same work plus the compilations (one static, one dynamic)
        figures["compile_seconds"] = warmup - timed
    return figures, codes


def bit_equal(a: list[list[np.ndarray]], b: list[list[np.ndarray]]) -> bool:
    return all(np.array_equal(x, y) for fa, fb in zip(a, b, strict=True) for x, y in zip(fa, fb, strict=True))


def flatten(codes: dict[str, list[list[np.ndarray]]]) -> dict[str, np.ndarray]:
    return {
        f"{name}|{i}|{k}": c
        for name, per_file in codes.items()
        for i, f in enumerate(per_file)
        for k, c in enumerate(f)
    }


def unflatten(npz) -> dict[str, list[list[np.ndarray]]]:
    nested: dict[str, dict[int, dict[int, np.ndarray]]] = {}
    for key in npz.files:
        name, i, k = key.split("|")
        nested.setdefault(name, {}).setdefault(int(i), {})[int(k)] = npz[key]
    return {n: [[f[k] for k in sorted(f)] for _, f in sorted(d.items())] for n, d in nested.items()}


def across_threads(out: Path, threads: list[int]) -> dict:
    """Each configuration's codes with the first thread count vs each other one."""
    runs = {t: unflatten(np.load(out / f"codes_threads{t}.npz")) for t in threads}
    first, result = threads[0], {}
    for other in threads[1:]:
        for name in runs[first]:
            if name in runs[other]:
                a, b = runs[first][name], runs[other][name]
                result[f"{name}: {first} vs {other} threads"] = {
                    "agreement": code_agreement(a, b),
                    "bit_equal": bit_equal(a, b),
                }
    return result


def summary(report: dict) -> dict:
    keys = ("audio_s_per_s", "speed_vs_eager_fp32", "agreement_vs_eager_fp32", "bit_equal_eager_fp32")
    keys += ("agreement_vs_exact", "compile_seconds")
    return {
        threads: {
            name: {k: v[k] for k in keys if k in v} if isinstance(v, dict) else v
            for name, v in run.items()
            if name not in ("threads", "files")
        }
        for threads, run in report["runs"].items()
    }


if __name__ == "__main__":
    sys.exit(main())
