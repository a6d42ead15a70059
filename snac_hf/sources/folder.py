"""Audio in from a folder: every audio file under `--input_dir` as a row of a `datasets.Dataset`.

`scan_folder` walks the folder once and sorts every entry it meets into exactly one of:

- an *audio file*: a regular file, or a link to one, whose extension (any case) is in
  `AUDIO_EXTENSIONS` (the audio formats FFmpeg reads, and the audio/video containers that usually
  carry audio). It becomes a row; a file FFmpeg then cannot decode becomes an error line.
- a *skipped* entry (`snac_hf.sources.skipped`): a file with another extension or none, a broken link, a
  link loop, a fifo/socket/device (never opened: reading one may never end), a link to a directory
  (not followed: no loops, nothing outside the folder), an unreadable directory, and a folder
  holding a token set (`.snac_hf/run.json`: snac_hf's own output is never read as input). A
  directory whose name looks like audio (`x.wav/`) is scanned and also listed.
- the `output_dir` of the run, when it lies inside the folder: left out silently (not input).

Audio files are sorted by path (`str` order, as before: ids and their order do not change).
A row is `id` (the path relative to the folder), `file_path`, and `audio`, undecoded
(`Audio(decode=False)`); `snac_hf.sources.audio.decode_audio` decodes it later. Names that are not valid
UTF-8 (or hold a backslash) are rendered losslessly by `snac_hf.sources.path_text` in `id` and
`file_path`, and the audio value of such a file is its `file://` URI.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from datasets import Audio, Dataset

from snac_hf.sources import skipped as reasons
from snac_hf.sources.path_text import audio_path_value, text_path
from snac_hf.tokenset.ownership import RUN_FILE, STATE_DIR

AUDIO_EXTENSIONS = frozenset(
    {
        # PCM and lossless
        *(".wav", ".wave", ".bwf", ".rf64", ".w64", ".aiff", ".aif", ".aifc", ".au", ".snd", ".caf"),
        *(".flac", ".wv", ".ape", ".tta", ".tak", ".alac", ".shn", ".ofr", ".dsf", ".dff", ".mlp"),
        *(".voc", ".ircam", ".sf", ".sph", ".nist", ".gsm", ".amr", ".awb"),
        # lossy
        *(".mp3", ".mp2", ".mpa", ".mpga", ".ogg", ".oga", ".opus", ".spx", ".aac", ".adts", ".ac3"),
        *(".eac3", ".dts", ".mpc", ".ra", ".wma", ".oma", ".aa3"),
        # containers that carry audio (a file without an audio stream becomes an error line)
        *(".m4a", ".m4b", ".m4r", ".mp4", ".mov", ".3gp", ".3g2", ".mka", ".mkv", ".webm", ".asf"),
    }
)

_KINDS = {stat.S_IFIFO: "fifo", stat.S_IFSOCK: "socket", stat.S_IFCHR: "character device"}
_KINDS[stat.S_IFBLK] = "block device"


class InputFolderError(ValueError):
    """`--input_dir` itself cannot be read."""


@dataclass
class FolderScan:
    """What `scan_folder` found: audio files (sorted `str` paths) and the skipped entries."""

    input_dir: str
    files: list[str] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)

    def dataset(self, max_files: int | None = None) -> Dataset:
        """Rows `id` (path relative to the folder), `file_path`, `audio` (undecoded), first
        `max_files` files."""
        files = self.files[:max_files] if max_files is not None else self.files
        ids = [text_path(Path(f).relative_to(self.input_dir).as_posix()) for f in files]
        ds = Dataset.from_dict(
            {
                "id": ids,
                "file_path": [text_path(f) for f in files],
                "audio": [audio_path_value(f) for f in files],
            }
        )
        return ds.cast_column("audio", Audio(decode=False))


def is_token_set(directory: str | os.PathLike) -> bool:
    """A folder snac_hf wrote a token set into: it holds `.snac_hf/run.json` (or a split's
    `run-SPLIT.json`: a set with no train split)."""
    state = Path(directory) / STATE_DIR
    return (state / RUN_FILE).is_file() or any(p.is_file() for p in state.glob("run-*.json"))


def scan_folder(input_dir: str, output_dir: str | None = None) -> FolderScan:
    """Walk `input_dir` (recursive, links to directories not followed) as the module docstring says."""
    _check_root(input_dir)
    excluded = os.stat(output_dir) if output_dir and os.path.isdir(output_dir) else None
    scan, pending = FolderScan(input_dir), [Path(input_dir)]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError as error:
            _skip(scan, directory, f"{reasons.UNREADABLE_DIRECTORY} ({error.strerror})")
            continue
        for entry in entries:
            path = directory / entry.name
            if not entry.is_dir(follow_symlinks=False):
                _file(scan, entry, path)
            elif excluded is None or not os.path.samestat(entry.stat(follow_symlinks=False), excluded):
                _directory(scan, path, pending)
    scan.files.sort()
    scan.skipped.sort(key=lambda e: e["file_path"])
    return scan


def _check_root(input_dir: str) -> None:
    if not os.path.isdir(input_dir):
        raise FileNotFoundError(f"--input_dir {input_dir} is not a directory")
    try:
        os.scandir(input_dir).close()
    except OSError as error:
        raise InputFolderError(f"cannot read --input_dir {input_dir} ({error.strerror})") from None


def _skip(scan: FolderScan, path: Path, reason: str) -> None:
    scan.skipped.append({"file_path": text_path(str(path)), "reason": reason})


def _directory(scan: FolderScan, path: Path, pending: list[Path]) -> None:
    if is_token_set(path):
        _skip(scan, path, reasons.TOKEN_SET)
        return
    if path.suffix.lower() in AUDIO_EXTENSIONS:
        _skip(scan, path, reasons.AUDIO_NAMED_DIRECTORY)
    pending.append(path)


def _file(scan: FolderScan, entry: os.DirEntry, path: Path) -> None:
    """A non-directory entry: follow a link once (stat), then sort by kind and extension."""
    try:
        mode = _mode(entry, path)
    except FileNotFoundError:
        _skip(scan, path, reasons.BROKEN_LINK if entry.is_symlink() else reasons.VANISHED)
        return
    except OSError as error:
        loop = error.errno == errno.ELOOP
        _skip(scan, path, reasons.LINK_LOOP if loop else f"{reasons.NO_STAT} ({error.strerror})")
        return
    if stat.S_ISDIR(mode):
        _skip(scan, path, reasons.DIRECTORY_LINK)
    elif not stat.S_ISREG(mode):
        _skip(scan, path, reasons.not_regular(_KINDS.get(stat.S_IFMT(mode), "special file")))
    elif path.suffix.lower() in AUDIO_EXTENSIONS:
        scan.files.append(str(path))
    else:
        _skip(scan, path, reasons.NOT_AUDIO if path.suffix else reasons.NO_EXTENSION)


def _mode(entry: os.DirEntry, path: Path) -> int:
    """The file type bits: of a link's target, else of the entry (no system call for a plain file)."""
    if entry.is_symlink():
        return os.stat(path).st_mode
    if entry.is_file(follow_symlinks=False):
        return stat.S_IFREG
    return entry.stat(follow_symlinks=False).st_mode


def find_audio_files(input_dir: str, max_files: int | None = None) -> list[str]:
    """Audio files under `input_dir` (see `scan_folder`), sorted by path."""
    files = scan_folder(input_dir).files
    return files[:max_files] if max_files is not None else files


def folder_dataset(input_dir: str, max_files: int | None = None) -> Dataset:
    """Rows `id`, `file_path`, `audio` (undecoded) of the audio files under `input_dir`."""
    return scan_folder(input_dir).dataset(max_files)
