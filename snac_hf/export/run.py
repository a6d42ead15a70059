"""`export_orpheus`: a token set -> an Orpheus training-data folder that `load_dataset` reads.

    from snac_hf.export import ExportSettings, export_orpheus
    settings = ExportSettings("text", "meta-llama/Llama-3.2-3B-Instruct")
    summary = export_orpheus("tokens/", "orpheus/", settings)

Order of work: everything that can be wrong with the inputs is checked before anything is written
(the token set and its layout, the text and speaker columns, the numbers, the text tokenizer, the
output folder). Then each unit of the token set (a Parquet shard) becomes one output shard
(`writer.write_shard`), in this process or in `num_proc` worker processes (spawned: a fork after
the tokenizers' thread pool started can hang), each streaming its unit batch by batch. The shards
that hold rows are renamed to `data/{split}-i-of-n.parquet`, then the card is written and
`export.json` last (every shard and its sha256: a folder without it was stopped, and readers refuse
it). The run holds the output folder's lock (`snac_hf.tokenset.folder_lock`) from its output checks
to its end: a second export into the same folder is refused in one line. If the run fails, or
writes no row at all, what it wrote is removed again; a worker process that dies is one line
naming the shards that were being written (`WorkerDiedError`).

Splits: every split of a token-set folder is exported under its own name (`settings.split` None,
the default), or the one split `settings.split` names (of anything else: train by default).
`export.json` then holds the totals and, for more than one split, `splits` (each split's counts
and shards).

An unfinished token set (tokenize stopped before every unit was done) is refused, or with
`allow_partial` its done units are exported and `export.json` and the card say so
(`token_set_partial`).
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from datasets import Dataset, Features
from transformers import PreTrainedTokenizerBase

from snac_hf.export.card import write_card, write_summary
from snac_hf.export.folder import (
    EXPORT_FILES,
    check_output,
    discard,
    final_shards,
    start_output,
    temporary_shards,
)
from snac_hf.export.frames import frame_rule
from snac_hf.export.pack import pack_tails
from snac_hf.export.rows import ExportCounts, RowSettings
from snac_hf.export.source import OUTPUT_COLUMNS, TokenSource, open_source
from snac_hf.export.text_tokenizer import check_text_tokenizer, describe_tokenizer, load_text_tokenizer
from snac_hf.export.writer import (
    ShardJob,
    ShardResult,
    block_names,
    blocks_table,
    multipack_features,
    output_features,
    set_worker_tokenizer,
    write_shard,
    write_shard_in_worker,
)
from snac_hf.layout.tts_layouts import TtsLayout, tts_layout
from snac_hf.tokenset.card import public_name
from snac_hf.tokenset.finished_export import shard_files
from snac_hf.tokenset.folder_lock import FolderLock
from snac_hf.tokenset.load import is_saved_to_disk
from snac_hf.tokenset.ownership import record_written
from snac_hf.tokenset.schema import has_padding_columns, parquet_files, splits_of


@dataclass(frozen=True)
class ExportSettings:
    text_column: str
    text_tokenizer: str  # a local folder or a Hub id (AutoTokenizer)
    speaker_column: str | None = None
    max_length: int | None = None  # rows longer are left out and counted
    pack: int | None = None  # chain the rows into blocks of this many ids (pre-training)
    num_proc: int = 1
    overwrite: bool = False
    #: `frames.FRAME_RULES`: "upstream" (ceil(n / 2048) frames), "real" (whole real frames only), or
    #: None: upstream where the token set stores padding codes, else real (`frames.frame_rule`)
    frames: str | None = None
    split: str | None = None  # the split exported; None: every split of a token-set folder (else train)
    format: str = "orpheus"  # the id layout (snac_hf.layout.tts_layouts.TTS_LAYOUTS)
    multipack: int | None = None  # whole rows into blocks of at most this many ids (fine-tuning)
    text_tokenizer_ok: bool = False  # write rows with a text tokenizer the layout's check refuses

    @property
    def layout(self) -> TtsLayout:
        return tts_layout(self.format)

    @property
    def row_limit(self) -> int | None:
        """The longest row written: --max_length, and with --multipack at most one block."""
        limits = [n for n in (self.max_length, self.multipack) if n is not None]
        return min(limits) if limits else None

    allow_partial: bool = False  # export the done units of an unfinished token set (recorded)


class WorkerDiedError(RuntimeError):
    """An export worker process died (killed, out of memory) while writing shards."""


def check_numbers(settings: ExportSettings) -> None:
    """A ValueError for an unknown format, a max_length or multipack block no row can meet, both
    packings at once, a block size or process count below 1."""
    markers = settings.layout.marker_ids
    for name, value in (("--max_length", settings.max_length), ("--multipack", settings.multipack)):
        if value is not None and value <= markers:
            raise ValueError(f"{name} {value}: a {settings.format} row holds {markers} markers alone")
    if settings.pack is not None and settings.multipack is not None:
        raise ValueError("--pack and --multipack are two packings: choose one (--multipack for fine-tuning)")
    if settings.pack is not None and settings.pack < 1:
        raise ValueError(f"--pack {settings.pack}: blocks need at least 1 id")
    if settings.num_proc < 1:
        raise ValueError(f"--num_proc {settings.num_proc}: need at least 1 process")


def check_columns(settings: ExportSettings) -> None:
    """A ValueError for a text or speaker column that is one of the row's own columns (`id`, ...),
    or a speaker column that is the text column."""
    columns = (("--text_column", settings.text_column), ("--speaker_column", settings.speaker_column))
    for flag, name in columns:
        if name in OUTPUT_COLUMNS:
            raise ValueError(
                f"{flag} {name}: {name!r} is a column of every exported row ({', '.join(OUTPUT_COLUMNS)}), "
                "not a transcript or speaker; give the column that holds them"
            )
    if settings.speaker_column and settings.speaker_column == settings.text_column:
        raise ValueError(
            f"--speaker_column {settings.speaker_column} is also the --text_column: give the speaker's own "
            "column, or leave --speaker_column out"
        )


def run_jobs(jobs: list[ShardJob], tokenizer: PreTrainedTokenizerBase, num_proc: int) -> list[ShardResult]:
    """Every shard job, in this process or in `num_proc` spawned workers; results in job order."""
    workers = min(num_proc, len(jobs))
    if workers <= 1:
        return [write_shard(job, tokenizer) for job in jobs]
    # Each worker encodes its own batches: the tokenizers' own thread pool would only oversubscribe.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    context = multiprocessing.get_context("spawn")
    # The workers load the tokenizer from a folder saved here, not from a pickle sent through the
    # spawn pipe: CPython writes a new worker's start-up data while it still holds the pipe's read
    # end itself, so a worker killed during its start-up left a multi-MB pickle (a Llama 3
    # tokenizer) blocked on that write forever (measured: the export hung instead of stopping).
    with tempfile.TemporaryDirectory(prefix="snac_hf-tokenizer-") as saved:
        tokenizer.save_pretrained(saved)
        with ProcessPoolExecutor(
            workers, mp_context=context, initializer=set_worker_tokenizer, initargs=(saved,)
        ) as pool:
            futures = [pool.submit(write_shard_in_worker, job) for job in jobs]
            results = []
            for index, future in enumerate(futures):
                try:
                    results.append(future.result())
                except BrokenProcessPool:
                    # A worker the pool started while it was breaking is not in the pool's list,
                    # and its shutdown waits on it forever (seen with CPython 3.11): end them all.
                    for child in multiprocessing.active_children():
                        child.kill()
                    raise WorkerDiedError(died_message(jobs, futures, index, workers)) from None
            return results


def died_message(jobs: list[ShardJob], futures: list, first: int, workers: int) -> str:
    """Which shards were being written when a worker died: the first unfinished ones (at most one
    per worker were running)."""
    unfinished = [i for i in range(first, len(jobs)) if not futures[i].done() or futures[i].exception()]
    shards = ", ".join(job_input(jobs[i]) for i in unfinished[:workers])
    return (
        f"an export worker process died (killed, or out of memory?) while writing the shard of {shards}; "
        "nothing of this export was kept. Run the same command again (with fewer --num_proc if memory "
        "ran out)"
    )


def job_input(job: ShardJob) -> str:
    """The token-set shard a job reads, by name."""
    unit = job.unit
    return unit.path if unit.path else f"rows shard {unit.shard + 1} of {unit.count}"


def nothing_written(counts: ExportCounts, pack: int | None) -> str:
    """Why an export wrote no row, in one sentence."""
    if counts.rows_written and pack:
        return f"the {counts.ids_written:,} ids of all rows make no whole block of --pack {pack} ids"
    return (
        f"all {counts.files:,} files were left out: {counts.empty_transcript:,} with an empty transcript, "
        f"{counts.no_whole_frame:,} shorter than one frame, {counts.too_long:,} longer than --max_length"
    )


def export_orpheus(
    tokens: str | Dataset,
    output_dir: str | os.PathLike,
    settings: ExportSettings,
    tokenizer: PreTrainedTokenizerBase | None = None,
) -> dict:
    """Write the Orpheus training rows of token set `tokens` into `output_dir` (module docstring);
    the summary, as `export.json` holds it. `tokenizer`: an already loaded text tokenizer instead of
    loading `settings.text_tokenizer`."""
    check_numbers(settings)
    check_columns(settings)
    sources = [
        (split, open_source(tokens, split, settings.allow_partial))
        for split in exported_splits(tokens, settings.split)
    ]
    for _, source in sources:
        source.check_text_column(settings.text_column, "--text_column")
        if settings.speaker_column:
            source.check_text_column(settings.speaker_column, "--speaker_column")
    first = sources[0][1]  # every split of a token set has the same columns
    settings = replace(settings, frames=frame_rule(settings.frames, first.column_names, first.description))
    if settings.layout.template is None and not settings.speaker_column:
        layout = settings.layout
        raise ValueError(
            f"--format {layout.name} writes a {layout.speaker_means} into every row "
            f"({layout.speaker_template!r}): pass --speaker_column with the column that holds it"
        )
    if tokenizer is None:
        tokenizer = load_text_tokenizer(settings.text_tokenizer)
    check = check_text_tokenizer(
        settings.text_tokenizer, tokenizer, settings.layout, settings.text_tokenizer_ok
    )
    folder = Path(output_dir)
    check_output(folder, sources[0][1].folder, settings.overwrite)  # before the lock creates the folder
    lock = FolderLock.acquire(folder)  # one export per folder, as one tokenize run
    try:
        check_output(folder, sources[0][1].folder, settings.overwrite)  # again, now that no one else writes
    except BaseException:
        lock.release(refused=True)
        raise
    try:
        start_output(folder)
        lock.record_holder()
        summary = write_export(sources, folder, settings, tokenizer, check)
    except BaseException:
        discard(folder, lock.created)
        raise
    finally:
        lock.release()
    return summary


def exported_splits(tokens: str | Dataset, split: str | None) -> list[str]:
    """`[split]`, or for None every split of a token-set folder (train first), else `["train"]`."""
    if split is not None:
        return [split]
    if isinstance(tokens, (str, os.PathLike)) and os.path.isdir(tokens) and not is_saved_to_disk(str(tokens)):
        return splits_of(parquet_files(tokens)) or ["train"]
    return ["train"]


def write_export(
    sources: list[tuple[str, TokenSource]],
    folder: Path,
    settings: ExportSettings,
    tokenizer: PreTrainedTokenizerBase,
    tokenizer_check: str = "passed",
) -> dict:
    """Every split's shards, then the card and export.json (last); the summary."""
    source = sources[0][1]
    packed = settings.pack or settings.multipack
    carried = [] if packed else source.kept_columns()
    features = (
        multipack_features()
        if settings.multipack
        else output_features(Features({name: source.features[name] for name in carried}))
    )
    (folder / "data").mkdir(exist_ok=True)
    written = {split: write_split(s, folder, settings, tokenizer, features, split) for split, s in sources}
    counts = ExportCounts()
    for split_counts, _, _, _ in written.values():
        counts.add(split_counts)
    names = [name for _, split_names, _, _ in written.values() for name in split_names]
    shards = len(names)
    if not shards:
        raise ValueError(f"{source.description}: nothing to export: {nothing_written(counts, settings.pack)}")
    summary = summarize(source, settings, tokenizer, counts, carried, shards)
    summary["text_tokenizer_check"] = tokenizer_check
    if settings.multipack:
        summary.update(blocks=sum(b for _, _, b, _ in written.values()))
    if settings.pack:
        summary.update(
            blocks=sum(b for _, _, b, _ in written.values()),
            ids_dropped_after_last_block=sum(d for _, _, _, d in written.values()),
        )
    if len(written) > 1:
        summary["splits"] = {
            split: {"counts": c.to_dict(), "shards": len(n), **({"blocks": b} if packed else {})}
            for split, (c, n, b, _) in written.items()
        }
    summary["shard_files"] = shard_files(folder, names)
    record_written(folder, list(EXPORT_FILES))
    write_card(folder, summary, features)
    write_summary(folder, summary)  # last: its presence says the export finished
    return summary


