"""Audio in from anything `load_dataset` reads (a Hub id, a local parquet/audiofolder folder, ...).

The dataset keeps the audio *undecoded* (`Audio(decode=False)`: a path or bytes per row) plus `id`
(`name:split:index`) and `file_path`; `snac_hf.audio.decode_audio` decodes a row later.
"""

from __future__ import annotations

from datasets import Audio, Dataset, load_dataset


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
