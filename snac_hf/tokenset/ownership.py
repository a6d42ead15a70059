"""Which files of a token-set folder snac_hf wrote: a manifest, so `--overwrite` removes only those.

Records. `record_written(folder, paths)` writes one small file
`.snac_hf/written/<sha256 of the sorted paths, 24 hex>.json` = `{"paths": [...]}` (temporary file,
then rename). Every writer records its own files, so concurrent processes (ranks, machines
sharing the folder) never write the same record file except with the same content; a repeated
call is a no-op. Call it just *before* writing the files: a kill in between leaves a record of a
file that may not exist (harmless), never a file of ours that is not recorded.

Ownership. `owned_files(folder)` is the set of relative paths (POSIX) of existing files that are
snac_hf's:

1. the state files under `.snac_hf/` (`STATE_FILE`: run.json, manifest.json, source_rows.json,
   lock.json, progress-R.json, written/*.json, units/NNNNN.json, a split's run-SPLIT.json,
   source_rows-SPLIT.json and units/SPLIT-NNNNN.json, and their temporary siblings), if
   `.snac_hf/run.json` or `.snac_hf/manifest.json` is there. Anything else a user puts in
   `.snac_hf/` stays theirs (and stands in the way of `--overwrite`);
2. every path in a record, and its temporary sibling `dir/.NAME.partial`;
3. a token set written before records existed (`run.json` but no `manifest.json`): the names the
   older versions wrote, `data/train-NNNNN-of-NNNNN.parquet`, `metadata.json`, `errors.jsonl`,
   `README.md`, `analysis.json`, `analysis.md` and the three analysis plots (and their `.partial`
   siblings). Those versions refused to write into a non-empty folder and, with `--overwrite`,
   deleted exactly these names first, so such a file was written by snac_hf (later edits by hand
   are not told apart). Anything else in such a folder is the user's.

`manifest.json` marks a folder whose writer records every file it writes; the marker is written
first when a run starts a folder (`snac_hf.job.output_folder.reset_output`), with a random `key`
(`new_manifest`, format 2). A record counts only when its name is its digest: the first 24 hex of
sha256 of the key, a newline and the JSON of its sorted paths (no key, in a folder of format 1:
sha256 of the paths alone, as older versions named them). A record planted by hand, copied from
another folder or edited names nothing (`recorded_paths` skips it), so it removes nothing.

Links. Nothing is owned (and so removed) that is reached through a link: a path whose directory
on the way (`data/`, `sub/`, `.snac_hf/` itself) is a link, or that resolves outside the folder, is
not the folder's (`is_reachable`); a link in the folder is removed as a link, its target never
touched. `remove_owned` checks every path again right before it unlinks it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

from snac_hf.tokenset.schema import DATA_DIR

STATE_DIR = ".snac_hf"
RUN_FILE = "run.json"
MANIFEST_FILE = "manifest.json"
WRITTEN_DIR = "written"
MANIFEST_FORMAT = 2

#: Top-level files older snac_hf versions wrote into a token set (rule 3).
LEGACY_NAMES = frozenset(
    {
        "metadata.json",
        "errors.jsonl",
        "README.md",
        "analysis.json",
        "analysis.md",
        "rank_frequency.png",
        "run_lengths.png",
        "ngram_diversity.png",
    }
)
_LEGACY_SHARD = re.compile(r"^data/\.?train-\d{5}-of-\d{5}\.parquet(\.partial)?$")
#: The files snac_hf keeps under `.snac_hf/` (rule 1), and their temporary siblings `.NAME[.x].partial`.
#: A split other than train names its run, source-row counts and unit records (`run-validation.json`,
#: `units/validation-00000.json`); a split name is `\w+(\.\w+)*` (`tokenset.schema.SPLIT_NAME`).
STATE_FILE = re.compile(
    r"^\.snac_hf/(?:(?:manifest|lock|progress-\d+)\.json|(?:run|source_rows)(?:-\w+(?:\.\w+)*)?\.json"
    r"|written/[0-9a-f]{24}\.json|units/(?:\w+(?:\.\w+)*-)?\d{5}\.json"
    r"|(?:(?:written|units)/)?\.[^/]+\.partial)$"
)


def _checked(path: str) -> str:
    """`path` as a normalized relative POSIX path inside the folder, or ValueError."""
    pure = PurePosixPath(str(path).replace(os.sep, "/"))
    if pure.is_absolute() or ".." in pure.parts or not pure.parts or pure.parts[0] == STATE_DIR:
        raise ValueError(f"record_written: {path!r} is not a path inside the token set (or is state)")
    return pure.as_posix()


def new_manifest(writer: str | None = None) -> dict:
    """The content of a new `manifest.json`: the format, a fresh random key for record names, and
    which command started the folder (`writer`: "export" for an export folder)."""
    manifest = {"format": MANIFEST_FORMAT, "key": uuid.uuid4().hex}
    return {**manifest, "writer": writer} if writer else manifest


def manifest_key(folder: str | os.PathLike) -> str | None:
    """The key of the folder's `manifest.json` (None: no manifest, or one of format 1)."""
    try:
        key = json.loads((Path(folder) / STATE_DIR / MANIFEST_FILE).read_text()).get("key")
    except (OSError, ValueError, AttributeError):
        return None
    return key if isinstance(key, str) else None


