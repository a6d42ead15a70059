"""The tokenize job: an audio input -> a token-set folder, resumable, on one or many processes.

Work is cut into *units* of `files_per_shard` consecutive rows of the input (`snac_hf.job.units`:
which rows, which shard, which process). Per process, three stages overlap:

1. **read** the rows of its units that are not done (`snac_hf.job.inputs`: a map-style dataset by
   index, a streamed one source shard by source shard), in a feeder thread;
2. **decode** them in `num_workers` processes, results in input order (`snac_hf.sources.decoding`);
3. **encode** a window of about `window_seconds` of audio of consecutive files at once (segments
   of all its files bucketed together, so large equal-length batches form even when file lengths
   vary; codes do not depend on batching, `snac_hf.codec.encode`), while the next window is
   assembled in a thread; then write each unit whose files are all encoded as a shard plus its
   record, its samples already released (`snac_hf.job.windows`: memory follows the audio in
   flight, not the files' length). A device out of memory halves the batch size and encodes the
   window again (`snac_hf.job.out_of_memory`).

Resume: a unit is done when its record (and its shard, if it has rows) exist; both are written
atomically (temporary file + rename), the shard first. Re-running the same command skips done
units without reading their audio again; a run killed at any instant and resumed yields the same
shards as an uninterrupted run. `.snac_hf/run.json` holds a fingerprint of everything that
changes the output (the input's content, codec weights, segment/context/precision,
files_per_shard); a folder holding another token set is never overwritten without `overwrite`.
What does *not* change the output, and so may differ between a run and its resume: the number
of processes, `num_workers`, `batch_size`, `window_seconds`.

Once every unit is done (after a barrier), the main process merges the records into
metadata.json, errors.jsonl and the dataset card.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset, Features
from tqdm.auto import tqdm

from snac_hf.codec.compile_choice import compile_changes_codes, compile_settings
from snac_hf.codec.encode import QUIET_PEAK, SnacEncoder
from snac_hf.codec.load import Codec
from snac_hf.codec.precision import arithmetic, precision_name, precision_settings
from snac_hf.codec.receptive_field import context_for
from snac_hf.job.folder_lock import FolderLock
from snac_hf.job.inputs import MapInput, StreamInput
from snac_hf.job.out_of_memory import SplittingEncoder
from snac_hf.job.output_folder import check_output, reset_output
from snac_hf.job.progress import JobProgress
from snac_hf.job.progress import clear as clear_progress
from snac_hf.job.splits import merged_skipped, with_all_splits
from snac_hf.job.units import Unit, assign_units, record_path, unit_done
from snac_hf.job.windows import (
    EncodedUnit,
    UnitAssembly,
    audio_windows,
    decoded_files,
    drop_by_duration,
    run_ahead,
)
from snac_hf.layout.scales import CodecLayout
from snac_hf.sources.decoding import default_workers
from snac_hf.sources.skipped import SKIPPED_FILE, write_skipped
from snac_hf.tokenset.card import build_metadata, write_card, write_errors, write_metadata
from snac_hf.tokenset.completeness import drop_stale_reports
from snac_hf.tokenset.integrity import file_sha256
from snac_hf.tokenset.ownership import record_written
from snac_hf.tokenset.schema import ERRORS_FILE, METADATA_FILE, SPLIT, rows_to_table, write_parquet


@dataclass
class TokenizeSettings:
    segment_seconds: float = 4.0
    #: audio added on both sides of each segment, then discarded; None: the encoder's reach
    #: (`snac_hf.codec.receptive_field`), which makes every file's codes its whole-file codes
    context_seconds: float | None = None
    #: segments per batch; None: 64 on CUDA (a bucket is launch-bound below that), 16 elsewhere
    batch_size: int | None = None
    files_per_shard: int = 256
    exact: bool = False
    #: decode processes per job process; None: `decoding.default_workers` (0 on CPU: a thread)
    num_workers: int | None = None
    #: audio-seconds of consecutive files encoded together (their segments bucketed as one), and
    #: how far decoding runs ahead; None: 4096 on CUDA, 512 elsewhere
    window_seconds: float | None = None
    #: the audio data's license, stated in the card (e.g. "cc-by-4.0"); not the codec's
    license: str | None = None
    #: the encoder's arithmetic: "fp32", or "bf16"/"fp16" autocast (`snac_hf.codec.precision`)
    precision: str = "fp32"
    #: torch.compile the encoder: True, False, or None for `snac_hf.codec.compile_choice`'s choice
    compile: bool | None = None
    #: the split of the token set this run writes (`data/{split}-*.parquet`; `snac_hf.job.splits`)
    split: str = SPLIT
    #: files shorter / longer than this many seconds (after decoding) are skipped, not encoded
    min_duration: float | None = None
    max_duration: float | None = None

    def samples(self, codec: Codec) -> tuple[int, int]:
        """Segment and context lengths in samples, rounded to the padding multiple (the context
        of None: `context_for(codec)`)."""
        layout = codec.layout
        if self.context_seconds is None:
            context = context_for(codec)
        else:
            context = (
                round(self.context_seconds * layout.sampling_rate / layout.pad_multiple) * layout.pad_multiple
            )
        return layout.segment_samples(self.segment_seconds), context

    def for_device(self, device: str) -> TokenizeSettings:
        """These settings with the device's defaults filled in (what metadata.json states)."""
        cuda = str(device).startswith("cuda")
        return replace(
            self,
            batch_size=self.batch_size or (CUDA_BATCH_SIZE if cuda else CPU_BATCH_SIZE),
            window_seconds=self.window_seconds or (CUDA_WINDOW_SECONDS if cuda else CPU_WINDOW_SECONDS),
        )


