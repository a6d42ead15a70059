"""The tokenize job: an audio input -> a token-set folder, resumable, on one or many processes.

Work is cut into *units* of `files_per_shard` consecutive rows of the input (`snac_hf.job.units`:
which rows, which shard, which process). Per process, three stages overlap:

1. **read** the rows of its units that are not done (`snac_hf.job.inputs`: a map-style dataset by
   index, a streamed one source shard by source shard), in a feeder thread;
2. **decode** them in `num_workers` processes, results in input order (`snac_hf.sources.decoding`);
3. **encode** a window of `window_units` decoded units at once (segments of all their files
   bucketed together, so large equal-length batches form even when file lengths vary; codes do
   not depend on batching, `snac_hf.codec.encode`), then write each unit as a shard plus its record.

Resume: a unit is done when its record (and its shard, if it has rows) exist; both are written
atomically (temporary file + rename), the shard first. Re-running the same command skips done
units without reading their audio again; a run killed at any instant and resumed yields the same
shards as an uninterrupted run. `.snac_hf/run.json` holds a fingerprint of everything that
changes the output (the input's content, codec weights, segment/context/precision,
files_per_shard); a folder holding another token set is never overwritten without `overwrite`.
What does *not* change the output, and so may differ between a run and its resume: the number
of processes, `num_workers`, `batch_size`, `window_units`.

Once every unit is done (after a barrier), the main process merges the records into
metadata.json, errors.jsonl and the dataset card.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset, Features
from tqdm.auto import tqdm

from snac_hf.codec.compile_choice import compile_changes_codes, compile_settings
from snac_hf.codec.encode import SnacEncoder
from snac_hf.codec.load import Codec
from snac_hf.codec.precision import precision_name, precision_settings
from snac_hf.job.folder_lock import FolderLock
from snac_hf.job.inputs import MapInput, StreamInput
from snac_hf.job.output_folder import check_output, reset_output
from snac_hf.job.units import Unit, assign_units, record_path, unit_done
from snac_hf.sources.audio import AudioDecodeError
from snac_hf.sources.decoding import decode_in_order, default_workers
from snac_hf.sources.skipped import SKIPPED_FILE, write_skipped
from snac_hf.tokenset.card import build_metadata, write_card, write_errors, write_metadata
from snac_hf.tokenset.completeness import drop_stale_reports
from snac_hf.tokenset.integrity import file_sha256
from snac_hf.tokenset.ownership import record_written
from snac_hf.tokenset.schema import ERRORS_FILE, METADATA_FILE, rows_to_table, write_parquet


@dataclass
class TokenizeSettings:
    segment_seconds: float = 4.0
    context_seconds: float = 0.0
    batch_size: int = 16
    files_per_shard: int = 256
    exact: bool = False
    #: decode processes per job process; None: `decoding.default_workers` (0 on CPU: a thread)
    num_workers: int | None = None
    #: units encoded together (their segments bucketed as one); None: 4 on CUDA, 1 on CPU
    window_units: int | None = None
    #: the audio data's license, stated in the card (e.g. "cc-by-4.0"); not the codec's
    license: str | None = None
    #: the encoder's arithmetic: "fp32", or "bf16"/"fp16" autocast (`snac_hf.codec.precision`)
    precision: str = "fp32"
    #: torch.compile the encoder: True, False, or None for `snac_hf.codec.compile_choice`'s choice
    compile: bool | None = None

    def samples(self, codec: Codec) -> tuple[int, int]:
        """Segment and context lengths in samples, rounded to the padding multiple."""
        layout = codec.layout
        context = (
            round(self.context_seconds * layout.sampling_rate / layout.pad_multiple) * layout.pad_multiple
        )
        return layout.segment_samples(self.segment_seconds), context


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
    }
    if compile_changes_codes(settings.compile, torch.device(device), settings.precision, settings.exact):
        fingerprint["compile"] = True  # only then: older folders and code-identical runs still resume
    return fingerprint


@dataclass
class DecodedUnit:
    unit: Unit
    rows: list[dict] = field(default_factory=list)  # decoded: row + "samples"
    errors: list[dict] = field(default_factory=list)


def decoded_units(
    unit_rows: Iterator[tuple[Unit, list[dict]]], sampling_rate: int, num_workers: int
) -> Iterator[DecodedUnit]:
    """Each unit with its rows decoded (or failed), in unit order; decoding runs ahead."""
    read: deque[tuple[Unit, list[dict]]] = deque()

    def values() -> Iterator[dict]:  # runs in the decode feeder thread
        for unit, rows in unit_rows:
            read.append((unit, rows))
            for row in rows:
                yield row["audio"]

    outcomes = decode_in_order(values(), sampling_rate, num_workers)
    for first in outcomes:
        unit, rows = read.popleft()
        done = DecodedUnit(unit)
        for row, outcome in zip(rows, [first, *(next(outcomes) for _ in rows[1:])]):
            if isinstance(outcome, AudioDecodeError):
                done.errors.append({"id": row["id"], "file_path": row["file_path"], "error": str(outcome)})
            else:
                done.rows.append({**{k: v for k, v in row.items() if k != "audio"}, "samples": outcome})
        yield done


def windows(units: Iterator[DecodedUnit], size: int) -> Iterator[list[DecodedUnit]]:
    window: list[DecodedUnit] = []
    for unit in units:
        window.append(unit)
        if len(window) == size:
            yield window
            window = []
    if window:
        yield window


@dataclass
class UnitWriter:
    """Encodes windows of decoded units and writes each unit as a shard plus the record that
    marks it done."""

    folder: Path
    encoder: SnacEncoder
    segment: int
    context: int
    batch_size: int
    kept: Features

    def encode(self, window: list[DecodedUnit]) -> list[list[list[np.ndarray]]]:
        """Codes of every file of the window's units, per unit: one `encode_files` call, so the
        segments of all its units are bucketed together."""
        files = [row["samples"] for unit in window for row in unit.rows]
        codes = iter(self.encoder.encode_files(files, self.segment, self.batch_size, self.context))
        return [[next(codes) for _ in unit.rows] for unit in window]

    def write(self, window: list[DecodedUnit], codes: list[list[list[np.ndarray]]]) -> list[dict]:
        return [self._write_unit(unit, unit_codes) for unit, unit_codes in zip(window, codes)]

    def _write_unit(self, decoded: DecodedUnit, codes: list[list[np.ndarray]]) -> dict:
        layout = self.encoder.layout
        rows = [
            {
                **{k: v for k, v in row.items() if k != "samples"},
                "duration": len(row["samples"]) / layout.sampling_rate,
                "codes": c,
            }
            for row, c in zip(decoded.rows, codes)
        ]
        shard = decoded.unit.shard if rows else None
        digest = None
        if shard:  # the shard first: a record without its shard is not done
            table = rows_to_table(rows, layout.n_scales, layout.codebook_size, self.kept)
            record_written(self.folder, [shard])  # before the write: never a shard of ours unrecorded
            write_parquet(table, self.folder / shard, self.kept)
            digest = file_sha256(self.folder / shard)  # checked by every reader (`check_token_set`)
        record = {
            "unit": decoded.unit.index,
            "shard": shard,
            "rows": len(rows),
            "sha256": digest,
            "duration": sum(r["duration"] for r in rows),
            "errors": decoded.errors,
            "counts": [
                code_counts([r["codes"][k] for r in rows], layout.codebook_size)
                for k in range(layout.n_scales)
            ],
        }
        path = record_path(self.folder, decoded.unit.index)
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
        resume = check_output(folder, fingerprint, overwrite)  # every process checks before anyone writes
    except Exception:
        if lock is not None:
            lock.release(refused=True)
        raise
    processes.wait()
    if processes.is_main and not resume:
        reset_output(folder, fingerprint)
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
    units = source.plan(folder, settings.files_per_shard, processes.is_main, processes.wait)
    ours = assign_units(units, processes.index, processes.count, source.n_source_shards)
    done_before = {u.index for u in units if unit_done(folder, u.index)}
    todo = [u for u in ours if u.index not in done_before]
    if processes.is_main and resume:
        left = "; nothing left to encode" if len(done_before) == len(units) else ""
        print(f"resuming: {len(done_before)} of {len(units)} units done{left}", file=sys.stderr, flush=True)
    run_units(source, codec, folder, settings, processes, todo, progress)
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
) -> None:
    """Read, decode, encode and write this process's units that are not done."""
    if not todo:
        return
    device = str(processes.device)
    workers = settings.num_workers
    workers = default_workers(device, processes.local_count) if workers is None else workers
    window = settings.window_units or (4 if device.startswith("cuda") else 1)
    encoder = SnacEncoder(
        codec,
        processes.device,
        exact=settings.exact,
        precision=settings.precision,
        compile=settings.compile,
        expected_files=sum(len(u) for u in todo),
    )
    writer = UnitWriter(folder, encoder, *settings.samples(codec), settings.batch_size, source.kept)
    bar = tqdm(
        total=sum(len(u) for u in todo),
        unit="file",
        disable=not (progress and processes.is_main),
        desc=f"encoding (process {processes.index + 1}/{processes.count})",
    )
    started, seconds = time.perf_counter(), 0.0
    decoded = decoded_units(source.read(todo), codec.layout.sampling_rate, workers)
    # Shards are written in a thread while the next window is encoded (the device never waits
    # on Parquet); at most two windows are held.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="snac_hf-write") as writing:
        written: deque[tuple[list[DecodedUnit], Future]] = deque()
        for group in windows(decoded, window):
            written.append((group, writing.submit(writer.write, group, writer.encode(group))))
            while len(written) > 1 or (written and written[0][1].done()):
                seconds += report(bar, *written.popleft())
                real_time = seconds / (time.perf_counter() - started)
                bar.set_postfix_str(f"{seconds / 3600:.2f} h of audio, {real_time:.1f}x real time")
        while written:
            seconds += report(bar, *written.popleft())
    bar.close()


