"""evidence.png: the compression curve, the merge curve of bits per audio-second per budget
setting, and the merge curve of training FLOPs per audio-hour (matplotlib, Agg, no display).

- Compression: held-out codes per token against merges requested (log axis, so above 0 merges), one
  line per variant that learned merges.
- Bits per audio-second (one panel per budget setting): per variant the mean over the curve's
  seeds at each budget (0 = its raw row) with the min-max band, the raw rows, `orpheus` and the
  unigram level as horizontal lines; the y axis zoomed to the trained models (the legend says when
  the unigram level lies off it). The x axis is symmetric-log so that 0 merges has a place.
- FLOPs per audio-hour (first setting): the same lines for the cost, `orpheus` drawn.
- Learning curves (when the run has checkpoints, a row of their own above the rest): held-out bits
  per audio-second against steps and against training FLOPs (log axis), one line per tokenization
  (mean over seeds, min-max band; raw codes dashed, windowed orders dotted, orpheus dash-dot),
  the y axis zoomed to the curves as above.
"""

from __future__ import annotations

from snac_hf.evidence.plan import ORPHEUS, SERIALIZATION_TITLES, SERIALIZATIONS
from snac_hf.lm.report import SETTING_TITLES


def figure(report: dict):
    """The matplotlib Figure of evidence.png (see the module docstring)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    verdicts = report["verdict"]
    curves = (report.get("learning") or {}).get("curves", {})
    n = 2 + len(verdicts)  # compression, bits per setting, FLOPs
    rows = 2 if curves else 1  # the learning curves get a row of their own: 15 lines need the room
    fig = Figure(figsize=(6 * n, 5 * rows + (2 if curves else 0)))
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(rows, 2 * n, height_ratios=[1.4, 1] if curves else None)
    if curves:
        _plot_learning(fig.add_subplot(grid[0, :n]), report, curves, "steps")
        _plot_learning(fig.add_subplot(grid[0, n:]), report, curves, "train_flops")
    panels = [fig.add_subplot(grid[rows - 1, 2 * i : 2 * i + 2]) for i in range(n)]
    _plot_compression(panels[0], report)
    for axes, (setting, verdict) in zip(panels[1:-1], verdicts.items(), strict=True):
        _plot_bits(axes, report, setting, verdict)
    if verdicts:
        _plot_flops(panels[-1], report, next(iter(verdicts)))
    data = report["data"]
    fig.suptitle(
        f"{data['hours']:.2f} h of audio, codec {data.get('codec') or 'not recorded'}; "
        f"{len(report['settings']['seeds'])} seeds per point of the curve"
    )
    fig.tight_layout()
    return fig


def _label(variant: str) -> str:
    return f"{variant} ({SERIALIZATION_TITLES[SERIALIZATIONS[variant]]})"


def _merges_axis(axes, budgets: list[int]) -> None:
    positive = [b for b in budgets if b > 0]
    axes.set_xscale("symlog", linthresh=min(positive) if positive else 1)
    axes.set_xticks(budgets, [f"{b:,}" for b in budgets], fontsize=7)
    axes.set_xlim(-0.05 * min(positive, default=1), 1.3 * max(budgets, default=1))  # nothing below 0 merges
    axes.set_xlabel("merges (0 = raw codes of the serialization)")
    axes.grid(alpha=0.3)


def _plot_compression(axes, report: dict) -> None:
    rows = [r for r in report["compression"] if r["num_merges"] > 0]  # 0 merges is the raw-codes line
    for i, variant in enumerate(dict.fromkeys(r["variant"] for r in rows)):
        points = sorted((r["num_merges"], r["codes_per_token"]) for r in rows if r["variant"] == variant)
        axes.plot(*zip(*points), marker="o", color=f"C{i}", label=variant)
    axes.axhline(1.0, color="black", linestyle=":", linewidth=1, label="raw codes")
    axes.set_xscale("log")
    budgets = sorted({r["num_merges"] for r in rows})
    axes.set_xticks(budgets, [f"{b:,}" for b in budgets], fontsize=7)
    axes.minorticks_off()  # log minor labels (3x10^1, 4x10^1) crowd the budgets
    axes.set(xlabel="merges requested", ylabel="held-out codes per token", title="Compression")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)


def _plot_bits(axes, report: dict, setting: str, verdict: dict) -> None:
    stats, lines = verdict["stats"], report["lines"]
    for i, (variant, points) in enumerate(lines.items()):
        trained = [(m, stats[name]) for m, name in points if name in stats]
        if not trained:
            continue
        merges = [m for m, _ in trained]
        axes.plot(merges, [st["mean"] for _, st in trained], marker="o", color=f"C{i}", label=_label(variant))
        axes.fill_between(
            merges,
            [st["min"] for _, st in trained],
            [st["max"] for _, st in trained],
            color=f"C{i}",
            alpha=0.2,
        )
    raws: dict[str, str] = {}  # each serialization's raw row, once, in its first variant's colour
    for i, points in enumerate(lines.values()):
        raws.setdefault(points[0][1], f"C{i}")
    levels = [(name, stats[name]["mean"], "--", color) for name, color in raws.items() if name in stats]
    if ORPHEUS in stats:
        levels.append((ORPHEUS, stats[ORPHEUS]["mean"], "-.", "black"))
    unigram = report["references"]["unigram_bits_per_second"]
    low, high = _zoom(axes, [v for st in stats.values() for v in (st["min"], st["max"])], unigram)
    levels.append((_unigram_label(unigram, low, high), unigram, ":", "black"))
    for name, level, style, color in levels:
        axes.axhline(level, color=color, linestyle=style, linewidth=1, alpha=0.7, label=name)
    _merges_axis(axes, sorted({m for points in lines.values() for m, _ in points}))
    axes.set(ylabel="held-out bits per audio-second (zoomed)", title=SETTING_TITLES.get(setting, setting))
    axes.title.set_fontsize(9)
    axes.legend(fontsize=7)


def _zoom(axes, values: list[float], unigram: float) -> tuple[float, float]:
    """Zoom the y axis to the trained models (their differences are ~1%, the unigram level ~30% off)."""
    values = values or [unigram]
    pad = 0.1 * (max(values) - min(values)) or 1.0
    low, high = min(values) - pad, max(values) + pad
    axes.set_ylim(low, high)
    return low, high


def _unigram_label(unigram: float, low: float, high: float) -> str:
    where = "" if low <= unigram <= high else (" (above the axis)" if unigram > high else " (below the axis)")
    return f"unigram {unigram:.0f}{where}"


def _plot_flops(axes, report: dict, setting: str) -> None:
    costs = {r["tokenization"]: r["flops_per_audio_hour"] for r in report["costs"][setting]}
    for i, (variant, points) in enumerate(report["lines"].items()):
        trained = [(m, costs[name]) for m, name in points if name in costs]
        if trained:
            axes.plot(*zip(*trained), marker="o", color=f"C{i}", label=_label(variant))
    if ORPHEUS in costs:
        axes.axhline(costs[ORPHEUS], color="black", linestyle="-.", linewidth=1, label=ORPHEUS)
    _merges_axis(axes, sorted({m for points in report["lines"].values() for m, _ in points}))
    axes.set(ylabel="training FLOPs per audio-hour", title=f"Cost ({SETTING_TITLES.get(setting, setting)})")
    axes.title.set_fontsize(9)
    axes.legend(fontsize=7)


def _learning_style(name: str) -> str:
    """Raw codes dashed, windowed orders dotted, orpheus dash-dot, merged tokens solid."""
    if name.startswith("raw-window"):
        return ":"
    if name == ORPHEUS:
        return "-."
    return "--" if name.startswith("raw-") else "-"


def _plot_learning(axes, report: dict, curves: dict, x: str) -> None:
    from matplotlib import colormaps

    colors = colormaps["tab20"]  # 15 and more lines: tab10's colours would repeat
    for i, (name, points) in enumerate(curves.items()):
        xs = [c[x] for c in points]
        color = colors(i % 20)
        axes.plot(xs, [c["mean"] for c in points], _learning_style(name), marker="o", color=color, label=name)
        axes.fill_between(xs, [c["min"] for c in points], [c["max"] for c in points], color=color, alpha=0.15)
    unigram = report["references"]["unigram_bits_per_second"]
    low, high = _zoom(
        axes, [v for points in curves.values() for c in points for v in (c["min"], c["max"])], unigram
    )
    axes.axhline(unigram, color="black", linestyle=":", linewidth=1, label=_unigram_label(unigram, low, high))
    axes.set_xscale("log")
    label = "training steps" if x == "steps" else "training FLOPs"
    axes.set(xlabel=label, ylabel="held-out bits per audio-second", title=f"Learning curves against {label}")
    axes.title.set_fontsize(9)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, ncol=2)
