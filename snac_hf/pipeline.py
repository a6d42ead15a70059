"""The tokenize job: an audio dataset -> a token-set folder, resumable, on one or many processes.

Work is cut into *units* of `files_per_shard` consecutive files of the (deterministically
ordered) input. Unit j becomes shard `data/train-{j}-of-{n_units}.parquet` and a record
`.snac_hf/units/{j}.json`; process r of W takes the units with j % W == r (r is accelerate's
*global* process index, so several machines sharing the output folder split the work too).
Shard names depend on the input and `files_per_shard`, never on the number of processes, so a
run resumed with another world size cannot leave stale shards beside new ones.

Resume: a unit is done when its record (and its shard, if it has rows) exist; both are written
atomically (temporary file + rename), the shard first. Re-running the same command skips done
units; a run killed at any instant and resumed yields the same shards as an uninterrupted run.
`.snac_hf/run.json` holds a fingerprint of everything that changes the output (input files,
codec weights, segment/context/precision, files_per_shard); a folder holding another dataset is
never overwritten without `overwrite=True`.

Once every unit is done (after a barrier), the main process merges the records into
metadata.json, errors.jsonl and the dataset card.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset
from tqdm.auto import tqdm

from snac_hf.audio import AudioDecodeError, decode_audio
from snac_hf.card import build_metadata, write_card, write_errors, write_metadata
from snac_hf.codec import Codec
from snac_hf.encode import SnacEncoder
from snac_hf.output_folder import STATE_DIR, check_output, reset_output
from snac_hf.tokenset import rows_to_table, shard_name, write_parquet


@dataclass
class TokenizeSettings:
    segment_seconds: float = 4.0
    context_seconds: float = 0.0
    batch_size: int = 16
    files_per_shard: int = 256
    exact: bool = False

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

    @property
    def is_main(self) -> bool:
        return self.index == 0

    def wait(self) -> None:
        if self.barrier is not None:
            self.barrier()


def input_fingerprint(audio: Dataset) -> list:
    """ids plus size and mtime of files on disk: editing an input file changes the run."""
    entries = []
    for item_id, path in zip(audio["id"], audio["file_path"]):
        stat = os.stat(path) if os.path.isfile(path) else None
        entries.append([item_id, stat.st_size if stat else None, stat.st_mtime_ns if stat else None])
    return entries


def weights_digest(codec: Codec) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(codec.model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()


def run_fingerprint(audio: Dataset, codec: Codec, settings: TokenizeSettings) -> dict:
    segment, context = settings.samples(codec)
    inputs = hashlib.sha256(json.dumps(input_fingerprint(audio)).encode()).hexdigest()
    return {
        "inputs": inputs,
        "n_files": len(audio),
        "codec": {
            "name": codec.name,
            "checkpoint": codec.checkpoint,
            "weights_sha256": weights_digest(codec),
        },
        "segment_samples": segment,
        "context_samples": context,
        "precision": "float64" if settings.exact else "float32",
        "files_per_shard": settings.files_per_shard,
    }


def unit_record_path(folder: Path, unit: int) -> Path:
    return folder / STATE_DIR / "units" / f"{unit:05d}.json"


def unit_done(folder: Path, unit: int) -> bool:
    path = unit_record_path(folder, unit)
    if not path.is_file():
        return False
    shard = json.loads(path.read_text())["shard"]
    return shard is None or (folder / shard).is_file()


def decode_unit(audio: Dataset, rows: range, sampling_rate: int) -> tuple[list[dict], list[dict]]:
    """Decoded files of one unit, and the failures (id, file_path, error) in input order."""
    batch = audio[rows.start : rows.stop]
    decoded, errors = [], []
    for item_id, path, value in zip(batch["id"], batch["file_path"], batch["audio"]):
        try:
            decoded.append({"id": item_id, "file_path": path, "samples": decode_audio(value, sampling_rate)})
        except AudioDecodeError as error:
            errors.append({"id": item_id, "file_path": path, "error": str(error)})
    return decoded, errors


def decoded_units(
    audio: Dataset, ranges: dict[int, range], sampling_rate: int
) -> Iterator[tuple[int, list[dict], list[dict]]]:
    """(unit, decoded, errors) in order, decoding unit j+1 in a thread while unit j is encoded."""
    units = list(ranges)
    with ThreadPoolExecutor(max_workers=1) as prefetch:
        pending = [prefetch.submit(decode_unit, audio, ranges[j], sampling_rate) for j in units[:1]]
        for position, unit in enumerate(units):
            if position + 1 < len(units):
                pending.append(
                    prefetch.submit(decode_unit, audio, ranges[units[position + 1]], sampling_rate)
                )
            yield unit, *pending.pop(0).result()


@dataclass
class UnitWriter:
    """Encodes decoded units and writes each as a shard plus the record that marks it done."""

    folder: Path
    n_units: int
    encoder: SnacEncoder
    segment: int
    context: int
    batch_size: int

    def write(self, unit: int, decoded: list[dict], errors: list[dict]) -> dict:
        layout = self.encoder.layout
        files = [d["samples"] for d in decoded]
        codes = self.encoder.encode_files(files, self.segment, self.batch_size, self.context)
        rows = [
            {
                "id": d["id"],
                "file_path": d["file_path"],
                "duration": len(d["samples"]) / layout.sampling_rate,
                "codes": c,
            }
            for d, c in zip(decoded, codes)
        ]
        shard = shard_name(unit, self.n_units) if rows else None
        if shard:  # the shard first: a record without its shard is not done
            write_parquet(rows_to_table(rows, layout.n_scales, layout.codebook_size), self.folder / shard)
        record = {
            "unit": unit,
            "shard": shard,
            "rows": len(rows),
            "duration": sum(r["duration"] for r in rows),
            "errors": errors,
            "counts": [
                code_counts([r["codes"][k] for r in rows], layout.codebook_size)
                for k in range(layout.n_scales)
            ],
        }
        path = unit_record_path(self.folder, unit)
        tmp = path.with_name(f".{path.name}.partial")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, path)
        return record


def code_counts(codes: list[np.ndarray], codebook_size: int) -> list[int]:
    """Bincount of one scale's codes over several files."""
    flat = np.concatenate(codes).astype(np.int64) if codes else np.zeros(0, np.int64)
    return np.bincount(flat, minlength=codebook_size).tolist()


