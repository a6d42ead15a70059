"""PNG plots of an analysis dict: rank-frequency, run lengths, n-gram diversity.

Drawn on `matplotlib.figure.Figure` with the Agg canvas: no pyplot, no global backend change, so
calling this from a notebook or the tokenize pipeline leaves their matplotlib state alone.
"""

from __future__ import annotations

import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter


def _save(figure: Figure, path: str) -> None:
    FigureCanvasAgg(figure)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def rank_frequency(analysis: dict, path: str) -> None:
    figure = Figure(figsize=(6.5, 4.5))
    axes = figure.add_subplot()
    for scale in analysis["scales"]:
        frequencies = np.asarray(scale["rank_frequency"], np.float64)
        if frequencies.size:
            slope = scale["zipf_slope"]
            label = f"scale {scale['scale']}" + (f" (slope {slope:.2f})" if slope is not None else "")
            axes.loglog(np.arange(1, frequencies.size + 1), frequencies, label=label)
    axes.set(xlabel="rank", ylabel="frequency", title="Rank-frequency per scale")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    _save(figure, path)


def run_lengths(analysis: dict, path: str) -> None:
    _save(run_length_figure(analysis), path)


def run_length_figure(analysis: dict) -> Figure:
    """Runs per run length (log-log); with at most 12 distinct lengths each one is a labelled tick."""
    figure = Figure(figsize=(6.5, 4.5))
    axes = figure.add_subplot()
    lengths: set[int] = set()
    for scale in analysis["scales"]:
        histogram = np.asarray(scale["repetition"]["run_length_histogram"], np.float64).reshape(-1, 2)
        if histogram.size:
            axes.loglog(histogram[:, 0], histogram[:, 1], "o-", markersize=3, label=f"scale {scale['scale']}")
            lengths.update(int(n) for n in histogram[:, 0])
    if 0 < len(lengths) <= 12:
        axes.set_xticks(sorted(lengths), [str(n) for n in sorted(lengths)])
        axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set(xlabel="run length (codes)", ylabel="runs", title="Run-length distribution per scale")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    return figure


def ngram_diversity(analysis: dict, path: str) -> None:
    figure = Figure(figsize=(10, 4.2))
    diversity_axes, coverage_axes = figure.subplots(1, 2)
    for scale in analysis["scales"]:
        entries = [e for e in scale["ngrams"] if e["total"]]
        n = [e["n"] for e in entries]
        label = f"scale {scale['scale']}"
        diversity_axes.plot(n, [100 * e["diversity"] for e in entries], "o-", label=label)
        coverage_axes.plot(n, [100 * e["top10_coverage"] for e in entries], "o-", label=label)
    diversity_axes.set(xlabel="n", ylabel="distinct / total n-grams (%)", title="n-gram diversity")
    coverage_axes.set(xlabel="n", ylabel="top-10 coverage (%)", title="Top-10 n-gram coverage")
    for axes in (diversity_axes, coverage_axes):
        axes.grid(True, alpha=0.3)
        axes.legend()
    _save(figure, path)


PLOTTERS = {
    "rank_frequency.png": rank_frequency,
    "run_lengths.png": run_lengths,
    "ngram_diversity.png": ngram_diversity,
}


def write_plots(analysis: dict, directory: str) -> list[str]:
    """Write every plot into `directory`, record their file names in `analysis["plots"]` (so
    analysis.json and the dataset card know which figures exist), and return those names."""
    for name, plot in PLOTTERS.items():
        plot(analysis, os.path.join(directory, name))
    analysis["plots"] = list(PLOTTERS)
    return list(PLOTTERS)
