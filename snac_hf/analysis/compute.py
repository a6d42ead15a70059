"""Run the counting over a source's work units, in one process or several, and merge.

With `num_proc > 1` the units are dealt into `num_proc` groups of about equal work, each group is
counted in a worker process, and the partials are merged in group order (so a given `num_proc`
always gives the same result). Workers are *spawned*, never forked: the tokenize pipeline calls
the analysis in a process where torch has run, and forked children of such a process can hang.
Each worker holds one partial (about 64 MiB per pair table: one per scale and one per scale
below the coarsest) whatever the amount of data.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from tqdm.auto import tqdm

from snac_hf.analysis.partial import AnalysisConfig, TokenStats
from snac_hf.analysis.sources import WorkUnit


def deal(units: Sequence[WorkUnit], groups: int) -> list[list[WorkUnit]]:
    """Split units into at most `groups` non-empty groups of about equal weight, largest first,
    each group keeping the units' original order."""
    bins: list[list[int]] = [[] for _ in range(max(1, min(groups, len(units))))]
    loads = [0] * len(bins)
    for i in sorted(range(len(units)), key=lambda i: (-units[i].weight, i)):
        lightest = loads.index(min(loads))
        bins[lightest].append(i)
        loads[lightest] += units[i].weight
    return [[units[i] for i in sorted(b)] for b in bins if b]


def count_units(units: Sequence[WorkUnit], config: AnalysisConfig, progress: bool = False) -> TokenStats:
    stats = TokenStats(config)
    for unit in tqdm(units, desc="analyze", unit="shard", disable=not progress):
        for batch in unit.batches():
            stats.count(batch, unit.label)
    return stats


def _count_group(units: list[WorkUnit], config: AnalysisConfig) -> dict[str, np.ndarray]:
    return count_units(units, config).to_arrays()


def compute_stats(
    units: Sequence[WorkUnit], config: AnalysisConfig, num_proc: int = 1, progress: bool = False
) -> TokenStats:
    """Count every unit and merge: in this process, or in `num_proc` spawned workers."""
    groups = deal(units, num_proc)
    if len(groups) <= 1:
        return count_units(units, config, progress)
    context = multiprocessing.get_context("spawn")
    stats = TokenStats(config)
    with ProcessPoolExecutor(len(groups), mp_context=context) as pool:
        results = pool.map(_count_group, groups, [config] * len(groups))
        for arrays in tqdm(results, desc="analyze", unit="worker", total=len(groups), disable=not progress):
            stats.merge(TokenStats.from_arrays(arrays))
    return stats
