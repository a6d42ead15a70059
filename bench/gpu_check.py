"""GPU check: SNAC.encode's own speed, the pipeline's speed, and the GPU's code agreement, in one command.

    python bench/gpu_check.py [--model M] [--output_dir D] [--device cuda] [--tiny]
        [--input_dir DIR] [--input_hours 1.0] [--batch_size B] [--num_workers W] [--work_dir DIR]
        [--budget_s S] [--quick]

`--quick` is the run that fits a 10-minute GPU lease: `--budget_s 480` and 10 minutes of looped
speech for the pipeline. With a budget, sections run most informative first (1, 2, 3, 5, 4
below) and a section starts only while time is left (a tokenize run is killed at the budget);
gpu_check.json and gpu_check.md are rewritten after every section, so a run cut short, or one
whose section fails, keeps what it finished and says why the rest is missing.

Writes gpu_check.json (every figure, the machine, torch/CUDA versions, the load) and gpu_check.md
(the tables, also printed) to --output_dir (default bench/results/gpu_check/). It measures:

1. **SNAC.encode alone**: the model's own `encode` (float32, the batch already on the device, no
   pipeline) on batches of B segments of real speech of 4.0 s each, B = 1, 2, 4, ..., 256. Rate =
   4.0 B / the median seconds of a call (calls after 2 warm-up calls, at least 3 and at least 1 s
   of them; on CUDA each call is timed between two `torch.cuda.synchronize()`); peak memory =
   `torch.cuda.max_memory_allocated` over the calls (model included). The sweep stops at the
   first B that runs out of memory.
2. **The pipeline**: `scripts/tokenize.py` in a subprocess, as a user runs it (`--batch_size B
   --num_workers W --device D --no_analysis --no_progress --overwrite`), on --input_dir; default: a
   folder of 60 s 16-bit WAV files at the codec's rate, --input_hours of them (1 h), made by
   repeating the bundled speech, so that start-up is small next to the work. B defaults to the
   fastest B of 1, W to the cores. Rate = `total_duration_seconds` (metadata.json) / the seconds
   the command prints for the job (model loading and interpreter start-up excluded; printed to
   0.1 s). A second run on the first half of the files gives the marginal rate = difference in
   audio / difference in the two commands' wall times, in which every fixed cost cancels. Goals:
   rate >= 0.9 x the best SNAC.encode rate, and >= 5000x real time.
3. **Code agreement** (the share of codes equal at the same position, `snac_hf.codec.encode.code_agreement`)
   on the bundled speech (tests/data/speech): the device's default tokenize, and its `--exact`
   tokenize, vs a CPU `--exact` tokenize (the reference). In this process, on the device:
   `SnacEncoder` at batch size 1 vs B (does batching change a code there?), `quantize` vs SNAC's
   own quantizer item by item on the same latents, and (CUDA) float32 with TF32 off vs the reference.
5. **Encoder options** on the device: `--precision` bf16/fp16 autocast (where the device computes
   them natively; else the refusal is recorded) and the compiled fp32 encoder, against eager fp32:
   `encode_files` seconds on the bundled speech after a warm-up (compiled: the first pass's extra
   time is the compilation), codes vs fp32 and vs the CPU `--exact` reference.
4. **Cost of --exact** on the device: `SnacEncoder.encode_files` seconds in float64 / float32 on the
   bundled speech repeated to >= 10 min, each after a warm-up call.

`--tiny` (for the test suite, with `--device cpu`): the same on two short bundled recordings
(en_005_001, en_007_003: 2.6 s) as both inputs, B = 1, 2 with 1.0 s segments, one warm-up and
one timed call, 1 worker, no repetition for the cost of --exact, encoder options fp32 and bf16
only (no compilation: 20-90 s on CPU). With the device and the
reference both on the CPU, the device's `--exact` run is the reference itself, and a run asked
for twice is made once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

from snac_hf.codec.encode import SnacEncoder, code_agreement, model_on, quantize  # noqa: E402
from snac_hf.codec.load import Codec, load_codec  # noqa: E402
from snac_hf.codec.model_folder import DEFAULT_MODEL  # noqa: E402
from snac_hf.codec.precision import PrecisionError, check_precision  # noqa: E402
from snac_hf.sources.audio import decode_audio  # noqa: E402
from snac_hf.sources.folder import find_audio_files, folder_dataset  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SPEECH = REPO / "tests" / "data" / "speech"
TOKENIZE = REPO / "scripts" / "tokenize.py"
RATE_GOAL, REAL_TIME_GOAL = 0.9, 5000.0
#: --quick: the whole check inside a 10-minute device lease, start-up and copies included.
QUICK_BUDGET_S, QUICK_INPUT_HOURS = 480.0, 10 / 60


@dataclass(frozen=True)
class Plan:
    """How much to measure: the full check, or the tiny one the test suite runs."""

    batch_sizes: tuple[int, ...]
    segment_seconds: float  # of SNAC.encode's sweep
    warmup_calls: int
    min_calls: int
    min_seconds: float
    speech_files: tuple[str, ...] | None  # these bundled recordings; None: all
    speech_is_input: bool  # the speech is also the pipeline's input (no long input built)
    exact_cost_seconds: float  # speech repeated to at least this much audio for the cost of --exact
    workers: int
    measure_compile: bool = True  # a compilation costs 20-90 s on CPU: not in the suite's --tiny
    precisions: tuple[str, ...] = ("fp32", "bf16", "fp16")  # of the encoder options measured


FULL = Plan(tuple(2**k for k in range(9)), 4.0, 2, 3, 1.0, None, False, 600.0, os.cpu_count() or 1)
TINY = Plan(
    (1, 2), 1.0, 1, 1, 0.0, ("en_005_001.flac", "en_007_003.flac"), True, 0.0, 1, False, ("fp32", "bf16")
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="Hub id or local model folder")
    parser.add_argument("--output_dir", default=str(REPO / "bench" / "results" / "gpu_check"))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="a few seconds of audio (the test suite)")
    parser.add_argument("--input_dir", help="the pipeline's input (default: built from the bundled speech)")
    parser.add_argument("--input_hours", type=float, default=1.0, help="size of the built input")
    parser.add_argument("--batch_size", type=int, help="the pipeline's (default: the fastest SNAC.encode B)")
    parser.add_argument("--num_workers", type=int, help="the pipeline's decode workers (default: the cores)")
    parser.add_argument("--work_dir", help="keep inputs and token sets here (default: a temporary folder)")
    parser.add_argument(
        "--budget_s",
        type=float,
        help="stop starting sections after this many seconds; what finished is written (default: none)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the 10-minute preset: --budget_s 480, 10 min of looped speech for the pipeline",
    )
    args = parser.parse_args()
    if args.quick:
        args.budget_s = args.budget_s or QUICK_BUDGET_S
        args.input_hours = QUICK_INPUT_HOURS if args.input_hours == 1.0 else args.input_hours
    plan = TINY if args.tiny else FULL
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but torch sees no CUDA device (use --device cpu --tiny on a CPU)")
    out = Path(args.output_dir)
    clock = Budget(args.budget_s)
    if args.work_dir:
        report = run_check(args, plan, device, Path(args.work_dir), out, clock)
    else:
        with tempfile.TemporaryDirectory(prefix="gpu_check_") as work:
            report = run_check(args, plan, device, Path(work), out, clock)
    table = write_report(report, out)
    print(table)
    print(f"wrote {out / 'gpu_check.json'} and {out / 'gpu_check.md'}")
    return 0


class Budget:
    """The wall-clock budget: sections start only while time is left (None: no limit)."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.started = time.monotonic()

    def left(self) -> float | None:
        return None if self.seconds is None else self.seconds - (time.monotonic() - self.started)

    def spent(self) -> bool:
        left = self.left()
        return left is not None and left <= 0