def record_digest(paths: list[str], key: str | None) -> str:
    """The name (without `.json`) of the record of the sorted `paths` in a folder with `key`."""
    prefix = f"{key}\n" if key is not None else ""
    return hashlib.sha256((prefix + json.dumps(paths)).encode()).hexdigest()[:24]


def record_written(folder: str | os.PathLike, relative_paths: Iterable[str]) -> None:
    """Record that snac_hf writes `relative_paths` (relative to `folder`). Does nothing when `folder`
    has no `.snac_hf/` (not a token set: a report folder elsewhere is not tracked)."""
    state = Path(folder) / STATE_DIR
    paths = sorted({_checked(p) for p in relative_paths})
    if not paths or not state.is_dir() or state.is_symlink():
        return
    record = state / WRITTEN_DIR / f"{record_digest(paths, manifest_key(folder))}.json"
    if record.is_file():
        return
    record.parent.mkdir(exist_ok=True)
    tmp = record.with_name(f".{record.name}.{uuid.uuid4().hex}.partial")
    tmp.write_text(json.dumps({"paths": paths}) + "\n")
    os.replace(tmp, record)


def partial_of(relative: str) -> str:
    """The temporary sibling snac_hf writes before renaming: `dir/.NAME.partial`."""
    pure = PurePosixPath(relative)
    return (pure.parent / f".{pure.name}.partial").as_posix()


def is_recording(folder: str | os.PathLike) -> bool:
    """Whether the folder's writer records every file (`.snac_hf/manifest.json`)."""
    return (Path(folder) / STATE_DIR / MANIFEST_FILE).is_file()


def is_token_set_state(folder: str | os.PathLike) -> bool:
    state = Path(folder) / STATE_DIR
    if state.is_symlink():  # state kept elsewhere would name files here: not ours
        return False
    return (state / RUN_FILE).is_file() or (state / MANIFEST_FILE).is_file()


def recorded_paths(folder: str | os.PathLike) -> set[str]:
    """Every path named by a record (existing or not). A record whose name is not its digest
    (module docstring: planted, copied or edited), or that cannot be read, names nothing."""
    written = Path(folder) / STATE_DIR / WRITTEN_DIR
    if written.is_symlink() or not is_reachable(folder, f"{STATE_DIR}/{WRITTEN_DIR}/x"):
        return set()
    key = manifest_key(folder)
    paths: set[str] = set()
    for record in written.glob("*.json"):
        try:
            named = sorted({_checked(p) for p in json.loads(record.read_text())["paths"]})
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if record.is_file() and not record.is_symlink() and record.stem == record_digest(named, key):
            paths.update(named)
    return paths