def write_split(
    source: TokenSource,
    folder: Path,
    settings: ExportSettings,
    tokenizer: PreTrainedTokenizerBase,
    features: Features,
    split: str,
) -> tuple[ExportCounts, list[str], int, int]:
    """One split's shards `data/{split}-i-of-n.parquet`: (counts, shard names, blocks, ids dropped)."""
    row_settings = RowSettings(
        settings.text_column, settings.speaker_column, settings.row_limit, settings.frames, settings.layout
    )
    n = len(source.units)
    paths = temporary_shards(folder, range(n), n, split)
    jobs = [
        ShardJob(unit, str(path), row_settings, features, settings.pack, settings.multipack)
        for unit, path in zip(source.units, paths, strict=True)
    ]
    results = run_jobs(jobs, tokenizer, settings.num_proc)
    counts = ExportCounts()
    for result in results:
        counts.add(result.counts)
    written = [Path(job.path) for job, result in zip(jobs, results, strict=True) if result.written]
    blocks, dropped = sum(r.blocks for r in results), 0
    if settings.pack:
        tail_blocks, dropped = pack_tails([r.tail for r in results], settings.pack)
        if len(tail_blocks):
            written.append(write_tail_shard(folder, n, tail_blocks, features, split))
            blocks += len(tail_blocks)
    return counts, final_shards(folder, written, split) if written else [], blocks, dropped