#: Default segments per batch. On CUDA 16 x 4 s segments are ~350 kernel launches for 64 audio-s
#: (launch-bound); 64 and more keep the device busy. On CPU the encoder runs item by item.
CUDA_BATCH_SIZE, CPU_BATCH_SIZE = 64, 16
#: Default audio-seconds per window: on CUDA 16 full buckets of 64 x 4 s (393 MB of samples at
#: 24 kHz); on CPU the encoder is ~300x slower, so a smaller window is ahead long enough.
CUDA_WINDOW_SECONDS, CPU_WINDOW_SECONDS = 4096.0, 512.0


@dataclass
class Processes:
    """Who this process is among the job's processes (accelerate's PartialState, or alone)."""

    index: int = 0
    count: int = 1
    device: str = "cpu"
    barrier: object = None
    local_count: int = 1

    @property
    def is_main(self) -> bool:
        return self.index == 0

    def wait(self) -> None:
        if self.barrier is not None:
            self.barrier()


def weights_digest(codec: Codec) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(codec.model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()


def run_fingerprint(
    source: MapInput | StreamInput, codec: Codec, settings: TokenizeSettings, device: str = "cpu"
) -> dict:
    segment, context = settings.samples(codec)
    fingerprint = {
        "inputs": hashlib.sha256(json.dumps(source.fingerprint(), sort_keys=True).encode()).hexdigest(),
        "kept_columns": source.kept.to_dict(),
        "codec": {
            "name": codec.name,
            "checkpoint": codec.checkpoint,
            "weights_sha256": weights_digest(codec),
        },
        "segment_samples": segment,
        "context_samples": context,
        "precision": precision_name(settings.precision, settings.exact),
        "files_per_shard": settings.files_per_shard,
        "arithmetic": run_arithmetic(settings, device),
        "padding_codes": True,  # shards carry padding_scale_k: never mixed with shards of older runs
    }
    if settings.split != SPLIT:
        fingerprint["split"] = settings.split  # only then: single-split sets still resume
    for name in ("min_duration", "max_duration"):
        if getattr(settings, name) is not None:  # only when set, as above
            fingerprint[name] = getattr(settings, name)
    return fingerprint


def run_arithmetic(settings: TokenizeSettings, device: str) -> dict:
    """Device type, TF32, compilation and cuDNN settings (`snac_hf.codec.precision.arithmetic`):
    compilation only where its codes are not proven equal to eager's, so that the CPU default's
    choice may differ between a run and its resume."""
    compiled = compile_changes_codes(
        settings.compile, torch.device(device), settings.precision, settings.exact
    )
    return arithmetic(device, settings.precision, compiled, None if settings.exact else QUIET_PEAK)


def upgraded_run(run: dict) -> dict:
    """A run.json written before the fingerprint held the arithmetic, as today's fingerprint of
    the same run: those versions had only ever run on CPU, without TF32, and recorded `compile`
    only where it changed codes, and encoded quiet segments in float32 like the rest."""
    if "arithmetic" in run:
        return run
    old = {k: v for k, v in run.items() if k != "compile"}
    return {**old, "arithmetic": arithmetic("cpu", "fp32", bool(run.get("compile", False)))}


@dataclass
class UnitWriter:
    """Writes each encoded unit as a shard plus the record that marks it done."""

    folder: Path
    layout: CodecLayout
    kept: Features
    #: called as files are encoded: (files finished, samples encoded) (`snac_hf.job.progress`)
    progress: Callable[[int, int], None] | None = None

    def write(self, units: list[EncodedUnit]) -> list[dict]:
        return [self._write_unit(unit) for unit in units]

    def _write_unit(self, encoded: EncodedUnit) -> dict:
        layout = self.layout
        rows = encoded.rows
        shard = encoded.unit.shard if rows else None
        digest = None
        if shard:  # the shard first: a record without its shard is not done
            table = rows_to_table(rows, layout.n_scales, layout.codebook_size, self.kept)
            record_written(self.folder, [shard])  # before the write: never a shard of ours unrecorded
            write_parquet(table, self.folder / shard, self.kept)
            digest = file_sha256(self.folder / shard)  # checked by every reader (`check_token_set`)
        record = {
            "unit": encoded.unit.index,
            "shard": shard,
            "rows": len(rows),
            "sha256": digest,
            "duration": sum(r["duration"] for r in rows),
            "errors": encoded.errors,
            "skipped": encoded.skipped,
            "counts": [
                code_counts([r["codes"][k] for r in rows], layout.codebook_size)
                for k in range(layout.n_scales)
            ],
            "padding_codes": [sum(len(r["padding"][k]) for r in rows) for k in range(layout.n_scales)],
        }
        if encoded.oom_splits:
            record["out_of_memory_splits"] = encoded.oom_splits
        path = record_path(self.folder, encoded.unit.index, encoded.unit.split)
        tmp = path.with_name(f".{path.name}.partial")
        tmp.write_text(json.dumps(record, ensure_ascii=False))
        os.replace(tmp, path)
        return record


def code_counts(codes: list[np.ndarray], codebook_size: int) -> list[int]:
    """Bincount of one scale's codes over several files."""
    flat = np.concatenate(codes).astype(np.int64) if codes else np.zeros(0, np.int64)
    return np.bincount(flat, minlength=codebook_size).tolist()


def as_input(audio: Dataset | MapInput | StreamInput) -> MapInput | StreamInput:
    return audio if isinstance(audio, (MapInput, StreamInput)) else MapInput(audio)


def tokenize_dataset(
    audio: Dataset | MapInput | StreamInput,
    codec: Codec,
    output_dir: str,
    settings: TokenizeSettings,
    processes: Processes | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict | None:
    """Run the job; returns the merged metadata on the main process (None elsewhere)."""
    processes = processes or Processes()
    source = as_input(audio)
    folder = Path(output_dir)
    fingerprint = run_fingerprint(source, codec, settings, str(processes.device))
    lock = FolderLock.acquire(folder) if processes.is_main else None  # one run per folder
    try:
        resume = check_output(folder, fingerprint, overwrite, upgraded_run)  # every process checks first
    except Exception:
        if lock is not None:
            lock.release(refused=True)
        raise
    processes.wait()
    if processes.is_main and not resume:
        reset_output(folder, fingerprint)
    if processes.is_main:
        clear_progress(folder)  # an earlier run's counts are not this run's
    if lock is not None:
        lock.record_holder()
    processes.wait()
    try:
        return _run(source, codec, folder, settings, processes, progress, resume)
    finally:
        if lock is not None:
            lock.release()


def _run(
    source: MapInput | StreamInput,
    codec: Codec,
    folder: Path,
    settings: TokenizeSettings,
    processes: Processes,
    progress: bool,
    resume: bool,
) -> dict | None:
    """The run after its folder is locked and started: plan, encode this process's units, finish."""
    units = source.plan(folder, settings.files_per_shard, processes.is_main, processes.wait, settings.split)
    ours = assign_units(units, processes.index, processes.count, source.n_source_shards)
    done_before = {u.index for u in units if unit_done(folder, u.index, u.split)}
    todo = [u for u in ours if u.index not in done_before]
    if processes.is_main and resume:
        left = "; nothing left to encode" if len(done_before) == len(units) else ""
        print(f"resuming: {len(done_before)} of {len(units)} units done{left}", file=sys.stderr, flush=True)
    job_files = sum(len(u) for u in units if u.index not in done_before)
    run_units(source, codec, folder, settings, processes, todo, progress, job_files)
    processes.wait()
    if not processes.is_main:
        return None
    meta, records = finish(folder, units, codec, settings, processes, source.kept, source.skipped)
    return {**meta, "this_run": this_run(records, done_before)}


def this_run(records: list[dict], done_before: set[int]) -> dict:
    """Files and audio seconds encoded by this run (by all its processes): units done since it began."""
    new = [r for r in records if r["unit"] not in done_before]
    return {
        "units": len(new),
        "files": sum(r["rows"] for r in new),
        "audio_seconds": sum(r["duration"] for r in new),
    }


def run_units(
    source: MapInput | StreamInput,
    codec: Codec,
    folder: Path,
    settings: TokenizeSettings,
    processes: Processes,
    todo: list[Unit],
    progress: bool,
    job_files: int | None = None,
) -> None:
    """Read, decode, encode and write this process's units that are not done; `job_files`: the
    files of every process's units left (what the main process's progress counts to)."""
    if not todo:
        return
    device = str(processes.device)
    settings = settings.for_device(device)
    workers = settings.num_workers
    workers = default_workers(device, processes.local_count) if workers is None else workers
    encoder = SnacEncoder(
        codec,
        processes.device,
        exact=settings.exact,
        precision=settings.precision,
        compile=settings.compile,
        expected_files=sum(len(u) for u in todo),
    )
    splitting = SplittingEncoder(encoder, *settings.samples(codec), settings.batch_size)
    writer = UnitWriter(folder, codec.layout, source.kept)
    assembly = UnitAssembly(codec.layout, "float64" if settings.exact else settings.precision)
    rate = codec.layout.sampling_rate
    total = job_files if processes.is_main and job_files is not None else sum(len(u) for u in todo)
    counter = JobProgress(folder, processes.index, processes.count, total, rate)
    bar = tqdm(
        total=total,
        unit="file",
        disable=not (progress and processes.is_main),
        desc="encoding" + (f" ({processes.count} processes)" if processes.count > 1 else ""),
    )
    splitting.progress = lambda files, samples: show(bar, counter, files, samples)
    files = decoded_files(source.read(todo), rate, workers, settings.window_seconds)
    files = drop_by_duration(files, rate, settings.min_duration, settings.max_duration)
    # The next window is assembled while this one is encoded; shards are written in a thread
    # while the next window is encoded (the device never waits on Parquet); at most two writes wait.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="snac_hf-write") as writing:
        written: deque[Future] = deque()
        for window in run_ahead(audio_windows(files, int(settings.window_seconds * rate))):
            never_encoded = sum(f.samples is None for f in window)  # failed to decode, or skipped
            codes, nonfinite, splits = splitting.encode([f.samples for f in window if f.samples is not None])
            complete = assembly.add(window, codes, splits, nonfinite)
            del window  # its samples are released: only codes go on
            show(bar, counter, never_encoded, 0)
            if complete:
                written.append(writing.submit(writer.write, complete))
            while len(written) > 1 or (written and written[0].done()):
                written.popleft().result()  # raises what the writer raised
        while written:
            written.popleft().result()
    if processes.count > 1:
        counter.publish()  # the last counts, for the main process
    bar.close()


def show(bar: tqdm, counter: JobProgress, files: int, samples: int) -> None:
    """Count what the encoder just finished; on the main process, show the whole job (files as they
    are encoded, audio hours, real-time factor; tqdm's rate and ETA over the job's files)."""
    counter.encoded(files, samples)
    if bar.disable:
        return
    job = counter.snapshot()
    bar.set_postfix_str(f"{job.audio_seconds / 3600:.3f} h of audio, {job.real_time:.1f}x real time", False)
    bar.update(min(job.files, bar.total) - bar.n)


def finish(
    folder: Path,
    units: list[Unit],
    codec: Codec,
    settings: TokenizeSettings,
    processes: Processes,
    kept: Features,
    skipped: list[dict],
) -> tuple[dict, list[dict]]:
    """Merge the unit records into metadata.json, errors.jsonl and the card (main process);
    returns the metadata and the records."""
    missing = [u.index for u in units if not unit_done(folder, u.index, u.split)]
    if missing:
        raise RuntimeError(
            f"{folder}: units {missing[:5]} are not done; run the same command again to resume"
        )
    records = [json.loads(record_path(folder, u.index, u.split).read_text()) for u in units]
    segment, context = settings.samples(codec)
    device = str(processes.device)
    settings = settings.for_device(device)
    run_settings = {
        **asdict(settings),
        "segment_samples": segment,
        "context_samples": context,
        "context_seconds": context / codec.layout.sampling_rate,
        **precision_settings(settings.precision, settings.exact),
        **compile_settings(settings.compile, torch.device(device), settings.precision, settings.exact),
        "arithmetic": run_arithmetic(settings, device),
        "num_units": len(units),
        "num_processes": processes.count,
        "device": str(processes.device),
    }
    meta = build_metadata(records, codec.describe(), run_settings)
    meta["kept_columns"] = kept.to_dict()
    meta["padding_codes"] = padding_summary(records, codec.layout.n_scales)
    skipped = [*skipped, *(entry for record in records for entry in record.get("skipped", []))]
    meta["files_skipped"] = len(skipped)
    splits = [split for record in records for split in record.get("out_of_memory_splits", [])]
    if splits:  # said only when it happened: the codes are the same, the batch size was not
        meta["out_of_memory_splits"] = splits
    meta, every_split = with_all_splits(folder, settings.split, meta, records, codec.describe())
    skipped = merged_skipped(folder, settings.split, skipped)
    record_written(folder, [ERRORS_FILE, METADATA_FILE, "README.md", SKIPPED_FILE])
    write_errors(folder, every_split)
    write_metadata(folder, meta)
    drop_stale_reports(folder, meta)  # an analysis of an earlier, unfinished state of the set
    write_card(folder, meta)
    write_skipped(folder, skipped)
    return meta, records


def padding_summary(records: list[dict], n_scales: int) -> dict:
    """metadata.json's `padding_codes`: where the padding codes are and how many per scale."""
    return {
        "columns": [f"padding_scale_{k}" for k in range(n_scales)],
        "codes_per_scale": [
            sum(r.get("padding_codes", [0] * n_scales)[k] for r in records) for k in range(n_scales)
        ],
        "rule": "SNAC's codes over its own zero padding that complete each file's last frame: "
        "ceil(n_samples / samples_per_code(0)) frames; not audio, never counted in the statistics",
    }
