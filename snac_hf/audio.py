"""Audio in, as a `datasets.Dataset`: from a folder of files or from anything `load_dataset` reads.

The dataset keeps the audio *undecoded* (`Audio(decode=False)`: a path or bytes per row) plus
`id` and `file_path`; `decode_audio` turns one row's value into mono float32 samples at the
codec's rate through the `datasets.Audio` feature (torchcodec/FFmpeg resample and downmix).
Decoding row by row is what lets one unreadable file fail alone instead of the whole batch.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from datasets import Audio, Dataset, load_dataset

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".aiff", ".aif", ".wma", ".webm"}
)


class AudioDecodeError(ValueError):
    """One file could not be turned into samples; the message names the reason."""


def find_audio_files(input_dir: str, max_files: int | None = None) -> list[str]:
    """Audio files under `input_dir` (recursive, extensions case-insensitive), sorted by path."""
    if not os.path.isdir(input_dir):
        raise FileNotFoundError(f"--input_dir {input_dir} is not a directory")
    files = sorted(
        str(p) for p in Path(input_dir).rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file()
    )
    return files[:max_files] if max_files is not None else files


def folder_dataset(input_dir: str, max_files: int | None = None) -> Dataset:
    """Rows `id` (path relative to `input_dir`), `file_path`, `audio` (undecoded)."""
    files = find_audio_files(input_dir, max_files)
    ids = [Path(f).relative_to(input_dir).as_posix() for f in files]
    ds = Dataset.from_dict({"id": ids, "file_path": files, "audio": files})
    return ds.cast_column("audio", Audio(decode=False))


def hub_dataset(
    name: str, audio_column: str = "audio", split: str = "train", max_files: int | None = None
) -> Dataset:
    """Any `load_dataset` source; `id` is `name:split:index`, `file_path` the audio's own path."""
    ds = load_dataset(name, split=split)
    if audio_column not in ds.column_names:
        raise ValueError(
            f"{name}: no column {audio_column!r} (columns: {ds.column_names}); set --audio_column"
        )
    if max_files is not None:
        ds = ds.select(range(min(max_files, len(ds))))
    ds = ds.select_columns([audio_column]).cast_column(audio_column, Audio(decode=False))
    ds = ds.rename_column(audio_column, "audio") if audio_column != "audio" else ds
    paths = [value.get("path") if value else None for value in ds["audio"]]
    ids = [f"{name}:{split}:{i}" for i in range(len(ds))]
    return ds.add_column("id", ids).add_column("file_path", [p or i for p, i in zip(paths, ids)])


def decode_audio(value: dict, sampling_rate: int) -> np.ndarray:
    """Mono float32 samples at `sampling_rate` from one undecoded `Audio` value."""
    feature = Audio(sampling_rate=sampling_rate, num_channels=1)
    try:
        samples = feature.decode_example(value).get_all_samples().data
    except Exception as error:  # torchcodec raises RuntimeError/ValueError with C++ context
        reason = str(error).strip().splitlines()[0][:200]
        raise AudioDecodeError(f"cannot decode audio ({type(error).__name__}: {reason})") from error
    samples = samples.numpy().reshape(-1).astype(np.float32, copy=False)
    if samples.size == 0:
        raise AudioDecodeError("empty audio (0 samples)")
    if not np.isfinite(samples).all():
        raise AudioDecodeError("audio contains NaN or infinite samples")
    return samples