def write_tail_shard(
    folder: Path, n_units: int, blocks: np.ndarray, features: Features, split: str = "train"
) -> Path:
    """The shard of the blocks chained from every unit's tail (`pack.pack_tails`), after the units'."""
    (path,) = temporary_shards(folder, range(n_units, n_units + 1), n_units + 1, split)
    pq.write_table(
        blocks_table(blocks, block_names("tail", 0, len(blocks)), features), path, compression="zstd"
    )
    return path


def summarize(
    source: TokenSource,
    settings: ExportSettings,
    tokenizer: PreTrainedTokenizerBase,
    counts: ExportCounts,
    carried: list[str],
    shards: int,
) -> dict:
    """export.json: what was exported, how, and the counts; no local path."""
    meta = source.metadata or {}
    codec = meta.get("codec") or {}
    return {
        "format": settings.format,
        "token_set": public_name(source.description),
        "codec": codec.get("name"),
        "codec_notice": codec.get("notice"),
        "license": (meta.get("settings") or {}).get("license"),
        "layout": source.layout.to_dict(),
        "text_tokenizer": describe_tokenizer(settings.text_tokenizer, tokenizer),
        "text_column": settings.text_column,
        "speaker_column": settings.speaker_column,
        "max_length": settings.max_length,
        "pack": settings.pack,
        "frames": settings.frames,
        "padding_codes_stored": has_padding_columns(source.column_names),
        "multipack": settings.multipack,
        "carried_columns": carried,
        "shards": shards,
        "counts": counts.to_dict(),
        **({"token_set_partial": source.partial.to_dict()} if source.partial else {}),
    }
