"""GPU check: the model alone vs snac_hf's encoder, the codes, the steady pipeline and the OOM
threshold, in one prepared run on a GPU host.

    python bench/gpu_check.py --model MODEL_DIR [--device cuda] [--output_dir D] [--budget_s 480]
        [--steady_audio_s S] [--work_dir DIR] [--tiny]

One command on a lent GPU machine (no network there: the model is a local folder that travels
with the command, by default the offline model folder set-up built; never a Hub id):

    python bench/gpu_check.py --model MODEL_DIR --device cuda --budget_s 480 --output_dir "$OUT"

Sections run in this order, each written (gpu_check.json + gpu_check.md under --output_dir,
default $OUT when set, else bench/results/gpu_check/) as soon as it finishes; a section starts only
while the budget has time left, and one that fails is recorded as failed while the next runs:

1. **Model alone vs snac_hf's encoder** on the same in-memory buckets of 4 s segments of real
   speech, batch 16/64/256, in fp32 with TF32 off, TF32 on (`--precision tf32`) and bf16
   autocast (where the device computes them; else the refusal is recorded): SNAC's own
   `encode` with the batch already on the device, and `SnacEncoder.encode_batch` (staging and
   the copy of codes back included). Per run: audio-s/s (median call after a warm-up), peak
   device memory (CUDA), aten ops per bucket and (CUDA) kernels per bucket from the profiler.
2. **Codes**: on the bundled speech, the pipeline's encoder (`encode_files`) vs SNAC's own
   per-file `encode` on the same device; one batch of segments vs the same segments alone,
   permuted and inside a batch of 255; `--exact` on the device vs `--exact` on the CPU;
   non-finite latent counts per precision.
3. **Steady-state pipeline** on synthetic short clips (1-10 s cut from the bundled speech, as
   many as `--steady_audio_s`, default sized to the budget): `tokenize_dataset` in this process;
   the rate from the unit records (audio of the records after the first / the time between the
   first and the last), the decode-only rate of the same files with the same workers in the same
   run, and GPU utilisation sampled from NVML when `pynvml` is installed.
4. **OOM threshold**: the largest batch of 4 s segments the encoder and quantizer hold, in fp32
   and fp64, doubling from 64 until `torch.cuda.OutOfMemoryError` (or a cap).

`--tiny --device cpu` (the test suite): two short recordings, batches 1 and 2 of 1 s segments, one
call each, a batch of 5 instead of 255, 6 s of clips, OOM probed with 1 s segments up to batch 2:
seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from snac_hf.codec.encode import SnacEncoder, code_agreement, encode_alone, model_on, quantize
from snac_hf.codec.load import Codec, load_codec
from snac_hf.codec.model_folder import cached_model_dir
from snac_hf.codec.precision import PrecisionError, autocast, check_precision, encoder_arithmetic
from snac_hf.job.pipeline import Processes, TokenizeSettings, tokenize_dataset
from snac_hf.sources.audio import decode_audio
from snac_hf.sources.decoding import decode_in_order, default_workers
from snac_hf.sources.folder import folder_dataset

REPO = Path(__file__).resolve().parents[1]
SPEECH = REPO / "tests" / "data" / "speech"


@dataclass(frozen=True)
class Plan:
    """How much to measure: the GPU check, or the tiny one the test suite runs on a CPU."""

    batch_sizes: tuple[int, ...]
    segment_seconds: float
    min_calls: int
    min_seconds: float
    speech_files: tuple[str, ...] | None  # these bundled recordings; None: all
    big_batch: int  # "the same segments inside a batch of this many"
    steady_audio_s: float | None  # None: sized to the budget
    oom_start: int
    oom_cap: int
    clip_seconds: tuple[float, float]  # section 3's clip lengths: uniform in this range
    modes: tuple[str, ...]  # section 1's precisions (and section 2's, with fp16)


FULL = Plan(
    (16, 64, 256), 4.0, 3, 1.0, None, 255, None, 64, 16384, (1.0, 10.0), ("fp32", "tf32", "bf16", "fp16")
)
TINY = Plan(
    (1, 2), 1.0, 1, 0.0, ("en_005_001.flac", "en_007_003.flac"), 5, 4.0, 1, 2, (1.0, 2.0), ("fp32", "tf32")
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="a local SNAC model folder (default: the offline model folder)")
    parser.add_argument(
        "--output_dir", default=os.environ.get("OUT") or str(REPO / "bench" / "results" / "gpu_check")
    )
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="seconds of work on a CPU (the test suite)")
    parser.add_argument("--budget_s", type=float, help="start no section after this many seconds")
    parser.add_argument("--steady_audio_s", type=float, help="audio seconds of clips for section 3")
    parser.add_argument(
        "--work_dir", help="where the clips and the token set go (default: under --output_dir)"
    )
    args = parser.parse_args(argv)
    model = args.model or str(cached_model_dir())
    if not os.path.isdir(model):
        parser.error(f"--model {model}: not a folder; pass a local SNAC model folder (no Hub on a lent GPU)")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but torch sees no CUDA device (use --device cpu --tiny on a CPU)")
    plan = TINY if args.tiny else FULL
    out = Path(args.output_dir)
    work = Path(args.work_dir) if args.work_dir else out / "work"
    report = run_check(
        load_codec(model), model, device, plan, Budget(args.budget_s), out, work, args.steady_audio_s
    )
    print(write_report(report, out))
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


class BudgetSpent(RuntimeError):
    """A section's loop saw the budget run out."""


