"""The LM evaluation as a markdown table (lm_eval.md) and a plot (lm_eval.png) of bits per audio-second.

Both show the uniform and unigram reference levels (`references.py`) next to the models, and say
when models are at the unigram level (held-out bits/s above 95% of it), where their differences
say little about sequence modelling. lm_eval.md names the codec and repeats its notice.
"""

from __future__ import annotations

import os
from pathlib import Path

from datasets import Dataset

from snac_hf.lm.references import AT_UNIGRAM_MARGIN, at_unigram_level
from snac_hf.tokenset.card import public_name
from snac_hf.tokenset.schema import SPLIT

SETTING_TITLES = {
    "equal_audio": "equal audio-seconds seen (same steps, same audio per window)",
    "equal_steps": "equal optimizer steps (same tokens per step)",
}


def describe_data(
    dataset: Dataset, train: Dataset, held_out: Dataset, metadata: dict | None, split: str = SPLIT
) -> dict:
    """Which audio (the token set's `split`), how much of it, and which codec weights made the tokens
    (the codec's name as `card.public_name` shows it: no local path)."""

    def seconds(d: Dataset) -> float:
        return float(sum(d.select_columns(["duration"])["duration"]))

    codec = (metadata or {}).get("codec") or {}
    return {
        "split": split,
        "files": len(dataset),
        "hours": seconds(dataset) / 3600,
        "train_files": len(train),
        "train_seconds": seconds(train),
        "held_out_files": len(held_out),
        "held_out_seconds": seconds(held_out),
        "codec": public_name(codec["name"]) if codec.get("name") else None,
        "codec_weights": codec.get("weights"),
        "codec_notice": codec.get("notice"),
    }


def split_of(data: dict) -> str:
    """'split validation of the token set: ' where the run read a split other than train."""
    split = data.get("split", SPLIT)
    return "" if split == SPLIT else f"split {split} of the token set: "


def _count(n: float) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e3 else f"{n:.0f}"


def _vs_unigram(bits_per_second: float, references: dict | None) -> str:
    if not references:
        return "–"
    return f"{100 * (bits_per_second / references['unigram_bits_per_second'] - 1):+.1f}%"


