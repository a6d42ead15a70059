"""One tokenize run per output folder: the lock of `snac_hf.tokenset.folder_lock` (shared with the
export), whose refusal is also an `OutputExistsError` here (what the tokenize job raises for a
folder it may not write)."""

from __future__ import annotations

from snac_hf.job.output_folder import OutputExistsError
from snac_hf.tokenset import folder_lock as shared
from snac_hf.tokenset.folder_lock import LOCK_FILE, holder

__all__ = ["LOCK_FILE", "FolderBusyError", "FolderLock", "holder"]


class FolderBusyError(OutputExistsError, shared.FolderBusyError):
    """Another process holds the output folder's lock."""


class FolderLock(shared.FolderLock):
    busy_error = FolderBusyError
