"""Partial statistics with their provenance: in memory (`Counted`), saved to .npz, checked, merged.

A partial says which shards it counted: one entry `{"path", "rows", "digest"}` per work unit, where
`path` is `data/NAME.parquet` (or the file name) and `digest` is `integrity.footer_digest` of the
Parquet file (size and footer bytes, the same on every machine and mount point; for a
`datasets.Dataset`, its fingerprint and contiguous shard). Merging two partials that share a
digest would count that shard twice, so it is an error naming both partials and the shard, as is
a partial that counts one shard twice itself.

`load_partial` refuses a file that is not a partial of this format, and counts that no data can
give. Checked, per scale: every integer array is >= 0 and every float finite and >= 0; the code
counts have one entry per code; the tokens agree three ways (sum of the code counts = n-gram
total for n = 1 = sum over run lengths L of L * runs of length L); the bigram table's total is
the n-gram total for n = 2 and its keys are pairs of codes; and the files counted equal the rows
of the shards the partial names.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from snac_hf.analysis.partial import TokenStats
from snac_hf.layout import CodecLayout

#: Version of the saved partial (.npz) layout; other versions are refused.
PARTIAL_FORMAT = "snac_hf.analysis.partial/2"
RESAVE = "save it again with `scripts/analyze.py --tokens SHARDS --save_partial FILE`"


@dataclass
class Counted:
    """Merged partial statistics with what the report needs to know about their source."""

    stats: TokenStats
    source: str
    layout: CodecLayout
    layout_note: str | None
    seconds: float = 0.0
    #: the shards counted: {"path", "rows", "digest"} each (see the module docstring)
    shards: list[dict] = field(default_factory=list)

    def merge(self, other: Counted) -> Counted:
        """Add `other`'s counts; refused for another layout or a shard both have counted."""
        if other.layout != self.layout:
            raise ValueError(
                f"cannot merge partials of different codec layouts: {self.layout} vs {other.layout}"
            )
        shared = shared_shard(self.shards, other.shards)
        if shared is not None:
            raise ValueError(
                f"{self.source} and {other.source} both counted {shared['path']} ({shared['rows']} rows): "
                "each shard may be merged once"
            )
        self.stats.merge(other.stats)
        self.source = f"{self.source} + {other.source}"
        self.seconds += other.seconds
        self.shards = self.shards + other.shards
        return self


def shared_shard(first: Sequence[dict], second: Sequence[dict]) -> dict | None:
    """The first shard of `second` whose digest is in `first` (None if they share none)."""
    digests = {shard["digest"] for shard in first}
    return next((shard for shard in second if shard["digest"] in digests), None)


def repeated_shard(shards: Sequence[dict]) -> tuple[dict, dict] | None:
    """Two entries of `shards` with the same digest (None if every shard is there once)."""
    seen: dict[str, dict] = {}
    for shard in shards:
        if shard["digest"] in seen:
            return seen[shard["digest"]], shard
        seen[shard["digest"]] = shard
    return None


def save_partial(counted: Counted, path: str) -> None:
    """Write merged-or-not partial statistics to a .npz that `load_partial` reads on any machine."""
    meta = {
        "format": PARTIAL_FORMAT,
        "source": counted.source,
        "layout": counted.layout.to_dict(),
        "layout_note": counted.layout_note,
        "shards": counted.shards,
    }
    arrays = counted.stats.to_arrays()
    with open(path, "wb") as f:
        np.savez(f, meta=np.array(json.dumps(meta)), seconds=np.array(counted.seconds), **arrays)


def read_meta(path: str) -> dict:
    """The provenance of a saved partial (its `meta` entry alone), checked."""
    with _open(path) as data:
        if "meta" not in data.files:
            raise ValueError(f"{path}: not a partial written by save_partial (no 'meta'); {RESAVE}")
        text = str(data["meta"])
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: its 'meta' entry is not valid JSON ({error.msg}); {RESAVE}") from None
    problem = _meta_problem(meta)
    if problem:
        raise ValueError(f"{path}: {problem}; {RESAVE}")
    return meta


def load_partial(path: str) -> Counted:
    """A saved partial, after the checks of the module docstring (a ValueError names the file)."""
    meta = read_meta(path)
    with _open(path) as data:
        arrays = {name: data[name] for name in data.files if name != "meta"}
    try:
        problem = counts_problem(arrays)
        seconds = float(arrays.pop("seconds"))
        stats = None if problem else TokenStats.from_arrays(arrays)
    except (KeyError, ValueError, TypeError, IndexError) as error:
        problem = f"malformed counts ({type(error).__name__}: {error})"
    if problem is None:
        problem = _agreement_problem(stats, meta)
    if problem:
        raise ValueError(f"{path}: {problem}; {RESAVE}")
    layout = CodecLayout.from_dict(meta["layout"])
    return Counted(stats, meta["source"], layout, meta["layout_note"], seconds, list(meta["shards"]))