def is_reachable(folder: str | os.PathLike, relative: str) -> bool:
    """Whether `folder/relative` lies in `folder` without following a link: every directory on the
    way is a real directory (not a link) that resolves inside `folder`. The last part may be a link
    (removing it removes the link, not its target)."""
    root = Path(folder)
    current = root
    for part in PurePosixPath(relative).parts[:-1]:
        current = current / part
        if current.is_symlink() or not current.is_dir():
            return False
    return is_inside(current, root)


def remove_owned(folder: str | os.PathLike, which: Callable[[str], bool] | None = None) -> None:
    """Remove the files snac_hf wrote in `folder` (`owned_files`; with `which`, only those whose
    relative path it accepts), each checked again right before it is unlinked: nothing reached
    through a link or outside the folder is ever removed."""
    folder = Path(folder)
    for relative in sorted(owned_files(folder)):
        if which is None or which(relative):
            remove_owned_file(folder, relative)


def remove_owned_file(folder: str | os.PathLike, relative: str) -> bool:
    """Unlink `folder/relative` if it is reached without following a link (`is_reachable`); whether
    something was removed. The caller has checked that snac_hf wrote it (`owned_files`)."""
    if not is_reachable(folder, relative) or not os.path.lexists(Path(folder) / relative):
        return False
    (Path(folder) / relative).unlink(missing_ok=True)
    return True


def files_under(folder: str | os.PathLike, relative_dir: str = "") -> list[str]:
    """Relative POSIX paths of the files (and links) under `folder/relative_dir`, links not followed."""
    root = Path(folder)
    top = root / relative_dir
    if top.is_symlink() or not top.is_dir():
        return [relative_dir] if relative_dir and os.path.lexists(top) else []
    found = []
    for directory, subdirs, files in os.walk(top):
        base = Path(directory).relative_to(root)
        found += [(base / name).as_posix() for name in files]
        found += [(base / name).as_posix() for name in subdirs if (Path(directory) / name).is_symlink()]
    return found


def _is_file(path: Path) -> bool:
    """A file or a link (never followed): what `unlink` removes."""
    return path.is_symlink() or path.is_file()


def _legacy_files(folder: Path) -> list[str]:
    """Files matching rule 3: the legacy top-level names (and `.partial`s) and `data/` shards."""
    names = [p for name in sorted(LEGACY_NAMES) for p in (name, partial_of(name))]
    top = [p for p in names if _is_file(folder / p)]
    return top + [p for p in files_under(folder, DATA_DIR) if _LEGACY_SHARD.match(p)]


def owned_files(folder: str | os.PathLike) -> set[str]:
    """Relative paths of the existing files of `folder` that snac_hf wrote (module docstring)."""
    folder = Path(folder)
    if not is_token_set_state(folder):
        return set()
    owned = {p for p in files_under(folder, STATE_DIR) if STATE_FILE.match(p)}
    for path in recorded_paths(folder):
        owned.update(p for p in (path, partial_of(path)) if _is_file(folder / p))
    if not is_recording(folder):
        owned.update(_legacy_files(folder))
    return {p for p in owned if is_reachable(folder, p)}


def is_inside(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """Whether `path` is `folder` or lies under it, links resolved."""
    inner, outer = os.path.realpath(path), os.path.realpath(folder)
    return inner == outer or inner.startswith(outer.rstrip(os.sep) + os.sep)


def remove_empty_dirs(top: Path) -> None:
    """Remove `top` and the directories under it that hold no file (links are not followed)."""
    if top.is_symlink() or not top.is_dir():
        return
    for directory, _, _ in sorted(os.walk(top), key=lambda w: -len(Path(w[0]).parts)):
        try:
            os.rmdir(directory)
        except OSError:
            pass
