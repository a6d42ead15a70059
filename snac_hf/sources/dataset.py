"""Audio in from anything `load_dataset` reads (a Hub id, a local parquet/audiofolder folder, ...) or
a `save_to_disk` folder, whole (map-style) or streamed.

Every row becomes `{"id", "file_path", "audio", **kept}` with the audio *undecoded*
(`Audio(decode=False)`: a path or bytes); `snac_hf.sources.audio.decode_audio` decodes it later.

- `id` is `name:split:index`, the row's index in the source's order, streamed or not, so both
  give the same rows; or the value of `--id_column`.
- `file_path` is the audio's own path where the source has one, else the id.
- The *source fingerprint* says whether the source changed since a run began: the data files'
  paths with datasets' origin metadata (ETag or commit for Hub files, modification time for local
  ones) and sizes, or the `save_to_disk` fingerprint. A resume over a changed source is refused.
- A streamed source is read one source shard (one of its data files) at a time. Its rows are
  counted first, per source shard, without decoding (parquet: the row counts of a small column,
  `save_to_disk`: known), which fixes the ids and the units before any audio is read; the counts
  are kept in the output folder, so a resume does not count again.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import datasets
import pyarrow as pa
from datasets import Audio, Dataset, Features, IterableDataset, load_dataset

from snac_hf.sources.columns import ColumnError, kept_features
from snac_hf.tokenset.hub import check_dataset_reachable, dataset_unreachable, is_repo_id
from snac_hf.tokenset.load import is_saved_to_disk, load_saved


@dataclass(frozen=True)
class DatasetRequest:
    """What the user asked for: `--dataset NAME --split S --audio_column A ...`."""

    name: str
    split: str = "train"
    audio_column: str = "audio"
    keep_columns: list[str] | None = None
    id_column: str | None = None
    max_files: int | None = None
    config: str | None = None

    @property
    def label(self) -> str:
        return f"--dataset {self.name}"


def _load(request: DatasetRequest, streaming: bool) -> Dataset | IterableDataset:
    if not os.path.exists(request.name) and is_repo_id(request.name):
        check_dataset_reachable(request.name)  # an unreachable Hub: an error now, not in ~23 s
    script = Path(request.name) / f"{Path(request.name).name}.py"
    if script.is_file():  # datasets 5 raises a RuntimeError with a traceback for this
        raise ValueError(
            f"--dataset {request.name}: holds a dataset loading script ({script.name}), which datasets "
            f"{datasets.__version__} no longer runs; pass the folder of its data files (Parquet, audio + "
            "metadata.csv), or convert it once with a datasets release that runs scripts (save_to_disk)"
        )
    try:
        if is_saved_to_disk(request.name):
            ds = load_saved(request.name, request.split)
            return ds.to_iterable_dataset(num_shards=max(1, len(ds.cache_files))) if streaming else ds
        return load_dataset(request.name, request.config, split=request.split, streaming=streaming)
    except ConnectionError as error:  # offline mode, and not in the Hugging Face cache
        raise dataset_unreachable(request.name, f"{type(error).__name__}: {error}") from None
    except (FileNotFoundError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise FileNotFoundError(
            f"{request.label}: cannot load split {request.split!r} ({first[:300]})"
        ) from error


@dataclass
class _Columns:
    kept: Features
    left_out: list[str] = field(default_factory=list)


def _columns(features: Features | None, request: DatasetRequest) -> _Columns:
    if features is None:
        raise ValueError(f"{request.label}: the source does not declare its features; cannot check columns")
    if request.audio_column not in features:
        raise ValueError(
            f"{request.label}: no column {request.audio_column!r} (columns: {sorted(features)}); "
            "set --audio_column"
        )
    if request.id_column is not None and request.id_column not in features:
        raise ValueError(f"{request.label}: no column {request.id_column!r} for --id_column")
    exclude = (request.audio_column,) + ((request.id_column,) if request.id_column else ())
    try:
        kept, left_out = kept_features(features, request.keep_columns, request.label, exclude)
    except ColumnError as error:
        raise ValueError(str(error)) from error
    return _Columns(kept, left_out)


def _selected(ds: Dataset | IterableDataset, request: DatasetRequest, columns: _Columns):
    names = [request.audio_column, *columns.kept] + ([request.id_column] if request.id_column else [])
    ds = ds.select_columns(list(dict.fromkeys(names)))
    return ds.cast_column(request.audio_column, Audio(decode=False))


def hub_dataset(request: DatasetRequest) -> Dataset:
    """The whole source as a map-style Dataset: `id`, `file_path`, `audio` (undecoded), kept columns.

    `file_path` is read from the Arrow `path` field of the audio column, so no audio bytes are
    turned into Python objects here.
    """
    ds = _load(request, streaming=False)
    columns = _columns(ds.features, request)
    if request.max_files is not None:
        ds = ds.select(range(min(request.max_files, len(ds))))
    ds = _selected(ds, request, columns)
    ids = (
        [str(v) for v in ds[request.id_column]]
        if request.id_column
        else [f"{request.name}:{request.split}:{i}" for i in range(len(ds))]
    )
    paths = _audio_paths(ds, request.audio_column)
    if request.id_column and request.id_column not in columns.kept:
        ds = ds.remove_columns(request.id_column)
    if request.audio_column != "audio":
        ds = ds.rename_column(request.audio_column, "audio")
    return ds.add_column("id", ids).add_column("file_path", [p or i for p, i in zip(paths, ids)])


def _audio_paths(ds: Dataset, audio_column: str) -> list[str | None]:
    column = ds.with_format("arrow")[:][audio_column]
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column.field("path").to_pylist() if len(column) else []


def source_fingerprint(request: DatasetRequest) -> dict:
    """What changes when the source's content changes (see the module docstring)."""
    base = {"name": request.name, "config": request.config, "split": request.split}
    if is_saved_to_disk(request.name):
        files = sorted(str(p) for p in Path(request.name).rglob("*") if p.is_file())
        return {**base, "files": [[f, os.stat(f).st_size, os.stat(f).st_mtime_ns] for f in files]}
    from datasets import load_dataset_builder

    builder = load_dataset_builder(request.name, request.config)
    data_files = (builder.config.data_files or {}).get(request.split)
    if not data_files:
        raise ValueError(
            f"{request.label}: cannot tell which files hold split {request.split!r}, so a changed source "
            "could not be detected on resume; point --dataset at its data files instead"
        )
    entries = []
    for path, origin in zip(data_files, data_files.origin_metadata):
        size = os.stat(path).st_size if os.path.isfile(path) else None
        entries.append([str(path), list(origin), size])
    return {**base, "files": entries}