def run_section(section: Callable[[], dict], clock: Budget) -> dict:
    """A section's figures, or why there are none (the budget was spent; what it raised)."""
    if clock.spent():
        return {"not_run": f"the budget of {clock.seconds:.0f} s was spent"}
    try:
        return section()
    except BudgetSpent as error:
        return {"not_run": f"cut at the budget ({error})"}
    except Exception as error:  # a failing section must not cost the others (a GPU run is scarce)
        return {"failed": f"{type(error).__name__}: {str(error)[-2000:]}"}


def run_check(
    codec: Codec,
    model: str,
    device: torch.device,
    plan: Plan,
    clock: Budget,
    out: Path,
    work: Path,
    steady_audio_s: float | None,
) -> dict:
    report: dict = {"machine": machine(device), "started": time.strftime("%Y-%m-%d %H:%M:%S %z")}
    report["settings"] = {
        "model": model,
        "codec_notice": codec.notice,
        "device": str(device),
        "plan": plan.__dict__,
    }
    report["budget_s"] = clock.seconds
    rate = codec.layout.sampling_rate
    names = plan.speech_files or tuple(sorted(p.name for p in SPEECH.glob("*.flac")))
    speech = [decode_audio({"path": str(SPEECH / n), "bytes": None}, rate) for n in names]
    report["speech"] = {"files": len(speech), "seconds": sum(map(len, speech)) / rate}
    write_report(report, out)
    sections = {
        "encoders": lambda: encoders(codec, device, speech, plan, clock),
        "codes": lambda: codes(codec, device, speech, plan),
        "steady": lambda: steady(codec, device, speech, plan, clock, work, steady_audio_s),
        "oom": lambda: oom(codec, device, plan, clock),
    }
    for name, section in sections.items():
        started = time.perf_counter()
        report[name] = run_section(section, clock)
        report[name]["section_seconds"] = round(time.perf_counter() - started, 1)
        write_report(report, out)
    return report