def merge_partials(paths: list[str]) -> Counted:
    """Load and merge saved partials, after checking (from their provenance alone, before any
    count is read) that no shard is in two of them."""
    if not paths:
        raise ValueError("no partials to merge")
    counted_in: dict[str, str] = {}  # digest -> the partial that counted it
    for path in paths:
        for shard in read_meta(path)["shards"]:
            if shard["digest"] in counted_in:
                raise ValueError(
                    f"{counted_in[shard['digest']]} and {path} both counted {shard['path']} "
                    f"({shard['rows']} rows): merge each shard's partial once"
                )
            counted_in[shard["digest"]] = path
    counted = load_partial(paths[0])
    for path in paths[1:]:
        counted.merge(load_partial(path))
    return counted


def _open(path: str) -> np.lib.npyio.NpzFile:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: not a partial written by save_partial ({error}); {RESAVE}") from None


def _meta_problem(meta: object) -> str | None:
    if not isinstance(meta, dict) or meta.get("format") != PARTIAL_FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        return (
            f"a partial of format {found!r}, expected {PARTIAL_FORMAT!r} (older partials do not say which "
            "shards they counted, so overlaps cannot be checked)"
        )
    shards = meta.get("shards")
    fields = (("path", str), ("rows", int), ("digest", str))
    if not isinstance(shards, list) or not all(
        isinstance(s, dict) and all(isinstance(s.get(k), t) for k, t in fields) and s["rows"] >= 0
        for s in shards
    ):
        return "malformed list of counted shards (each needs path, rows >= 0, digest)"
    if repeated := repeated_shard(shards):
        return f"counts one shard twice ({repeated[0]['path']} and {repeated[1]['path']})"
    try:
        CodecLayout.from_dict(meta["layout"])
    except (KeyError, TypeError, ValueError) as error:
        return f"no usable codec layout ({type(error).__name__}: {error})"
    return None


def counts_problem(arrays: dict[str, np.ndarray]) -> str | None:
    """What no counting of real data could give in these arrays (`TokenStats.to_arrays`), or None."""
    for name, array in arrays.items():
        if array.dtype.kind in "iu" and array.size and array.min() < 0:
            return f"negative counts in {name!r} (min {array.min()})"
        if array.dtype.kind == "f" and array.size and not (np.isfinite(array).all() and array.min() >= 0):
            return f"negative or non-finite values in {name!r}"
        if array.dtype.kind not in "iufU":
            return f"{name!r} has dtype {array.dtype}, not counts"
    config = json.loads(str(arrays["config"]))
    size, n_scales, max_n = int(config["codebook_size"]), len(config["codes_per_frame"]), int(config["max_n"])
    for k in range(n_scales):
        problem = _scale_problem(arrays, f"scale{k}", size, max_n)
        if problem:
            return f"scale {k}: {problem}"
    files = float(arrays["totals"][0])
    if files != int(files):
        return f"a file count of {files}"
    return None


def _scale_problem(arrays: dict[str, np.ndarray], prefix: str, size: int, max_n: int) -> str | None:
    code_counts = arrays[f"{prefix}/code_counts"]
    if code_counts.shape != (size,):
        return f"{code_counts.shape[0] if code_counts.ndim else 0} code counts for a codebook of {size}"
    tokens = int(code_counts.sum())
    totals = arrays[f"{prefix}/ngrams/totals"]
    histogram = arrays[f"{prefix}/runs/histogram"]
    run_tokens = int((np.arange(histogram.size) * histogram).sum())
    if totals.shape != (max_n + 1,) or int(totals[1]) != tokens or run_tokens != tokens:
        return f"the code counts ({tokens} tokens) disagree with the n-gram and run counts"
    keys, counts = arrays[f"{prefix}/bigrams/keys"], arrays[f"{prefix}/bigrams/counts"]
    if keys.shape != counts.shape or (keys.size and int(keys.max()) >= size * size):
        return "malformed bigram table"
    if max_n >= 2 and int(counts.sum()) != int(totals[2]):
        return f"{int(counts.sum())} bigrams counted, but {int(totals[2])} pairs of codes"
    return None


def _agreement_problem(stats: TokenStats, meta: dict) -> str | None:
    layout = CodecLayout.from_dict(meta["layout"])
    config = stats.config
    if (config.codebook_size, config.codes_per_frame) != (layout.codebook_size, layout.codes_per_frame):
        return f"counts of {config.codes_per_frame} codes per frame, but the layout {layout}"
    rows = sum(shard["rows"] for shard in meta["shards"])
    if rows != stats.files:
        return f"counts {stats.files} files, but the shards it names hold {rows} rows"
    return None