def write_report(report: dict, out: Path) -> str:
    """gpu_check.json and gpu_check.md as they stand (after every section: a run cut short keeps
    what it finished)."""
    out.mkdir(parents=True, exist_ok=True)
    report["machine"]["loadavg_end"] = list(os.getloadavg())
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    (out / "gpu_check.md").write_text(table)
    return table


def run_check(
    args: argparse.Namespace, plan: Plan, device: torch.device, work: Path, out: Path, clock: Budget
) -> dict:
    """The sections, most informative first, each written as soon as it is done; a section that
    cannot start within the budget, or fails, is recorded as such and the next one still runs."""
    report: dict = {"machine": machine(device), "started": time.strftime("%Y-%m-%d %H:%M:%S %z")}
    report["budget_s"] = clock.seconds
    codec = load_codec(args.model)
    rate = codec.layout.sampling_rate
    speech_dir = speech_subset(work / "speech", plan.speech_files)
    rows = folder_dataset(str(speech_dir))
    speech = {key: decode_audio(value, rate) for key, value in zip(rows["id"], rows["audio"])}
    seconds = sum(map(len, speech.values())) / rate
    report["speech"] = {"dir": str(speech_dir), "files": len(speech), "seconds": seconds}
    sweep = snac_encode_sweep(codec, device, list(speech.values()), plan, clock)
    fastest = max((r for r in sweep if "audio_s_per_s" in r), key=lambda r: r["audio_s_per_s"])
    batch = args.batch_size or fastest["batch_size"]
    workers = plan.workers if args.num_workers is None else args.num_workers
    runs = Runs(args.model, work / "tokens", batch, workers, clock)
    if args.input_dir:
        input_dir = Path(args.input_dir)
    elif plan.speech_is_input:
        input_dir = speech_dir
    else:
        input_dir = build_input(work / "input", list(speech.values()), rate, args.input_hours * 3600)
    report["settings"] = {
        "model": args.model,
        "codec_notice": codec.notice,
        "device": str(device),
        "tiny": args.tiny,
        "input_dir": str(input_dir),
        "batch_size": batch,
        "num_workers": workers,
        "tokenize_flags": runs.flags,
        "tf32": {
            "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
            "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        },
    }
    report["snac_encode"] = {"segment_seconds": plan.segment_seconds, "runs": sweep, "best": fastest}
    write_report(report, out)
    sections = {
        "pipeline": lambda: pipeline(runs, input_dir, device, fastest["audio_s_per_s"]),
        "agreement": lambda: agreements(runs, codec, device, speech_dir, speech, batch),
        "encoder_options": lambda: encoder_options(codec, device, speech_dir, speech, batch, plan, runs),
        "exact_cost": lambda: exact_cost(codec, device, list(speech.values()), batch, plan),
    }
    for name, section in sections.items():
        report[name] = run_section(section, clock)
        write_report(report, out)
    return report


def run_section(section, clock: Budget) -> dict:
    """A section's figures, or why there are none (the budget was spent; what it raised)."""
    if clock.spent():
        return {"not_run": f"the budget of {clock.seconds:.0f} s was spent"}
    try:
        return section()
    except (subprocess.TimeoutExpired, BudgetSpent) as error:
        return {"not_run": f"cut at the budget ({type(error).__name__})"}
    except Exception as error:  # a failing section must not cost the others (a GPU run is scarce)
        return {"failed": f"{type(error).__name__}: {str(error)[-2000:]}"}


class BudgetSpent(RuntimeError):
    """A section's loop saw the budget run out."""


def machine(device: torch.device) -> dict:
    info = {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "loadavg_start": list(os.getloadavg()),
    }
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        info["gpu"] = properties.name
        info["gpu_memory_gib"] = round(properties.total_memory / 2**30, 1)
        info["gpu_capability"] = f"{properties.major}.{properties.minor}"
    return info


def speech_subset(folder: Path, names: tuple[str, ...] | None) -> Path:
    """The bundled speech, or a folder holding copies of the named recordings."""
    if names is None:
        return SPEECH
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(SPEECH / name, folder / name)
    return folder


def build_input(
    folder: Path, speech: list[np.ndarray], rate: int, seconds: float, file_seconds: float = 60.0
) -> Path:
    """`seconds` of audio as 16-bit mono WAV files of `file_seconds` at `rate`, each one cut from
    the bundled speech played in a loop (file i starts where file i-1 ended)."""
    loop = np.concatenate(speech)
    per_file = round(file_seconds * rate)
    n_files = max(1, round(seconds / file_seconds))
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_files):
        start = i * per_file % len(loop)
        samples = np.take(loop, np.arange(start, start + per_file), mode="wrap")
        with wave.open(str(folder / f"long_{i:04d}.wav"), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return folder


def segments(speech: list[np.ndarray], n: int, size: int) -> np.ndarray:
    """(n, 1, size): consecutive pieces of the speech played in a loop."""
    loop = np.concatenate(speech)
    return np.take(loop, np.arange(n * size), mode="wrap").reshape(n, 1, size).astype(np.float32)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def snac_encode_sweep(
    codec: Codec, device: torch.device, speech: list[np.ndarray], plan: Plan, clock: Budget
) -> list[dict]:
    """Rate and peak memory of SNAC's own `encode` per batch size (item 1 of the module docstring);
    batch 1 always, larger ones while the budget lasts."""
    model = model_on(codec, device, torch.float32)
    size = round(plan.segment_seconds * codec.layout.sampling_rate)
    results = []
    for batch in plan.batch_sizes:
        if results and clock.spent():
            results.append({"batch_size": batch, "not_run": "budget spent"})
            break
        try:
            results.append(time_encode(model, device, segments(speech, batch, size), plan))
        except (torch.cuda.OutOfMemoryError, MemoryError) as error:
            results.append({"batch_size": batch, "oom": f"{type(error).__name__}"})
            break
        finally:
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return results


@torch.inference_mode()
def time_encode(model: torch.nn.Module, device: torch.device, batch: np.ndarray, plan: Plan) -> dict:
    audio = torch.from_numpy(batch).to(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(plan.warmup_calls):
        model.encode(audio)
    seconds: list[float] = []
    while len(seconds) < plan.min_calls or sum(seconds) < plan.min_seconds:
        synchronize(device)
        started = time.perf_counter()
        model.encode(audio)
        synchronize(device)
        seconds.append(time.perf_counter() - started)
    per_call = float(np.median(seconds))
    audio_seconds = batch.shape[0] * batch.shape[-1] / model.sampling_rate
    return {
        "batch_size": batch.shape[0],
        "audio_s_per_s": audio_seconds / per_call,
        "seconds_per_call": per_call,
        "calls": len(seconds),
        "peak_memory_mib": torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None,
    }


class Runs:
    """`scripts/tokenize.py` runs in subprocesses; a run asked for twice is made once."""

    def __init__(self, model: str, folder: Path, batch: int, workers: int, clock: Budget):
        self.model, self.folder, self.batch, self.workers, self.clock = model, folder, batch, workers, clock
        self.done: dict[tuple, dict] = {}
        self.flags = [f for f in ("--device", "--num_workers") if f in tokenize_help()]

    def run(self, input_dir: Path, device: torch.device, exact: bool = False, max_files: int | None = None):
        key = (str(input_dir), str(device), exact, max_files)
        if key not in self.done:
            self.done[key] = self._run(
                input_dir, device, exact, max_files, self.folder / f"run{len(self.done)}"
            )
        return self.done[key]

    def _run(self, input_dir: Path, device: torch.device, exact: bool, max_files: int | None, out: Path):
        command = [sys.executable, str(TOKENIZE), "--input_dir", str(input_dir), "--output_dir", str(out)]
        command += ["--model", self.model, "--batch_size", str(self.batch)]
        command += ["--no_analysis", "--no_progress", "--overwrite"]
        command += ["--exact"] * exact + (["--max_files", str(max_files)] if max_files else [])
        command += ["--device", str(device)] if "--device" in self.flags else []
        command += ["--num_workers", str(self.workers)] if "--num_workers" in self.flags else []
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if device.type == "cpu":  # also where tokenize has no --device flag
            env["CUDA_VISIBLE_DEVICES"] = ""
        started = time.perf_counter()
        left = self.clock.left()
        if left is not None and left <= 0:
            raise BudgetSpent("no time left for a tokenize run")
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=left)
        command_seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        meta = json.loads((out / "metadata.json").read_text())
        printed = re.search(r"h of audio in ([0-9.]+) s", done.stdout)
        return {
            "command": " ".join(command[1:]),
            "device": str(device),
            "exact": exact,
            "files": meta["files_processed"],
            "files_failed": meta["files_failed"],
            "audio_seconds": meta["total_duration_seconds"],
            "job_seconds": float(printed.group(1)) if printed else None,
            "command_seconds": command_seconds,
            "output_dir": str(out),
        }


def tokenize_help() -> str:
    from snac_hf.cli.tokenize import build_parser

    return build_parser().format_help()


def pipeline(runs: Runs, input_dir: Path, device: torch.device, best_encode_rate: float) -> dict:
    """Item 2 of the module docstring."""
    n_files = len(find_audio_files(str(input_dir)))
    full = runs.run(input_dir, device)
    half = runs.run(input_dir, device, max_files=n_files // 2) if n_files >= 2 else None
    rate = full["audio_seconds"] / full["job_seconds"] if full["job_seconds"] else None
    marginal = None
    if half is not None and full["command_seconds"] > half["command_seconds"]:
        extra = full["audio_seconds"] - half["audio_seconds"]
        marginal = extra / (full["command_seconds"] - half["command_seconds"])
    return {
        "runs": [r for r in (full, half) if r is not None],
        "audio_s_per_s": rate,
        "marginal_audio_s_per_s": marginal,
        "ratio_to_best_snac_encode": rate / best_encode_rate if rate else None,
        "marginal_ratio_to_best_snac_encode": marginal / best_encode_rate if marginal else None,
        "ratio_goal_met": bool(rate and rate / best_encode_rate >= RATE_GOAL),
        "real_time_goal_met": bool(rate and rate >= REAL_TIME_GOAL),
    }


def read_codes(folder: str) -> dict[str, list[np.ndarray]]:
    """id -> codes per scale, from a token-set folder's shards."""
    codes = {}
    for shard in sorted(Path(folder, "data").glob("*.parquet")):
        table = pq.read_table(shard).to_pydict()
        scales = sorted(c for c in table if re.fullmatch(r"tokens_scale_\d+", c))
        for i, key in enumerate(table["id"]):
            codes[key] = [np.asarray(table[c][i]) for c in scales]
    return codes


def agree(run: dict, reference: dict) -> float:
    mine, theirs = read_codes(run["output_dir"]), read_codes(reference["output_dir"])
    if set(mine) != set(theirs):
        raise ValueError(f"{run['output_dir']} and {reference['output_dir']} hold different files")
    return code_agreement([mine[k] for k in sorted(mine)], [theirs[k] for k in sorted(theirs)])


def agreements(
    runs: Runs,
    codec: Codec,
    device: torch.device,
    speech_dir: Path,
    speech: dict[str, np.ndarray],
    batch: int,
) -> dict:
    """Item 3 of the module docstring. `speech`: id -> samples of the bundled recordings."""
    cpu = torch.device("cpu")
    reference = runs.run(speech_dir, cpu, exact=True)
    reference_codes = read_codes(reference["output_dir"])
    if set(reference_codes) != set(speech):
        raise ValueError(f"the reference run holds other files than {speech_dir}")
    ids = sorted(speech)
    files = [speech[i] for i in ids]
    result = {
        "reference": "CPU --exact tokenize of the bundled speech",
        "device_default_vs_reference": agree(runs.run(speech_dir, device), reference),
        # on the CPU the device's --exact run is the reference itself
        "device_exact_vs_reference": None
        if device == cpu
        else agree(runs.run(speech_dir, device, True), reference),
    }
    segment = codec.layout.segment_samples(4.0)
    encoder = SnacEncoder(codec, device)
    many = max(2, batch)
    one = encoder.encode_files(files, segment, batch_size=1)
    result["batch_sizes_compared"] = [1, many]
    result["device_batch_1_vs_batch_b"] = code_agreement(one, encoder.encode_files(files, segment, many))
    result["quantize_vs_snac_quantizer_item_by_item"] = quantizer_agreement(encoder, files, segment)
    if device.type == "cuda":
        reference_files = [reference_codes[i] for i in ids]
        result["device_float32_no_tf32_vs_reference"] = no_tf32_agreement(
            encoder, files, segment, batch, reference_files
        )
    return result


@torch.inference_mode()
def quantizer_agreement(encoder: SnacEncoder, speech: list[np.ndarray], segment: int) -> dict:
    """`quantize` on a batch vs SNAC's quantizer on each item alone, on the device's latents of the
    speech cut into whole segments."""
    pieces = segments(speech, max(1, sum(map(len, speech)) // segment), segment)
    audio = torch.from_numpy(pieces).to(encoder.device, encoder.dtype)
    latents = encoder.model.encoder(audio)
    z_batch, codes = quantize(encoder.model.quantizer, latents)
    items = [encoder.model.quantizer(item) for item in torch.split(latents, 1)]
    batched = torch.cat(codes, 1)
    alone = torch.cat([torch.cat(c, 1) for _, c in items])
    return {
        "items": len(pieces),
        "codes_agreement": float((batched == alone).double().mean()),
        "z_q_bit_equal": bool(torch.equal(z_batch, torch.cat([z for z, _ in items]))),
    }


def no_tf32_agreement(
    encoder: SnacEncoder, files: list[np.ndarray], segment: int, batch: int, reference: list[list[np.ndarray]]
) -> float:
    """float32 codes with TF32 off in cuDNN and cuBLAS vs the reference codes of the same files."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        codes = encoder.encode_files(files, segment, batch)
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
    return code_agreement(codes, reference)


#: (name, --precision, --compile) of the encoder options measured against fp32 eager.
ENCODER_OPTIONS = (("fp32", "fp32", False), ("bf16", "bf16", False), ("fp16", "fp16", False))
COMPILED_OPTIONS = (("fp32 compiled", "fp32", True),)


def encoder_options(
    codec: Codec,
    device: torch.device,
    speech_dir: Path,
    speech: dict[str, np.ndarray],
    batch: int,
    plan: Plan,
    runs: Runs,
) -> dict:
    """Item 5 of the module docstring: `--precision` and `--compile` on the device, against eager
    fp32: `encode_files` seconds on the bundled speech after a warm-up call (compiled: a first
    whole pass, whose extra time over the timed pass is the compilation), and the codes vs eager
    fp32 and vs the CPU --exact reference."""
    reference = read_codes(runs.run(speech_dir, torch.device("cpu"), exact=True)["output_dir"])
    ids = sorted(speech)
    files = [speech[i] for i in ids]
    segment = codec.layout.segment_samples(4.0)
    options = [o for o in ENCODER_OPTIONS if o[1] in plan.precisions]
    options += COMPILED_OPTIONS if plan.measure_compile else ()
    results, codes = {}, {}
    for name, precision, compile in options:
        try:
            check_precision(precision, device)
        except PrecisionError as error:
            results[name] = {"refused": str(error)}
            continue
        encoder = SnacEncoder(codec, device, precision=precision, compile=compile)
        results[name], codes[name] = time_option(encoder, files, segment, batch, compile)
    for name, figures in results.items():
        if name in codes:
            figures["speed_vs_fp32"] = results["fp32"]["seconds"] / figures["seconds"]
            figures["agreement_vs_fp32"] = code_agreement(codes[name], codes["fp32"])
            figures["agreement_vs_reference"] = code_agreement(codes[name], [reference[i] for i in ids])
    if not plan.measure_compile:
        results["fp32 compiled"] = {"not_run": "--tiny: a compilation costs 20-90 s on CPU"}
    return {"audio_seconds": sum(map(len, files)) / codec.layout.sampling_rate, "options": results}


def time_option(
    encoder: SnacEncoder, files: list[np.ndarray], segment: int, batch: int, compile: bool
) -> tuple[dict, list[list[np.ndarray]]]:
    device = encoder.device
    synchronize(device)
    started = time.perf_counter()
    encoder.encode_files(files if compile else files[:1], segment, batch)
    synchronize(device)
    warmup = time.perf_counter() - started
    started = time.perf_counter()
    codes = encoder.encode_files(files, segment, batch)
    synchronize(device)
    figures = {"seconds": time.perf_counter() - started, "warmup_seconds": warmup}
    if compile:
        figures["compile_seconds"] = warmup - figures["seconds"]
    return figures, codes


def exact_cost(codec: Codec, device: torch.device, speech: list[np.ndarray], batch: int, plan: Plan) -> dict:
    """Item 4 of the module docstring."""
    rate = codec.layout.sampling_rate
    repeat = max(1, -(-round(plan.exact_cost_seconds * rate) // sum(map(len, speech))))
    files = speech * repeat
    segment = codec.layout.segment_samples(4.0)
    seconds = {}
    for name, exact in (("float32", False), ("float64", True)):
        encoder = SnacEncoder(codec, device, exact=exact)
        if plan.exact_cost_seconds:
            encoder.encode_files(speech[:1], segment, batch)  # warm-up
        synchronize(device)
        started = time.perf_counter()
        encoder.encode_files(files, segment, batch)
        synchronize(device)
        seconds[name] = time.perf_counter() - started
    return {
        "audio_seconds": sum(map(len, files)) / rate,
        "float32_seconds": seconds["float32"],
        "float64_seconds": seconds["float64"],
        "ratio": seconds["float64"] / seconds["float32"],
    }


def markdown(report: dict) -> str:
    """The tables of gpu_check.md: those of the finished sections, and why the others are missing."""
    sections = (
        ("settings", header),
        ("snac_encode", encode_table),
        ("pipeline", pipeline_tables),
        ("agreement", agreement_table),
        ("encoder_options", options_table),
        ("exact_cost", exact_table),
    )
    parts = []
    for key, table in sections:
        figures = report.get(key)
        if figures is None:
            parts.append(f"## {key}: not reached")
        elif "not_run" in figures or "failed" in figures:
            parts.append(f"## {key}: {figures.get('not_run') or 'failed: ' + figures['failed']}")
        else:
            parts.append(table(report))
    return "\n\n".join(parts) + "\n"


def options_table(report: dict) -> str:
    o = report["encoder_options"]
    lines = [
        f"## Encoder options on the device (encode_files, {o['audio_seconds']:.1f} s of bundled speech)",
        "",
        row("option", "seconds", "speed vs fp32", "compile (s)", "codes vs fp32", "codes vs CPU --exact"),
        row(*["---"] * 6),
    ]
    for name, f in o["options"].items():
        if "seconds" not in f:
            lines.append(row(name, f.get("refused") or f.get("not_run"), "", "", "", ""))
            continue
        compile_s = f"{f['compile_seconds']:.1f}" if "compile_seconds" in f else ""
        lines.append(
            row(
                name,
                f"{f['seconds']:.3f}",
                f"{f['speed_vs_fp32']:.3f}",
                compile_s,
                f"{f['agreement_vs_fp32']:.4%}",
                f"{f['agreement_vs_reference']:.4%}",
            )
        )
    return "\n".join(lines)


def row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def header(report: dict) -> str:
    m, s = report["machine"], report["settings"]
    what = m.get("gpu") or f"CPU ({m['processor']}, {m['cpu_count']} cores)"
    notice = " (offline stand-in)" if s["codec_notice"] else ""
    return (
        f"# GPU check: {what}\n\n{report['started']}; torch {m['torch']}, CUDA {m['cuda']}, "
        f"cuDNN {m['cudnn']}; {m['cpu_count']} cores; load average {m['loadavg_start'][0]:.2f} at the start, "
        f"{m['loadavg_end'][0]:.2f} at the end; model `{s['model']}`{notice}; device {s['device']}; "
        f"TF32 allowed in cuDNN: {s['tf32']['cudnn.allow_tf32']}, "
        f"in cuBLAS: {s['tf32']['cuda.matmul.allow_tf32']}"
    )


def encode_table(report: dict) -> str:
    sweep = report["snac_encode"]
    lines = [
        f"## SNAC.encode alone (float32, {sweep['segment_seconds']} s segments, input on the device)",
        "",
        row("batch", "audio-s/s (x real time)", "s per call", "calls", "peak memory (MiB)"),
        row(*["---"] * 5),
    ]
    for r in sweep["runs"]:
        if "oom" in r or "not_run" in r:
            lines.append(row(r["batch_size"], "out of memory" if "oom" in r else r["not_run"], "", "", ""))
            continue
        memory = "n/a" if r["peak_memory_mib"] is None else f"{r['peak_memory_mib']:.0f}"
        lines.append(
            row(
                r["batch_size"],
                f"{r['audio_s_per_s']:.1f}",
                f"{r['seconds_per_call']:.4f}",
                r["calls"],
                memory,
            )
        )
    return "\n".join(lines)


def pipeline_tables(report: dict) -> str:
    p, s = report["pipeline"], report["settings"]
    lines = [
        f"## Pipeline (scripts/tokenize.py, batch size {s['batch_size']}, workers: {s['num_workers']})",
        "",
        row("run", "files", "audio (s)", "job wall (s, as printed)", "command wall (s)"),
        row(*["---"] * 5),
    ]
    for name, r in zip(("all files", "first half"), p["runs"]):
        lines.append(
            row(
                name, r["files"], f"{r['audio_seconds']:.1f}", r["job_seconds"], f"{r['command_seconds']:.2f}"
            )
        )
    goal = "met" if p["ratio_goal_met"] else "not met"
    lines += [
        "",
        row("measure", "value"),
        row("---", "---"),
        row("pipeline audio-s/s (audio / job wall)", f"{fmt(p['audio_s_per_s'])}{resolution(p['runs'][0])}"),
        row("marginal audio-s/s (difference of the two runs)", fmt(p["marginal_audio_s_per_s"])),
        row(
            f"ratio to the best SNAC.encode (goal >= {RATE_GOAL})",
            f"{fmt(p['ratio_to_best_snac_encode'], 3)} ({goal})",
        ),
        row("marginal ratio to the best SNAC.encode", fmt(p["marginal_ratio_to_best_snac_encode"], 3)),
        row(f">= {REAL_TIME_GOAL:.0f}x real time", "met" if p["real_time_goal_met"] else "not met"),
    ]
    return "\n".join(lines)


def agreement_table(report: dict) -> str:
    a, speech = report["agreement"], report["speech"]
    q = a["quantize_vs_snac_quantizer_item_by_item"]
    exact = a["device_exact_vs_reference"]
    lines = [
        f"## Code agreement (bundled speech: {speech['files']} files, {speech['seconds']:.1f} s; "
        "reference: CPU --exact tokenize)",
        "",
        row("compared", "agreement"),
        row("---", "---"),
        row("device default (float32) vs reference", f"{a['device_default_vs_reference']:.4%}"),
        row(
            "device --exact vs reference",
            "n/a (the device is the CPU: that run is the reference)" if exact is None else f"{exact:.4%}",
        ),
        row(
            f"device float32, batch size 1 vs {a['batch_sizes_compared'][1]}",
            f"{a['device_batch_1_vs_batch_b']:.4%}",
        ),
        row(
            f"`quantize` vs SNAC's quantizer item by item ({q['items']} items; "
            f"z_q bit-equal: {q['z_q_bit_equal']})",
            f"{q['codes_agreement']:.4%}",
        ),
    ]
    if "device_float32_no_tf32_vs_reference" in a:
        lines.append(
            row("device float32, TF32 off, vs reference", f"{a['device_float32_no_tf32_vs_reference']:.4%}")
        )
    return "\n".join(lines)


def exact_table(report: dict) -> str:
    e = report["exact_cost"]
    return "\n".join(
        [
            f"## Cost of --exact on the device (encode_files, {e['audio_seconds']:.1f} s of audio)",
            "",
            row("float32 (s)", "float64 (s)", "ratio"),
            row("---", "---", "---"),
            row(f"{e['float32_seconds']:.3f}", f"{e['float64_seconds']:.3f}", f"{e['ratio']:.2f}"),
        ]
    )


def resolution(run: dict) -> str:
    """How far the job's wall time, printed to 0.1 s, may move the rate."""
    job = run["job_seconds"]
    return f" (+-{0.05 / job:.1%}: job wall printed to 0.1 s)" if job else ""


def fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


if __name__ == "__main__":
    sys.exit(main())