def machine(device: torch.device) -> dict:
    info = {
        "hostname": platform.node(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
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


def pieces(speech: list[np.ndarray], n: int, size: int) -> list[np.ndarray]:
    """n consecutive pieces of `size` samples of the speech played in a loop."""
    loop = np.concatenate(speech)
    return list(np.take(loop, np.arange(n * size), mode="wrap").reshape(n, size).astype(np.float32))


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(call: Callable[[], object], device: torch.device, plan: Plan) -> tuple[float, int]:
    """Median seconds of `call` after one warm-up call: at least `min_calls` calls and
    `min_seconds` of them."""
    call()
    synchronize(device)
    times: list[float] = []
    while len(times) < plan.min_calls or sum(times) < plan.min_seconds:
        start = time.perf_counter()
        call()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return float(np.median(times)), len(times)


class OpCount(TorchDispatchMode):
    """Counts aten ops (each one kernel launch or more on a GPU)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops += 1
        return func(*args, **(kwargs or {}))


def launches(call: Callable[[], object], device: torch.device) -> dict:
    """aten ops of one call, and on CUDA the kernels the profiler saw."""
    with OpCount() as counted:
        call()
    result = {"aten_ops_per_bucket": counted.ops, "cuda_kernels_per_bucket": None}
    if device.type == "cuda":
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            call()
            synchronize(device)
        result["cuda_kernels_per_bucket"] = sum(
            1 for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA
        )
    return result


def peak_memory(device: torch.device, call: Callable[[], object]) -> float | None:
    if device.type != "cuda":
        call()
        return None
    torch.cuda.reset_peak_memory_stats(device)
    call()
    synchronize(device)
    return torch.cuda.max_memory_allocated(device) / 2**20


def encoders(codec: Codec, device: torch.device, speech: list[np.ndarray], plan: Plan, clock: Budget) -> dict:
    """Section 1."""
    size = codec.layout.segment_samples(plan.segment_seconds)
    model = model_on(codec, device, torch.float32)
    runs: list[dict] = []
    refused: dict[str, str] = {}
    for mode in [m for m in plan.modes if m != "fp16"]:
        try:
            check_precision(mode, device)
        except PrecisionError as error:
            refused[mode] = str(error)
            continue
        encoder = SnacEncoder(codec, device, precision=mode)
        for batch in plan.batch_sizes:
            if clock.spent():
                return {"runs": runs, "refused": refused, "cut": "the budget was spent"}
            inputs = pieces(speech, batch, size)
            on_device = torch.from_numpy(np.stack(inputs)[:, None]).to(device)

            def alone(mode=mode, on_device=on_device):
                with torch.inference_mode(), encoder_arithmetic(mode), autocast(mode, device):
                    return model.encode(on_device)

            def ours(encoder=encoder, inputs=inputs):
                return encoder.encode_batch(inputs)

            for name, call in (("model alone", alone), ("snac_hf", ours)):
                try:
                    seconds, calls = timed(call, device, plan)
                    runs.append(
                        {
                            "encoder": name,
                            "precision": mode,
                            "batch_size": batch,
                            "seconds_per_call": seconds,
                            "calls": calls,
                            "audio_s_per_s": batch * size / codec.layout.sampling_rate / seconds,
                            "peak_memory_mib": peak_memory(device, call),
                            **launches(call, device),
                        }
                    )
                except torch.cuda.OutOfMemoryError:
                    runs.append({"encoder": name, "precision": mode, "batch_size": batch, "oom": True})
                    torch.cuda.empty_cache()
    return {"segment_seconds": plan.segment_seconds, "runs": runs, "refused": refused}


def codes(codec: Codec, device: torch.device, speech: list[np.ndarray], plan: Plan) -> dict:
    """Section 2."""
    segment = codec.layout.segment_samples(4.0)
    on_device = dataclasses.replace(codec, model=model_on(codec, device, torch.float32))
    encoder = SnacEncoder(codec, device)
    pipeline = encoder.encode_files(speech, segment, 16)
    per_file = [encode_alone(on_device, s) for s in speech]
    result: dict = {"pipeline_vs_snac_encode_per_file": code_agreement(pipeline, per_file)}
    size = codec.layout.segment_samples(plan.segment_seconds)
    batch = pieces(speech, min(16, plan.big_batch), size)
    together = encoder.encode_batch(batch)
    order = np.random.default_rng(0).permutation(len(batch))
    permuted = encoder.encode_batch([batch[i] for i in order])
    unpermuted = [permuted[list(order).index(i)] for i in range(len(batch))]
    big = encoder.encode_batch([batch[i % len(batch)] for i in range(plan.big_batch)])[: len(batch)]
    result["batch_of"] = len(batch)
    result["batch_vs_alone"] = code_agreement(together, [encoder.encode_batch([b])[0] for b in batch])
    result["batch_vs_permuted"] = code_agreement(together, unpermuted)
    result[f"batch_vs_inside_{plan.big_batch}"] = code_agreement(together, big)
    if device.type == "cpu":
        result["device_exact_vs_cpu_exact"] = None  # the device is the CPU
    else:
        exact = SnacEncoder(codec, device, exact=True).encode_files(speech, segment, 16)
        cpu = SnacEncoder(codec, "cpu", exact=True).encode_files(speech, segment, 16)
        result["device_exact_vs_cpu_exact"] = code_agreement(exact, cpu)
    result["nonfinite_latents"], result["agreement_vs_fp32"] = {}, {}
    for mode in plan.modes:
        try:
            check_precision(mode, device)
        except PrecisionError as error:
            result["nonfinite_latents"][mode] = f"refused: {error}"
            continue
        got, counts = SnacEncoder(codec, device, precision=mode).encode_counted(speech, segment, 16)
        result["nonfinite_latents"][mode] = sum(counts)
        result["agreement_vs_fp32"][mode] = code_agreement(got, pipeline)
    return result


def write_clips(
    folder: Path, speech: list[np.ndarray], rate: int, seconds: float, clip_seconds: tuple[float, float]
) -> int:
    """16-bit WAV clips (lengths uniform in `clip_seconds`) cut from the speech played in a loop,
    `seconds` in all."""
    loop = np.concatenate(speech)
    folder.mkdir(parents=True, exist_ok=True)
    lengths = np.random.default_rng(0).uniform(*clip_seconds, size=max(1, int(seconds / clip_seconds[0]) + 1))
    start, written, n = 0, 0.0, 0
    for length in lengths:
        if seconds - written < 0.25:  # no clip shorter than a quarter second
            break
        count = int(min(length, seconds - written) * rate)
        samples = np.take(loop, np.arange(start, start + count), mode="wrap")
        with wave.open(str(folder / f"clip_{n:06d}.wav"), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
        start, written, n = start + count, written + count / rate, n + 1
    return n


class Utilisation:
    """GPU utilisation sampled from NVML every 0.2 s in a thread (None without pynvml)."""

    def __init__(self, device: torch.device):
        self.samples: list[int] = []
        self.reason: str | None = None
        self.stop = threading.Event()
        self.handle = None
        if device.type != "cuda":
            self.reason = "not a CUDA device"
            return
        try:
            import pynvml

            pynvml.nvmlInit()
            self.handle = pynvml.nvmlDeviceGetHandleByIndex(device.index or 0)
            self.nvml = pynvml
        except Exception as error:  # not installed, no driver access: say so
            self.reason = f"NVML unavailable ({type(error).__name__})"

    def __enter__(self) -> Utilisation:
        if self.handle is not None:
            self.thread = threading.Thread(target=self._sample, daemon=True)
            self.thread.start()
        return self

    def _sample(self) -> None:
        while not self.stop.wait(0.2):
            self.samples.append(self.nvml.nvmlDeviceGetUtilizationRates(self.handle).gpu)

    def __exit__(self, *exc) -> None:
        self.stop.set()

    def summary(self) -> dict:
        if not self.samples:
            return {"gpu_utilisation_percent": None, "why": self.reason or "no samples"}
        return {"gpu_utilisation_percent": float(np.mean(self.samples)), "samples": len(self.samples)}


def steady(
    codec: Codec,
    device: torch.device,
    speech: list[np.ndarray],
    plan: Plan,
    clock: Budget,
    work: Path,
    audio_s: float | None,
) -> dict:
    """Section 3."""
    left = clock.left()
    if audio_s is None:
        # about a third of the time left at ~1,000 audio-s/s, at most 2 h of clips (350 MB of WAV)
        audio_s = plan.steady_audio_s or (
            1800.0 if left is None else min(7200.0, max(60.0, left * 0.3 * 1000))
        )
    rate = codec.layout.sampling_rate
    clips = work / "clips"
    n_files = write_clips(clips, speech, rate, audio_s, plan.clip_seconds)
    settings = TokenizeSettings(
        files_per_shard=max(1, n_files // 8), batch_size=64 if device.type == "cuda" else 16
    )
    out = work / "tokens"
    started = time.perf_counter()
    with Utilisation(device) as utilisation:
        meta = tokenize_dataset(
            folder_dataset(str(clips)),
            codec,
            str(out),
            settings,
            Processes(device=str(device)),
            overwrite=True,
            progress=False,
        )
    job_seconds = time.perf_counter() - started
    records = sorted(
        (p.stat().st_mtime, json.loads(p.read_text())) for p in (out / ".snac_hf" / "units").glob("*.json")
    )
    result = {
        "files": n_files,
        "audio_seconds": meta["total_duration_seconds"],
        "job_seconds": job_seconds,
        "whole_job_audio_s_per_s": meta["total_duration_seconds"] / job_seconds,
        "unit_records": len(records),
        **utilisation.summary(),
    }
    span = records[-1][0] - records[0][0] if len(records) >= 2 else 0.0
    if span > 0:
        result["steady_audio_s_per_s"] = sum(r["duration"] for _, r in records[1:]) / span
    else:
        result["steady_audio_s_per_s"] = None
        result["steady_why_not"] = (
            "fewer than two unit records written at different times: see the whole-job rate"
        )
    workers = default_workers(str(device), 1)
    values = [{"path": str(p), "bytes": None} for p in sorted(clips.glob("*.wav"))]
    start = time.perf_counter()
    decoded = sum(len(x) for x in decode_in_order(values, rate, workers) if isinstance(x, np.ndarray))
    result["decode_only_audio_s_per_s"] = decoded / rate / (time.perf_counter() - start)
    result["decode_workers"] = workers
    return result


def oom(codec: Codec, device: torch.device, plan: Plan, clock: Budget) -> dict:
    """Section 4 (segments of the plan's length: 4 s on a GPU, 1 s in the tiny check)."""
    size = codec.layout.segment_samples(plan.segment_seconds)
    result = {}
    for dtype in (torch.float32, torch.float64):
        model = model_on(codec, device, dtype)
        fits, batch, failed = None, plan.oom_start, None
        while batch <= plan.oom_cap and not clock.spent():
            try:
                with torch.inference_mode(), encoder_arithmetic("fp32"):
                    quantize(
                        model.quantizer,
                        model.encoder(torch.zeros(batch, 1, size, dtype=dtype, device=device)),
                    )
                synchronize(device)
                fits, batch = batch, batch * 2
            except torch.cuda.OutOfMemoryError:
                failed = batch
                break
            finally:
                if device.type == "cuda":
                    torch.cuda.empty_cache()
        result[str(dtype).removeprefix("torch.")] = {
            "largest_batch_that_fits": fits,
            "first_oom_batch": failed,
            "segment_seconds": plan.segment_seconds,
            "capped_at": plan.oom_cap if failed is None else None,
        }
    return result


def write_report(report: dict, out: Path) -> str:
    """gpu_check.json and gpu_check.md as they stand (after every section)."""
    out.mkdir(parents=True, exist_ok=True)
    report["machine"]["loadavg_end"] = list(os.getloadavg())
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    (out / "gpu_check.md").write_text(table)
    return table


def markdown(report: dict) -> str:
    machine_line = report["machine"]
    lines = [
        "# GPU check",
        "",
        f"{machine_line.get('gpu', machine_line.get('processor'))}, torch {machine_line.get('torch')}, "
        f"CUDA {machine_line.get('cuda')}, load {machine_line.get('loadavg_start')}; "
        f"started {report.get('started')}",
        "",
    ]
    for name in ("encoders", "codes", "steady", "oom"):
        section = report.get(name)
        if section is None:
            lines += [f"## {name}: not reached", ""]
        elif "not_run" in section or "failed" in section:
            why = f"failed: {section['failed']}" if "failed" in section else section["not_run"]
            lines += [f"## {name}: {why}", ""]
        else:
            lines += [f"## {name}", "", *SECTION_TABLES[name](section), ""]
    return "\n".join(lines)


def encoders_table(section: dict) -> list[str]:
    lines = [
        "| encoder | precision | batch | audio-s/s | peak MiB | aten ops | CUDA kernels |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in section["runs"]:
        if r.get("oom"):
            lines.append(f"| {r['encoder']} | {r['precision']} | {r['batch_size']} | OOM | | | |")
            continue
        lines.append(
            f"| {r['encoder']} | {r['precision']} | {r['batch_size']} | {r['audio_s_per_s']:.1f} | "
            f"{r['peak_memory_mib'] if r['peak_memory_mib'] is None else round(r['peak_memory_mib'])} | "
            f"{r['aten_ops_per_bucket']} | {r['cuda_kernels_per_bucket']} |"
        )
    lines += [f"- {mode}: {why}" for mode, why in section.get("refused", {}).items()]
    return lines


def key_values(section: dict) -> list[str]:
    return [f"- {key}: {value}" for key, value in section.items()]


SECTION_TABLES = {"encoders": encoders_table, "codes": key_values, "steady": key_values, "oom": key_values}


if __name__ == "__main__":
    raise SystemExit(main())