def report(bar: tqdm, group: list[DecodedUnit], records: Future) -> float:
    """Wait for a window's records (raising what the writer raised); advance the bar; audio seconds."""
    for unit in group:
        bar.update(len(unit.unit))
    return sum(record["duration"] for record in records.result())


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
    missing = [u.index for u in units if not unit_done(folder, u.index)]
    if missing:
        raise RuntimeError(
            f"{folder}: units {missing[:5]} are not done; run the same command again to resume"
        )
    records = [json.loads(record_path(folder, u.index).read_text()) for u in units]
    segment, context = settings.samples(codec)
    device = str(processes.device)
    run_settings = {
        **asdict(settings),
        "segment_samples": segment,
        "context_samples": context,
        "context_seconds": context / codec.layout.sampling_rate,
        **precision_settings(settings.precision, settings.exact),
        **compile_settings(settings.compile, torch.device(device), settings.precision, settings.exact),
        "num_units": len(units),
        "num_processes": processes.count,
        "device": str(processes.device),
    }
    meta = build_metadata(records, codec.describe(), run_settings)
    meta["kept_columns"] = kept.to_dict()
    meta["files_skipped"] = len(skipped)
    record_written(folder, [ERRORS_FILE, METADATA_FILE, "README.md", SKIPPED_FILE])
    write_errors(folder, records)
    write_metadata(folder, meta)
    drop_stale_reports(folder, meta)  # an analysis of an earlier, unfinished state of the set
    write_card(folder, meta)
    write_skipped(folder, skipped)
    return meta, records
