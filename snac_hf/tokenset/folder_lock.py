"""One run per output folder (tokenize, export): an exclusive lock held for the whole run.

Two runs writing into one folder (a second command started by mistake, another
`--files_per_shard`, an `--overwrite`) interleave shards and records: stale shards stay,
`load_dataset` returns duplicate ids, and the first run dies. So the main process of a run takes
`flock(LOCK_EX | LOCK_NB)` on the output folder itself (a directory can be locked on Linux and
macOS, so nothing is written before the run's checks pass) and keeps it until it ends. The kernel
drops the lock when the process dies, however it dies: a lock left by a killed run is free at
once, and nothing is taken over by guessing whether a pid is still alive. Who holds the lock is
written to `.snac_hf/lock.json` (pid, host, start time) once the run has started the folder, so a
refused run can say which process to wait for. The ranks of one run share its main process's lock.

`flock` on a network filesystem may not exclude other machines (NFS depends on the mount); runs on
several machines are one run (the same command under `accelerate launch`), whose main process locks.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

from snac_hf.tokenset.ownership import STATE_DIR

LOCK_FILE = "lock.json"


class FolderBusyError(FileExistsError):
    """Another process holds the output folder's lock."""


class FolderLock:
    """The exclusive lock on one output folder (see the module docstring). `busy_error`: the
    exception type a refused `acquire` raises (the tokenize job's is also an `OutputExistsError`)."""

    busy_error: type[Exception] = FolderBusyError

    def __init__(self, folder: Path, descriptor: int, created: bool):
        self.folder, self._descriptor, self.created = folder, descriptor, created

    @classmethod
    def acquire(cls, folder: Path) -> FolderLock:
        """Lock `folder` (created, empty, when missing) or raise `FolderBusyError` naming the holder."""
        created = not os.path.lexists(folder)
        folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise cls.busy_error(
                f"--output_dir {folder} is being written by another snac_hf run ({holder(folder)}). "
                "Nothing was changed. Wait for it to finish (or stop it), or use another --output_dir."
            ) from None
        return cls(folder, descriptor, created)

    def record_holder(self) -> None:
        """Write who holds the lock into `.snac_hf/lock.json` (after the run started the folder)."""
        path = self.folder / STATE_DIR / LOCK_FILE
        tmp = path.with_name(f".{path.name}.partial")
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
        tmp.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": started}))
        os.replace(tmp, path)

    def release(self, refused: bool = False) -> None:
        """Unlock; after a refused start, also remove the folder if this lock created it (still empty)."""
        if self._descriptor < 0:
            return
        os.close(self._descriptor)
        self._descriptor = -1
        if refused and self.created:
            try:
                self.folder.rmdir()
            except OSError:  # not empty: keep what is there
                pass


def holder(folder: Path) -> str:
    """Who holds `folder`'s lock, as recorded (or that it is not recorded yet)."""
    try:
        record = json.loads((folder / STATE_DIR / LOCK_FILE).read_text())
        return f"pid {record['pid']} on {record['host']}, started {record['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a run that has not recorded its pid yet"