def markdown_table(report: dict) -> str:
    """One table per budget setting, each ending with the two reference rows (no LM)."""
    references = report.get("references")
    lines = []
    for setting in dict.fromkeys(r["setting"] for r in report["results"]):
        rows = [r for r in report["results"] if r["setting"] == setting]
        lines += [
            f"**{SETTING_TITLES.get(setting, setting)}**",
            "",
            "| tokenization | vocab | tokens/s | window (tokens / s) | steps | audio s seen "
            "| params emb / non-emb | train s | **bits / audio-s** | vs unigram | bits / token "
            "| gen audio-s / s |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for r in rows:
            lines.append(
                f"| {r['name']} | {r['vocab_size']:,} | {r['tokens_per_second']:.1f} | "
                f"{r['window_tokens']} / {r['window_seconds']:.2f} | {r['steps']} | "
                f"{r['audio_seconds_seen']:,.0f} | "
                f"{_count(r['parameters_embedding'])} / {_count(r['parameters_non_embedding'])} | "
                f"{r['train_seconds']:.1f} | **{r['bits_per_second']:.1f}** | "
                f"{_vs_unigram(r['bits_per_second'], references)} | {r['bits_per_token']:.2f} | "
                f"{r['generation_audio_seconds_per_second']:.1f} |"
            )
        if references:
            for name, key in (("uniform", "uniform_bits_per_second"), ("unigram", "unigram_bits_per_second")):
                value = references[key]
                lines.append(
                    f"| *{REFERENCE_NAMES[name]}* | | | | | | | | *{value:.1f}* "
                    f"| {_vs_unigram(value, references)} | | |"
                )
        lines.append("")
    return "\n".join(lines)


REFERENCE_NAMES = {
    "uniform": "reference: uniform over the raw codes (no LM)",
    "unigram": "reference: unigram of the train codes, add-one (no LM)",
}


def unigram_level_note(report: dict) -> str | None:
    """The caveat when models are at the unigram level (see `references.at_unigram_level`)."""
    references = report.get("references")
    if not references:
        return None
    unigram = references["unigram_bits_per_second"]
    at_level = [r for r in report["results"] if at_unigram_level(r["bits_per_second"], unigram)]
    if not at_level:
        return None
    names = sorted({f"{r['name']} ({r['setting']})" for r in at_level})
    spread = [r["bits_per_second"] for r in report["results"]]
    margin = f"{100 * AT_UNIGRAM_MARGIN:.0f}%"
    who = (
        "**Every model is at the unigram level**"
        if len(at_level) == len(report["results"])
        else f"**At the unigram level**: {', '.join(names)}"
    )
    return (
        f"{who}: held-out bits/s above {100 - 100 * AT_UNIGRAM_MARGIN:.0f}% of the unigram reference "
        f"({unigram:.1f} bits/s), i.e. less than {margin} better than a model of code frequencies alone "
        f"(models here: {min(spread):.1f}-{max(spread):.1f} bits/s). Such models learned little "
        "sequence structure, so differences between them say little about how a tokenization "
        "serves a trained audio LM; that needs much more audio (hours) and training."
    )


def write_markdown(report: dict, path: str | os.PathLike) -> None:
    """lm_eval.md: data and codec (with its notice), the model, the tables, the unigram-level note."""
    data = report["data"]
    s = report["settings"]
    m = s["model"]
    codec = data.get("codec") or "not recorded (the token set has no metadata.json)"
    weights = f", weights: {data['codec_weights']}" if data.get("codec_weights") else ""
    header = [
        "# LM evaluation: bits per audio-second",
        "",
        f"Data: {split_of(data)}{data['files']} files, {data['hours'] * 60:.1f} min; "
        f"train {data['train_files']} files "
        f"({data['train_seconds']:.0f} s), held out {data['held_out_files']} files "
        f"({data['held_out_seconds']:.0f} s). Codec: {codec}{weights}.",
        "",
        f"Model: Llama, {m['num_layers']} layers, hidden {m['hidden_size']}, {m['num_heads']} heads; "
        f"{s['steps']} steps x {s['batch_size']} windows, lr {s['learning_rate']}, seed {s['seed']}; "
        f"equal-audio window {s['window_seconds_equal_audio']:.2f} s, "
        f"equal-steps window {s['context']} tokens.",
        "",
    ]
    if data.get("codec_notice"):
        header += [f"> **Note:** {data['codec_notice']}", ""]
    if note := unigram_level_note(report):
        header += [note, ""]
    footer = [
        "",
        "vs unigram = bits/s relative to the unigram reference (negative: better than code frequencies "
        "alone). References (no LM, from the codes of the same split): uniform = log2(V) bits per "
        "held-out code and end marker, V = every code of every scale + the end marker; unigram = "
        "add-one-smoothed code frequencies of the train split (snac_hf/lm/references.py).",
        "",
    ]
    Path(path).write_text("\n".join(header) + "\n" + markdown_table(report) + "\n".join(footer))


SETTING_MARKERS = {"equal_audio": "o", "equal_steps": "s"}


def plot_results(report: dict, path: str | os.PathLike) -> None:
    """Write `lm_figure(report)` to `path` (lm_eval.png)."""
    lm_figure(report).savefig(path, dpi=120)


def lm_figure(report: dict):
    """The matplotlib Figure of lm_eval.png: held-out bits per audio-second per tokenization, one
    marker per budget setting.

    Left: the values on an axis from 0 with the uniform and unigram levels as vertical lines and
    each value written next to its marker. Right (when the report has references): the same values
    relative to the unigram level in %, with the band of "at the unigram level" (above
    -AT_UNIGRAM_MARGIN) shaded, so small differences are readable without a zoomed absolute axis."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(dict.fromkeys(r["name"] for r in report["results"]))
    references = report.get("references")
    figure = Figure(figsize=(12 if references else 7, 2.4 + 0.6 * len(names)))
    FigureCanvasAgg(figure)
    panels = figure.subplots(1, 2 if references else 1, sharey=True, squeeze=False)[0]
    _plot_absolute(panels[0], report, names)
    if references:
        _plot_relative(panels[1], report, names)
    data = report["data"]
    figure.suptitle(
        f"Small-LM held-out bits per audio-second (lower is better): {data['held_out_files']} held-out "
        f"files, {data['held_out_seconds']:.0f} s"
    )
    handles, labels = panels[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=7, frameon=False)
    figure.tight_layout(rect=(0, 0.08, 1, 1))
    return figure


def _points(report: dict, names: list[str]):
    """(setting, style, y positions, values) per budget setting, settings side by side in y."""
    settings = list(dict.fromkeys(r["setting"] for r in report["results"]))
    for j, setting in enumerate(settings):
        rows = {r["name"]: r["bits_per_second"] for r in report["results"] if r["setting"] == setting}
        offset = (j - (len(settings) - 1) / 2) * 0.25
        ys = [i + offset for i, n in enumerate(names) if n in rows]
        style = {"marker": SETTING_MARKERS.get(setting, "D"), "color": f"C{j}", "linestyle": "none"}
        yield setting, style, ys, [rows[n] for n in names if n in rows]


def _plot_absolute(axes, report: dict, names: list[str]) -> None:
    references = report.get("references") or {}
    top = max([r["bits_per_second"] for r in report["results"]] + list(_levels(references).values()))
    for setting, style, ys, values in _points(report, names):
        axes.plot(values, ys, label=SETTING_TITLES.get(setting, setting), markersize=7, **style)
        for x, y in zip(values, ys):
            label = {"xytext": (-6, 0), "textcoords": "offset points", "ha": "right", "va": "center"}
            axes.annotate(f"{x:.1f}", (x, y), fontsize=7, **label)
    for (label, value), style in zip(_levels(references).items(), ("--", ":")):
        axes.axvline(value, color="black", linestyle=style, linewidth=1, label=f"{label}: {value:.1f} bits/s")
    axes.set_xlim(0, 1.08 * top)
    axes.set_yticks(range(len(names)), [n.replace(" (", "\n(") for n in names], fontsize=7)
    axes.set_ylim(len(names) - 0.5, -0.75)  # first tokenization on top, room above it
    axes.set(xlabel="held-out bits per audio-second (axis from 0)", title="Bits per audio-second")
    axes.grid(axis="x", alpha=0.3)


def _levels(references: dict) -> dict[str, float]:
    if not references:
        return {}
    return {
        "uniform (no LM)": references["uniform_bits_per_second"],
        "unigram (no LM)": references["unigram_bits_per_second"],
    }


def _plot_relative(axes, report: dict, names: list[str]) -> None:
    references = report["references"]
    unigram = references["unigram_bits_per_second"]
    uniform = 100 * (references["uniform_bits_per_second"] / unigram - 1)
    relative = [100 * (r["bits_per_second"] / unigram - 1) for r in report["results"]]
    low = min(-2 * 100 * AT_UNIGRAM_MARGIN, min(relative) - 2)
    high = max(uniform, *relative) + 2
    axes.axvspan(-100 * AT_UNIGRAM_MARGIN, high, color="orange", alpha=0.15)
    band = f" at the unigram level\n (above -{100 * AT_UNIGRAM_MARGIN:.0f}%)"
    axes.text(-100 * AT_UNIGRAM_MARGIN, 0.03, band, fontsize=7, transform=axes.get_xaxis_transform())
    for _, style, ys, values in _points(report, names):
        axes.plot([100 * (v / unigram - 1) for v in values], ys, markersize=7, **style)
    for x, style, label, side in ((0, ":", "unigram ", "right"), (uniform, "--", " uniform", "left")):
        axes.axvline(x, color="black", linestyle=style, linewidth=1)
        axes.text(x, 0.99, label, fontsize=7, va="top", ha=side, transform=axes.get_xaxis_transform())
    axes.set_xlim(low, high)
    axes.set(xlabel="relative to the unigram level (%)", title="Relative to the unigram reference")
    axes.grid(axis="x", alpha=0.3)
