"""Reading a token set (or any dataset `load_dataset` reads) back as a `datasets.Dataset`, and
pushing a token-set folder to the Hub. Token-set folders are checked before they are read
(`snac_hf.tokenset.integrity`). No torch here.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from datasets import Dataset, load_dataset

from snac_hf.tokenset.finished_export import check_export_folder
from snac_hf.tokenset.integrity import check_parquet_files, check_token_set
from snac_hf.tokenset.row_checks import check_dataset_rows
from snac_hf.tokenset.schema import DATA_DIR, SPLIT, layout_of, n_scales_of, split_files


def open_token_set(source: str, split: str = SPLIT, allow_partial: bool = False) -> Dataset:
    """A token set as a `datasets.Dataset`.

    `source` is a token-set folder (the shards of split `split`: `data/{split}-*.parquet`), a
    `save_to_disk` folder (`state.json` or `dataset_dict.json`; read with `load_from_disk`), a
    Parquet file or glob, or a Hub dataset name (`open_dataset`). A token-set folder is first
    checked whole against its metadata.json and unit records, Parquet files each by their footer
    (`snac_hf.tokenset.integrity`); then their rows are checked against the layout in the set's
    metadata.json (`snac_hf.tokenset.row_checks`: durations against the code counts,
    `n_tokens_scale_k` against the lists), naming shard and row. An unfinished token set is
    refused in one line unless `allow_partial` (then its done units are read;
    `snac_hf.tokenset.completeness`).
    """
    if os.path.isdir(source) and not is_saved_to_disk(source):
        footers = check_token_set(source, allow_partial)  # the whole set, every split
        chosen = set(split_files([f.path for f in footers], split, source))
        footers = [f for f in footers if f.path in chosen]
        ds = load_parquet_files(source, [footer.path for footer in footers], split)
        shards = [(os.path.relpath(f.path, source).replace(os.sep, "/"), f.rows) for f in footers]
        check_dataset_rows(ds, layout_of(source), source, shards)
    elif source.endswith(".parquet") or glob.has_magic(source):
        files = sorted(glob.glob(source))
        if not files:
            raise FileNotFoundError(f"{source}: no Parquet file matches")
        footers = check_parquet_files(files)
        ds = load_parquet_files(source, [footer.path for footer in footers], split)
        parent = os.path.dirname(os.path.abspath(files[0]))  # shards of a token set: its layout
        layout = layout_of(os.path.dirname(parent)) if os.path.basename(parent) == DATA_DIR else None
        check_dataset_rows(ds, layout, source, [(f.path, f.rows) for f in footers])
    else:
        ds = open_dataset(source, split)
    n_scales_of(ds.column_names)  # a clear error if this is not a token set
    return ds


def open_dataset(source: str, split: str = SPLIT) -> Dataset:
    """Split `split` of a `save_to_disk` folder, of a local source `load_dataset` reads, or of a Hub
    dataset (`snac_hf.tokenset.hub.load_hub_dataset`: an unreachable Hub is an error in seconds).
    An export folder is first checked to be finished and intact (`snac_hf.tokenset.finished_export`).

    A name that is not a path that exists and not spelled like a Hub repository id is a
    `FileNotFoundError`; no columns are checked here.
    """
    from snac_hf.tokenset.hub import is_repo_id, load_hub_dataset

    if is_saved_to_disk(source):
        return load_saved(source, split)
    if os.path.exists(source):
        if os.path.isdir(source):
            check_export_folder(source)  # an unfinished or changed export is refused, not read in part
        return load_dataset(source, split=split)
    if not is_repo_id(source):
        raise FileNotFoundError(f"{source}: no such file or folder")
    return load_hub_dataset(source, split)


def is_saved_to_disk(source: str | os.PathLike) -> bool:
    """Whether `source` is a folder written by `Dataset.save_to_disk` or `DatasetDict.save_to_disk`."""
    folder = Path(source)
    return folder.is_dir() and ((folder / "state.json").is_file() or (folder / "dataset_dict.json").is_file())


def load_saved(folder: str, split: str = SPLIT) -> Dataset:
    """A `save_to_disk` folder as a Dataset: the Dataset itself, or split `split` of a DatasetDict."""
    from datasets import DatasetDict, load_from_disk

    ds = load_from_disk(folder)
    if isinstance(ds, DatasetDict):
        if split not in ds:
            raise ValueError(f"{folder}: no split {split!r} in this save_to_disk folder (splits: {list(ds)})")
        ds = ds[split]
    return ds


def push_to_hub(folder: str | os.PathLike, repo_id: str, private: bool = False) -> str:
    """Upload a token-set folder as a Hub dataset repository (resume state left out); its URL.

    An unreachable Hub (`snac_hf.tokenset.hub`) is a RuntimeError in seconds, before anything is sent.
    """
    from huggingface_hub import HfApi

    from snac_hf.tokenset.hub import unreachable_reason

    api = HfApi()
    try:
        reason = unreachable_reason(repo_id, "dataset")
        if reason is not None:
            raise ConnectionError(reason)
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        info = api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            repo_type="dataset",
            ignore_patterns=[".snac_hf/**", "**/.*.partial", ".*.partial"],
        )
    except Exception as error:  # offline, no token, no permission: one clear message
        raise RuntimeError(
            f"could not push {folder} to the Hub dataset {repo_id!r} ({type(error).__name__}: {error}). "
            "The token set on disk is complete; check `hf auth login` and network access, then "
            f"push it with `hf upload --repo-type dataset {repo_id} {folder} --exclude '.snac_hf/*'`."
        ) from error
    return str(getattr(info, "commit_url", info))


def load_parquet_files(source: str, files: list[str], split: str = SPLIT) -> Dataset:
    """`load_dataset("parquet")` of checked files; a shard that fails to read is named in one line."""
    from datasets.exceptions import DatasetGenerationError

    try:
        return load_dataset("parquet", data_files={split: files}, split=split)
    except DatasetGenerationError as error:
        cause = error.__cause__ or error
        raise ValueError(
            f"{source}: a Parquet shard could not be read ({type(cause).__name__}: {cause}); restore it"
        ) from None
