"""Audio in from a folder: every audio file under `--input_dir` as a row of a `datasets.Dataset`.

The dataset keeps the audio *undecoded* (`Audio(decode=False)`: a path per row) plus `id` (the
path relative to the folder) and `file_path`; `snac_hf.audio.decode_audio` decodes a row later.
"""

from __future__ import annotations

import os
from pathlib import Path

from datasets import Audio, Dataset

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".aiff", ".aif", ".wma", ".webm"}
)


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
