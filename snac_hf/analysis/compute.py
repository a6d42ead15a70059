"""Run the counting over a source's work units, in one thread or several, and merge.

With `num_proc > 1` the units are dealt into `num_proc` groups of about equal work, each group is
counted into its own partial by a thread, and the partials are merged in group order (so a given
`num_proc` always gives the same result). Threads, not processes: the counting loops are compiled
with numba and release the GIL, as do Parquet decoding and numpy's sorts, so threads share the
cores with no process start-up (importing `datasets` and numba took a spawned worker ~2 s) and no
copying of partials between processes; they also never fork a process where torch has run (the
tokenize pipeline calls the analysis from one), whose children can hang. The Python between the
loops holds the GIL, so more threads gain less and less; for many cores or machines, analyze
shards separately and merge their saved partials (`api.merge_partials`). Each partial holds its
pair tables (80 MiB each at most: one per scale and one per scale below the coarsest) whatever the
amount of data.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

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


def count_units(units: Sequence[WorkUnit], config: AnalysisConfig, bar: tqdm | None = None) -> TokenStats:
    stats = TokenStats(config)
    for unit in units:
        for batch in unit.batches():
            stats.count(batch, unit.label, unit.layout)
        if bar is not None:
            bar.update(1)
    return stats


def compute_stats(
    units: Sequence[WorkUnit], config: AnalysisConfig, num_proc: int = 1, progress: bool = False
) -> TokenStats:
    """Count every unit and merge: in this thread, or in `num_proc` threads."""
    groups = deal(units, num_proc)
    with tqdm(total=len(units), desc="analyze", unit="shard", disable=not progress) as bar:
        if len(groups) <= 1:
            return count_units(units, config, bar)
        with ThreadPoolExecutor(len(groups)) as pool:
            partials = list(pool.map(lambda group: count_units(group, config, bar), groups))
    stats = partials[0]
    for other in partials[1:]:
        stats.merge(other)
    return stats
