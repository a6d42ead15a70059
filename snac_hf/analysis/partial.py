"""Partial statistics of a slice of a token set, and their exact merge.

`count_batch(batch, config)` turns one Arrow batch of token rows into a `TokenStats`;
`TokenStats.merge` adds another slice's. Everything the report needs is a sum (code counts,
pair tables, run-length histograms, n-gram totals) or a mergeable summary (the bottom-k
distinct sketches, the Misra-Gries heavy hitters, the longest runs under a total order), so any
split of the data - batches, worker threads, machines - merges to the same figures as one pass:
bit for bit for everything exact and for the distinct estimates, within the stated bound for the
heavy-hitter coverage beyond its budget. `to_arrays`/`from_arrays` turn a partial into plain
arrays and back (`api.save_partial`, for other machines).

`count_batch` is the batched function of the design: it takes any Arrow batch of token rows, e.g.
from `ds.with_format("arrow").iter(batch_size=...)` or a Parquet file's `iter_batches`. It is not
run through `Dataset.map`: a batch's partial holds pair tables and sketches of up to tens of MiB,
which `map` would write into the Arrow cache for every batch; the worker threads of `compute.py`
keep one partial each in memory instead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa

from snac_hf.analysis.arrow_codes import ArrowBatch, batch_ids, scale_codes
from snac_hf.analysis.frames import FrameCounts
from snac_hf.analysis.ngrams import NgramCounts
from snac_hf.analysis.pair_counts import PairCounts
from snac_hf.analysis.runs import RunCounts
from snac_hf.layout import CodecLayout
from snac_hf.layout.codes import check_length_rows
from snac_hf.tokenset.row_checks import check_rows


@dataclass(frozen=True)
class AnalysisConfig:
    """What is counted and the memory budgets; partials merge only under equal configs."""

    codebook_size: int = 4096
    codes_per_frame: tuple[int, ...] = (1, 2, 4)
    max_n: int = 7
    #: distinct n-grams (per scale and n >= 3, and frames) counted exactly up to this many, then KMV
    distinct_budget: int = 1 << 16
    #: Misra-Gries counters per scale and n >= 3 (and frames) for the top-10 coverage
    heavy_budget: int = 1 << 16
    #: longest runs listed per scale
    longest_runs: int = 10

    @property
    def n_scales(self) -> int:
        return len(self.codes_per_frame)

    @property
    def stride_layout(self) -> CodecLayout:
        """A layout with the strides relative to the finest scale (`codes_per_frame[-1] //
        codes_per_frame[k]`; SNAC's own strides, whose finest is 1). Which scale lengths some audio
        produces depends on these ratios alone (`bpe.codes`), so files are checked against it."""
        finest = self.codes_per_frame[-1]
        strides = tuple(finest // c for c in self.codes_per_frame)
        return CodecLayout(1, 1, strides, codebook_size=self.codebook_size)


class ScaleStats:
    """Everything counted for one scale."""

    def __init__(self, config: AnalysisConfig):
        self.code_counts = np.zeros(config.codebook_size, np.int64)
        self.bigrams = PairCounts(config.codebook_size)
        self.runs = RunCounts(config.longest_runs)
        self.ngrams = NgramCounts(
            config.max_n, config.codebook_size, config.distinct_budget, config.heavy_budget
        )

    def count(self, scale, ids) -> None:
        self.code_counts += np.bincount(scale.codes, minlength=self.code_counts.size)
        self.bigrams.add_bigrams(scale.codes, scale.offsets)
        self.runs.count(scale, ids)
        self.ngrams.count(scale)

    def merge(self, other: ScaleStats) -> None:
        self.code_counts += other.code_counts
        self.bigrams.merge(other.bigrams)
        self.runs.merge(other.runs)
        self.ngrams.merge(other.ngrams)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        arrays = {f"{prefix}/code_counts": self.code_counts}
        arrays.update(self.bigrams.to_arrays(f"{prefix}/bigrams"))
        arrays.update(self.runs.to_arrays(f"{prefix}/runs"))
        arrays.update(self.ngrams.to_arrays(f"{prefix}/ngrams"))
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> ScaleStats:
        stats = cls.__new__(cls)
        stats.code_counts = np.asarray(arrays[f"{prefix}/code_counts"], np.int64)
        stats.bigrams = PairCounts.from_arrays(arrays, f"{prefix}/bigrams")
        stats.runs = RunCounts.from_arrays(arrays, f"{prefix}/runs")
        stats.ngrams = NgramCounts.from_arrays(arrays, f"{prefix}/ngrams")
        return stats


class TokenStats:
    """Partial statistics of some rows of a token set: files, audio seconds, per-scale and frame counts."""

    def __init__(self, config: AnalysisConfig):
        self.config = config
        self.files = 0
        self.duration = 0.0
        self.scales = [ScaleStats(config) for _ in range(config.n_scales)]
        self.frames = FrameCounts(
            config.codes_per_frame, config.codebook_size, config.distinct_budget, config.heavy_budget
        )

    def count(self, batch: ArrowBatch, where: str, layout: CodecLayout | None = None) -> None:
        """Add one Arrow batch of token rows; `where` names the input in error messages.

        Refused, naming the file: codes outside the codebook, scale lengths that no audio length
        produces (the check of BPE training, `bpe.codes.check_length_rows`), and the rows whose
        `n_tokens_scale_k` or `duration` contradict their codes (`tokenset.row_checks.check_rows`;
        durations against the code counts only with the codec's `layout`, else only finite and >= 0).
        """
        scales = [
            scale_codes(batch, k, self.config.codebook_size, where) for k in range(self.config.n_scales)
        ]
        ids = batch_ids(batch)
        names = RowNames(where, ids, batch.num_rows)
        lengths = np.stack([scale.lengths for scale in scales], axis=1)
        check_length_rows(self.config.stride_layout, lengths, names)
        check_rows(batch, layout, where, row_name=names.row)
        self.files += batch.num_rows
        if "duration" in batch.schema.names:
            self.duration += float(np.nansum(batch.column("duration").to_numpy(zero_copy_only=False)))
        for stats, scale in zip(self.scales, scales, strict=True):
            stats.count(scale, ids)
        self.frames.count(scales)

    def merge(self, other: TokenStats) -> TokenStats:
        if other.config != self.config:
            raise ValueError(
                f"cannot merge partials of different configurations: {self.config} vs {other.config}"
            )
        self.files += other.files
        self.duration += other.duration
        for mine, theirs in zip(self.scales, other.scales, strict=True):
            mine.merge(theirs)
        self.frames.merge(other.frames)
        return self

    def to_arrays(self) -> dict[str, np.ndarray]:
        config = asdict(self.config)
        arrays = {
            "config": np.array(json.dumps(config)),
            "totals": np.array([self.files, self.duration], np.float64),
        }
        for k, stats in enumerate(self.scales):
            arrays.update(stats.to_arrays(f"scale{k}"))
        arrays.update(self.frames.to_arrays("frames"))
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> TokenStats:
        config = json.loads(str(arrays["config"]))
        config = AnalysisConfig(**{**config, "codes_per_frame": tuple(config["codes_per_frame"])})
        stats = cls.__new__(cls)
        stats.config = config
        files, duration = (float(v) for v in arrays["totals"])
        stats.files, stats.duration = int(files), duration
        stats.scales = [ScaleStats.from_arrays(arrays, f"scale{k}") for k in range(config.n_scales)]
        stats.frames = FrameCounts.from_arrays(arrays, "frames")
        return stats


class RowNames(Sequence[str]):
    """`where: file 'ID'` (or `where: row i`) for row i of a batch, built only when asked for."""

    def __init__(self, where: str, ids: pa.Array | None, rows: int = 0):
        self.where, self.ids, self.rows = where, ids, rows if ids is None else len(ids)

    def __len__(self) -> int:
        return self.rows

    def __getitem__(self, i: int) -> str:  # type: ignore[override]  (no slices needed)
        return f"{self.where}: {self.row(i)}"

    def row(self, i: int) -> str:
        """Row i without `where`: `file 'ID'`, or `row i` (of the batch) without ids."""
        return f"row {i}" if self.ids is None else f"file {self.ids[i].as_py()!r}"


def count_batch(
    batch: ArrowBatch, config: AnalysisConfig, where: str = "batch", layout: CodecLayout | None = None
) -> TokenStats:
    """The partial statistics of one Arrow batch (a `pa.RecordBatch` or `pa.Table` of token rows);
    `layout` (the codec's) checks its durations against its codes (`TokenStats.count`)."""
    stats = TokenStats(config)
    stats.count(batch, where, layout)
    return stats