class StreamSource:
    """A streamed source, read source shard by source shard (see the module docstring)."""

    def __init__(self, request: DatasetRequest):
        self.request = request
        stream = _load(request, streaming=True)
        features = stream.features
        if features is None:  # some builders only know their features after a first row
            stream = stream._resolve_features()
            features = stream.features
        self.columns = _columns(features, request)
        self.stream = _selected(stream, request, self.columns)
        self.n_shards = self.stream.num_shards

    @property
    def kept(self) -> Features:
        return self.columns.kept

    def count_rows(self) -> list[int]:
        """Rows per source shard, reading no audio where the format allows (parquet columns)."""
        counting = self._counting_stream()
        return [sum(1 for _ in counting.shard(self.n_shards, s)) for s in range(self.n_shards)]

    def _counting_stream(self) -> IterableDataset:
        small = [c for c in self.stream.column_names or [] if c != self.request.audio_column]
        if small and not is_saved_to_disk(self.request.name):
            try:  # the parquet builder reads only this column's pages
                counting = load_dataset(
                    self.request.name, self.request.config, split=self.request.split, streaming=True,
                    columns=small[:1],
                )  # fmt: skip
                if counting.num_shards == self.n_shards:
                    return counting
            except (TypeError, ValueError):
                pass
        return self.stream.select_columns([small[0] if small else self.request.audio_column])

    def rows(self, shard: int, spans: list[tuple[int, int]]) -> Iterator[tuple[int, list[dict]]]:
        """(span index, rows) for each `(local_start, local_stop)` span of source shard `shard`
        (sorted, disjoint), reading the shard once and no further than the last span."""
        source = iter(self.stream.shard(self.n_shards, shard))
        try:
            position = 0
            for number, (start, stop) in enumerate(spans):
                for _ in islice(source, start - position):  # rows of units done or not ours: not decoded
                    pass
                rows = list(islice(source, stop - start))
                if len(rows) != stop - start:
                    raise RuntimeError(
                        f"{self.request.label}: source shard {shard} ended after {start + len(rows)} rows, "
                        f"but {stop} were counted; the source changed while it was read"
                    )
                position = stop
                yield number, rows
        finally:
            release_stream(source)

    def row_dict(self, row: dict, index: int) -> dict:
        """A source row as a pipeline row (`id`, `file_path`, `audio`, kept columns)."""
        request = self.request
        item_id = (
            str(row[request.id_column]) if request.id_column else f"{request.name}:{request.split}:{index}"
        )
        audio = row[request.audio_column]
        path = audio.get("path") if isinstance(audio, dict) else None
        return {"id": item_id, "file_path": path or item_id, "audio": audio, **{k: row[k] for k in self.kept}}


def release_stream(iterator: Iterator) -> None:
    """Close a streamed dataset's iterator that was stopped early, and collect it now.

    A Parquet stream stopped early leaves pyarrow's scanner threads alive; if they are still alive
    when the interpreter shuts down, Arrow aborts the process ("terminate called without an active
    exception", exit 134; apache/arrow#45214, huggingface/datasets#7566: datasets' own workaround,
    PR #8176, applies to pyarrow <= 24 only). Closing the generator chain and collecting while
    Arrow is still running joins them (measured: 1 abort in 20 runs of an early stop before, none
    after; tests/test_scale.py runs it 20 times).
    """
    close = getattr(iterator, "close", None)
    if close is not None:
        close()
    del iterator
    gc.collect()