def tokenize_dataset(
    audio: Dataset,
    codec: Codec,
    output_dir: str,
    settings: TokenizeSettings,
    processes: Processes | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict | None:
    """Run the job; returns the merged metadata on the main process (None elsewhere)."""
    processes = processes or Processes()
    folder = Path(output_dir)
    fingerprint = run_fingerprint(audio, codec, settings)
    resume = check_output(folder, fingerprint, overwrite)  # every process checks before anyone writes
    processes.wait()
    if processes.is_main and not resume:
        reset_output(folder, fingerprint)
    processes.wait()

    size = settings.files_per_shard
    n_units = -(-len(audio) // size)
    mine = [j for j in range(processes.index, n_units, processes.count) if not unit_done(folder, j)]
    ranges = {j: range(j * size, min(len(audio), (j + 1) * size)) for j in mine}
    encoder = SnacEncoder(codec, processes.device, exact=settings.exact)
    writer = UnitWriter(folder, n_units, encoder, *settings.samples(codec), settings.batch_size)
    bar = tqdm(
        total=sum(len(r) for r in ranges.values()),
        unit="file",
        disable=not (progress and processes.is_main),
        desc=f"encoding (process {processes.index + 1}/{processes.count})",
    )
    started, seconds = time.perf_counter(), 0.0
    for unit, decoded, errors in decoded_units(audio, ranges, codec.layout.sampling_rate):
        seconds += writer.write(unit, decoded, errors)["duration"]
        bar.update(len(ranges[unit]))
        real_time = seconds / (time.perf_counter() - started)
        bar.set_postfix(audio_h_per_s=f"{real_time / 3600:.3g}", real_time=f"{real_time:.1f}x")
    bar.close()
    processes.wait()
    if not processes.is_main:
        return None
    return finish(folder, n_units, codec, settings, processes)


def finish(
    folder: Path, n_units: int, codec: Codec, settings: TokenizeSettings, processes: Processes
) -> dict:
    """Merge the unit records into metadata.json, errors.jsonl and the card (main process)."""
    missing = [j for j in range(n_units) if not unit_done(folder, j)]
    if missing:
        raise RuntimeError(
            f"{folder}: units {missing[:5]} are not done; run the same command again to resume"
        )
    records = [json.loads(unit_record_path(folder, j).read_text()) for j in range(n_units)]
    segment, context = settings.samples(codec)
    run_settings = {
        **asdict(settings),
        "segment_samples": segment,
        "context_samples": context,
        "context_seconds": context / codec.layout.sampling_rate,
        "precision": "float64" if settings.exact else "float32",
        "num_units": n_units,
        "num_processes": processes.count,
        "device": str(processes.device),
    }
    meta = build_metadata(records, codec.describe(), run_settings)
    write_errors(folder, records)
    write_metadata(folder, meta)
    write_card(folder, meta)
    return meta
