"""Feed ceiling: how fast can the pipeline hand audio to the encoder, whatever the encoder?

The whole tokenize pipeline (read, decode in `num_workers` processes, segment, bucket, write
Parquet shards and records) runs with SNAC replaced by a zero-cost stub that returns zero codes
of the right lengths. Its audio-seconds per second is the most any encoder (a GPU) could get
from it. Beside it, in the same run, the decode-only rate of one process: `decode_audio` over the
same files in a plain loop, nothing else. Goals on the 2-core development machine (issue 18):
>= 0.9x that rate with one worker, >= 1.7x with two, memory flat in the number of files.

Corpora (`--corpus`, cached under --work_dir; both by default):

- `long`: the bundled speech (tests/data/speech, 133 s) looped into one file per format and rate
  (mp3, ogg/vorbis, flac, wav at 16, 22.05, 44.1, 48 kHz; stereo at 44.1/48 kHz), `--minutes`
  each: 16 files. One file per shard (`files_per_shard` 1), so the steady rate has units to time.
- `short`: the same speech cut into 1-10 s utterances (uniform, seeded), 200 per format and rate:
  3,200 files, ~4.9 h, as TTS corpora are. The pipeline's default settings.
- `tones`: `--tone_files` synthetic 24 kHz mono WAV files of `--tone_seconds` each (a tone with
  noise), in one unit: with the stub, peak RSS from 5 s files to 10-minute files says whether host
  memory follows the window or the files' length (issue 27).
- `--input_dir DIR`: any folder of audio instead (what `snac-hf tokenize --input_dir` reads), with
  the pipeline's default settings.

Each configuration runs in its own process; configurations alternate over `--repeat` rounds, and
the load average is recorded. A pipeline's rate is given twice: over the whole job (start-up
included: spawning the workers, the input fingerprint) and *steady*: from its first unit record
to its last, which is what a long job sees. Beside the rates, CPU time per audio-second of the job
process and of its workers (rusage): unlike wall-clock rates these barely move with other load,
and they say where a 2-core machine's cycles go.

A folder whose files fit in one unit has no steady state (it needs two unit records): then the
steady rate is the whole job's, and the report says why.

**A GPU that is never starved** (`--stub_rate R`, issue 27): the encoder is replaced by a stub
that plans segments and buckets as the real encoder does and sleeps, per bucket, as long as a
device encoding R audio-seconds per second (of padded audio) would. The report gives the
fraction of wall time the stub is busy between its first bucket and its last: 1.0 means the
pipeline always had the next bucket ready. Pick R below what the cores can decode (a GPU does
~5,000 audio-s/s; 2 loaded cores decode a few hundred), so that decoding can keep up and only
the pipeline's overlap is measured. `--before DIR` runs the same stub configuration against
another checkout's snac_hf (e.g. a `git worktree` of an older commit) in the same rounds.

    python bench/feed_ceiling.py [--corpus long short] [--minutes 30] [--repeat 2]
    python bench/feed_ceiling.py --input_dir DIR
    python bench/feed_ceiling.py --corpus short --stub_rate 300 [--before /tmp/feed-before]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FORMATS = ("mp3", "ogg", "flac", "wav")
RATES = (16000, 22050, 44100, 48000)


def build_corpus(folder: Path, minutes: float) -> list[Path]:
    """One long file per (format, rate): the bundled speech looped to `minutes`."""
    import numpy as np
    import torch
    from torchcodec.encoders import AudioEncoder

    from snac_hf.sources.audio import decode_audio

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"speech_{rate}.{fmt}" for rate in RATES for fmt in FORMATS]
    if all(p.is_file() for p in paths):
        return paths
    speech = sorted((REPO / "tests" / "data" / "speech").glob("*.flac"))
    for rate in RATES:
        loop = np.concatenate([decode_audio({"path": str(p), "bytes": None}, rate) for p in speech])
        samples = np.resize(loop, int(minutes * 60 * rate)).astype(np.float32)
        channels = 2 if rate >= 44100 else 1
        tensor = torch.from_numpy(np.stack([samples] * channels))
        for fmt in FORMATS:
            path = folder / f"speech_{rate}.{fmt}"
            AudioEncoder(tensor, sample_rate=rate).to_file(str(path))
    return paths


def build_short_corpus(folder: Path, files_per_kind: int = 200, seed: int = 0) -> list[Path]:
    """Short utterances as real TTS corpora hold them: the bundled speech looped and cut into
    pieces of 1-10 s (uniform, seeded), `files_per_kind` per (format, rate): 3,200 files, ~4.9 h,
    in folders per rate (speech in 44.1/48 kHz is stereo, as above)."""
    import numpy as np
    import torch
    from torchcodec.encoders import AudioEncoder

    from snac_hf.sources.audio import decode_audio

    paths = [
        folder / str(rate) / f"utt_{i:04d}.{fmt}"
        for rate in RATES
        for fmt in FORMATS
        for i in range(files_per_kind)
    ]
    if all(p.is_file() for p in paths):
        return sorted(paths)
    speech = sorted((REPO / "tests" / "data" / "speech").glob("*.flac"))
    lengths = np.random.default_rng(seed).uniform(1.0, 10.0, len(paths))
    for rate in RATES:
        loop = np.concatenate([decode_audio({"path": str(p), "bytes": None}, rate) for p in speech])
        (folder / str(rate)).mkdir(parents=True, exist_ok=True)
        start = 0
        for path, seconds in zip(paths, lengths, strict=True):
            if path.parent.name != str(rate):
                continue
            n = int(seconds * rate)
            piece = np.take(loop, np.arange(start, start + n), mode="wrap").astype(np.float32)
            start = (start + n) % len(loop)
            channels = 2 if rate >= 44100 else 1
            AudioEncoder(torch.from_numpy(np.stack([piece] * channels)), sample_rate=rate).to_file(str(path))
    return sorted(paths)


def build_tone_corpus(folder: Path, seconds: float, files: int) -> list[Path]:
    """`files` WAV files of `seconds` of a quiet tone with noise, 24 kHz mono 16-bit."""
    import wave

    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"tone_{i:03d}.wav" for i in range(files)]
    n = int(seconds * 24000)
    t = np.arange(n) / 24000
    samples = 0.1 * np.sin(2 * np.pi * 220 * t) + 0.01 * np.random.default_rng(0).standard_normal(n)
    pcm = (samples * 32767).astype("<i2").tobytes()
    for path in paths:
        if not path.is_file():
            with wave.open(str(path), "wb") as f:
                f.setnchannels(1)
                f.setsampwidth(2)
                f.setframerate(24000)
                f.writeframes(pcm)
    return paths


def peak_rss_mib() -> tuple[float, float]:
    """(this process, its largest finished child) peak RSS in MiB (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, child


def decode_only(files: list[Path]) -> dict:
    """One process, one thread: decode every file, nothing else."""
    import torch

    from snac_hf.sources.audio import decode_audio

    torch.set_num_threads(1)
    started = time.perf_counter()
    seconds = 0.0
    for path in files:
        seconds += len(decode_audio({"path": str(path), "bytes": None}, 24000)) / 24000
    wall = time.perf_counter() - started
    return {"audio_seconds": seconds, "wall_seconds": wall}


def pipeline(
    files: list[Path],
    workers: int,
    out: Path,
    files_per_shard: int = 256,
    stub_rate: float | None = None,
    window_seconds: float | None = None,
) -> dict:
    """The whole pipeline with a zero-cost encoder (or, with `stub_rate`, one that sleeps as a
    device of that many audio-seconds per second would), from the file list to Parquet shards."""
    import numpy as np
    import torch
    from datasets import Audio, Dataset

    import snac_hf.job.pipeline as pipeline_module
    from snac_hf.codec.encode import SnacEncoder, length_buckets, plan_segments
    from snac_hf.codec.load import load_codec
    from snac_hf.codec.model_folder import cached_model_dir

    torch.set_num_threads(1)
    busy: list[tuple[float, float]] = []  # (start, end) of each bucket the stub "encodes"

    class ZeroCostEncoder(SnacEncoder):
        """Segments planned as the real encoder plans them; zero codes of the right lengths; with
        `stub_rate`, each bucket sleeps its padded audio-seconds / stub_rate."""

        def encode_counted(
            self, files, segment_samples, batch_size, context_samples=0, whole_frames=False, progress=None
        ):
            segments = [  # the planning work the real path does
                segment
                for index, samples in enumerate(files)
                for segment in plan_segments(index, len(samples), segment_samples, context_samples)
            ]
            if stub_rate:
                lengths = [s.stop - s.start for s in segments]
                rate = self.layout.sampling_rate
                for members in length_buckets(lengths, self.layout.pad_multiple, batch_size):
                    padded = self.layout.padded_length(max(lengths[i] for i in members))
                    started = time.perf_counter()
                    time.sleep(len(members) * padded / rate / stub_rate)
                    busy.append((started, time.perf_counter()))
            lengths_of = self.layout.frame_codes if whole_frames else self.layout.n_codes
            codes = [[np.zeros(n, np.int16) for n in lengths_of(len(f))] for f in files]
            if progress is not None:
                progress(len(files), sum(len(f) for f in files))
            return codes, [0] * len(files)

    pipeline_module.SnacEncoder = ZeroCostEncoder
    codec = load_codec(str(cached_model_dir("random")))
    ids = [p.name for p in files]
    audio = Dataset.from_dict(
        {"id": ids, "file_path": [str(p) for p in files], "audio": [str(p) for p in files]}
    )
    audio = audio.cast_column("audio", Audio(decode=False))
    settings = pipeline_module.TokenizeSettings(files_per_shard=files_per_shard, num_workers=workers)
    if window_seconds is not None:  # a setting of the pipeline since issue 27 (older ones lack it)
        settings.window_seconds = window_seconds
    shutil.rmtree(out, ignore_errors=True)  # a fresh job every time, never a resume
    started = time.perf_counter()
    meta = pipeline_module.tokenize_dataset(audio, codec, str(out), settings, overwrite=True, progress=False)
    wall = time.perf_counter() - started
    result = {"audio_seconds": meta["total_duration_seconds"], "wall_seconds": wall, **steady_state(out)}
    if stub_rate:
        result.update(busy_fraction(busy))
    return result


def busy_fraction(busy: list[tuple[float, float]]) -> dict:
    """The stub's busy time over the wall time from its first bucket's start to its last's end."""
    span = busy[-1][1] - busy[0][0] if busy else 0.0
    seconds = sum(end - start for start, end in busy)
    return {
        "stub_busy_seconds": seconds,
        "stub_span_seconds": span,
        "stub_busy": seconds / span if span else 1.0,
    }


def steady_state(out: Path) -> dict:
    """The rate between the first and the last unit record written (start-up and the first unit
    excluded): units 2..N's audio over the time from unit 1's record to the last record."""
    records = sorted(
        (p.stat().st_mtime, json.loads(p.read_text())["duration"])
        for p in (out / ".snac_hf" / "units").glob("*.json")
    )
    span = records[-1][0] - records[0][0] if len(records) > 1 else 0.0
    if span <= 0:  # one unit (or all written at once): no steady state to time
        return {"steady_note": f"{len(records)} unit record(s): the steady rate is the whole job's"}
    audio = sum(duration for _, duration in records[1:])
    return {"steady_audio_seconds": audio, "steady_wall_seconds": span}


def cpu_seconds() -> tuple[float, float]:
    """(this process, its finished children) user + system CPU seconds."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def corpus_files(corpus: str, args: argparse.Namespace) -> tuple[list[Path], int]:
    """The corpus's files and the files per shard its pipeline runs use."""
    work = Path(args.work_dir)
    if corpus == "long":
        return build_corpus(work / f"corpus_{args.minutes:g}min", args.minutes), 1
    if corpus == "short":
        return build_short_corpus(work / "corpus_short"), 256
    if corpus == "tones":
        folder = work / f"corpus_tones_{args.tone_files}x{args.tone_seconds:g}s"
        return build_tone_corpus(folder, args.tone_seconds, args.tone_files), args.tone_files
    from snac_hf.sources.folder import scan_folder

    return [Path(p) for p in scan_folder(corpus).files], 256


def run_one(
    config: str, files: list[Path], files_per_shard: int, work: Path, args: argparse.Namespace
) -> dict:
    before = cpu_seconds()
    if config == "decode_only":
        result = decode_only(files)
    elif config.startswith("stub"):
        out = work / config.replace(" ", "_")
        result = pipeline(files, args.stub_workers, out, files_per_shard, args.stub_rate, args.window_seconds)
    else:
        workers = int(config.split("=")[1])
        result = pipeline(files, workers, work / f"out_{workers}", files_per_shard)
    after = cpu_seconds()
    own, child = peak_rss_mib()
    audio = result["audio_seconds"]
    return {
        **result,
        "peak_rss_mib": own,
        "peak_child_rss_mib": child,
        "job_cpu_ms_per_audio_s": (after[0] - before[0]) / audio * 1e3,
        "worker_cpu_ms_per_audio_s": (after[1] - before[1]) / audio * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="+", choices=["long", "short", "tones"], default=["long", "short"])
    parser.add_argument("--tone_seconds", type=float, default=600, help="seconds per file of `tones`")
    parser.add_argument("--tone_files", type=int, default=24, help="files of `tones` (one unit)")
    parser.add_argument("--input_dir", help="a folder of audio instead of the bench's corpora")
    parser.add_argument("--minutes", type=float, default=30, help="minutes per file of the long corpus")
    parser.add_argument("--repeat", type=int, default=2, help="rounds over the configurations")
    parser.add_argument("--work_dir", default="/tmp/snac_hf_feed")
    parser.add_argument("--output", default=str(REPO / "bench" / "results" / "feed_ceiling.json"))
    parser.add_argument("--stub_rate", type=float, help="audio-s/s of a sleeping encoder stub (see above)")
    parser.add_argument("--stub_workers", type=int, default=2, help="decode workers of the stub runs")
    parser.add_argument("--window_seconds", type=float, help="the pipeline's window (default: its own)")
    parser.add_argument("--before", help="another checkout whose snac_hf the stub also runs against")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # internal: CORPUS CONFIG, print JSON
    args = parser.parse_args()
    if args.one:
        files, files_per_shard = corpus_files(args.one[0], args)
        print(json.dumps(run_one(args.one[1], files, files_per_shard, Path(args.work_dir), args)))
        return
    corpora = [str(Path(args.input_dir).resolve())] if args.input_dir else args.corpus
    reports = {}
    for corpus in corpora:
        files, files_per_shard = corpus_files(corpus, args)  # built once, before any timing
        if args.stub_rate:
            configs = ["stub", *(["stub before"] if args.before else [])]
            reports[corpus] = {"files": len(files), "runs": measure(corpus, args, configs)}
            print(f"\n{corpus}: {stub_markdown(reports[corpus], args)}\n", flush=True)
            continue
        runs = measure(corpus, args)
        reports[corpus] = summarize(runs, args, len(files), files_per_shard)
        print(f"\n{corpus}: {markdown(reports[corpus])}\n", flush=True)
    report = {"machine": machine(), "corpora": reports}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")


def measure(corpus: str, args: argparse.Namespace, configs: list[str] | None = None) -> dict[str, list[dict]]:
    """Every configuration once per round, each in a fresh process, rounds interleaved ("stub
    before" with `--before`'s snac_hf first on the path)."""
    configs = configs or ["decode_only", "workers=1", "workers=2"]
    runs: dict[str, list[dict]] = {c: [] for c in configs}
    command = [sys.executable, __file__, "--minutes", str(args.minutes), "--work_dir", args.work_dir]
    command += ["--stub_workers", str(args.stub_workers)]
    command += ["--tone_seconds", str(args.tone_seconds), "--tone_files", str(args.tone_files)]
    command += ["--stub_rate", str(args.stub_rate)] if args.stub_rate else []
    command += ["--window_seconds", str(args.window_seconds)] if args.window_seconds else []
    for round_ in range(args.repeat):
        for config in configs:
            load = os.getloadavg()[0]
            tree = args.before if config == "stub before" else str(REPO)
            env = {**os.environ, "PYTHONPATH": tree}
            done = subprocess.run(
                [*command, "--one", corpus, config], capture_output=True, text=True, env=env
            )
            if done.returncode != 0:
                raise SystemExit(f"{corpus} {config} failed:\n{done.stderr[-3000:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            result["load_before"] = load
            result["rate"] = result["audio_seconds"] / result["wall_seconds"]
            if "steady_wall_seconds" in result:
                result["steady_rate"] = result["steady_audio_seconds"] / result["steady_wall_seconds"]
            elif config != "decode_only":  # one unit: no steady state (see the module docstring)
                result["steady_rate"] = result["rate"]
            runs[config].append(result)
            print(
                f"{Path(corpus).name} round {round_ + 1} {config:12s} {result['rate']:8.1f} audio-s/s  "
                f"load {load:.2f}",
                flush=True,
            )
    return runs


def machine() -> dict:
    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "python": platform.python_version()}  # fmt: skip


def summarize(runs: dict[str, list[dict]], args: argparse.Namespace, files: int, per_shard: int) -> dict:
    """Per round, each pipeline rate over the decode-only rate of the same round."""
    rounds = []
    for i in range(args.repeat):
        base = runs["decode_only"][i]["rate"]
        rounds.append(
            {
                "decode_only": base,
                "workers=1": runs["workers=1"][i]["rate"] / base,
                "workers=2": runs["workers=2"][i]["rate"] / base,
                "workers=1 steady": runs["workers=1"][i]["steady_rate"] / base,
                "workers=2 steady": runs["workers=2"][i]["steady_rate"] / base,
            }
        )
    return {
        "files": files,
        "files_per_shard": per_shard,
        "audio_hours": runs["decode_only"][0]["audio_seconds"] / 3600,
        "runs": runs,
        "ratios_per_round": rounds,
    }


def stub_markdown(report: dict, args: argparse.Namespace) -> str:
    """The stub's busy fraction per configuration and round, with the load."""
    lines = [
        f"{report['files']} files, stub at {args.stub_rate:g} audio-s/s, {args.stub_workers} decode workers",
        "",
        "| round | snac_hf | load | stub busy (fraction of its span) | span (s) | job rate (audio-s/s) "
        "| peak RSS (MiB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for config, runs in report["runs"].items():
        tree = "before" if config == "stub before" else "this tree"
        for i, run in enumerate(runs):
            lines.append(
                f"| {i + 1} | {tree} | {run['load_before']:.2f} "
                f"| {run['stub_busy']:.3f} | {run['stub_span_seconds']:.1f} | {run['rate']:.0f} "
                f"| {run['peak_rss_mib']:.0f} |"
            )
    return "\n".join(lines)


def markdown(report: dict) -> str:
    lines = [
        f"{report['files']} files, {report['audio_hours']:.2f} h of audio, "
        f"{report['files_per_shard']} files per shard",
        "",
        "| round | load | decode only, 1 process (audio-s/s) | pipeline, 1 worker | pipeline, 2 workers "
        "| 1 worker, steady | 2 workers, steady | CPU ms per audio-s: decode only / 2 workers + job "
        "| peak RSS (job + worker, MiB) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    notes = {run["steady_note"] for runs in report["runs"].values() for run in runs if "steady_note" in run}
    for i, r in enumerate(report["ratios_per_round"]):
        d, w1, w2 = (report["runs"][c][i] for c in ("decode_only", "workers=1", "workers=2"))
        rss = f"{w2['peak_rss_mib']:.0f} + {w2['peak_child_rss_mib']:.0f}"
        cpu = (
            f"{d['job_cpu_ms_per_audio_s']:.3f} / {w2['worker_cpu_ms_per_audio_s']:.3f} + "
            f"{w2['job_cpu_ms_per_audio_s']:.3f}"
        )
        lines.append(
            f"| {i + 1} | {d['load_before']:.2f} | {r['decode_only']:.0f} | {w1['rate']:.0f} "
            f"({r['workers=1']:.2f}x) | {w2['rate']:.0f} ({r['workers=2']:.2f}x) | "
            f"{r['workers=1 steady']:.2f}x | {r['workers=2 steady']:.2f}x | {cpu} | {rss} |"
        )
    lines += [f"\nsteady: {note}" for note in sorted(notes)]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
