"""evidence.json (every number), evidence.md (tables and the verdict) and evidence.png (the plots).

evidence.md, in order: the data (files, hours, codec and its notice, the split), the verdict per
budget setting (`verdict.sentences`), compression on held-out files at every merge budget, the LM
table per setting (mean and sample standard deviation over seeds, min-max, the paired difference to
the raw codes, the distance to the unigram level), the cost table (`costs`), the uniform and
unigram reference levels, and the settings. evidence.png: codes per token against merges per
variant (left), and held-out bits per audio-second per tokenization with every seed as a dot and
the mean as a diamond on the min-max line, one panel per budget setting, the unigram level drawn (right).
"""

from __future__ import annotations

import json
from pathlib import Path

from snac_hf.evidence.costs import cost_rows
from snac_hf.evidence.verdict import RAW, judge, sentences
from snac_hf.lm.references import AT_UNIGRAM_MARGIN
from snac_hf.lm.report import SETTING_TITLES

JSON_FILE, MARKDOWN_FILE, PLOT_FILE = "evidence.json", "evidence.md", "evidence.png"


def write_report(report: dict, output_dir: Path) -> dict:
    """Add the verdict and costs to `report`, write the three files, return the report."""
    unigram = report["references"]["unigram_bits_per_second"]
    model = report["settings"]["lm"]["model"]
    settings = list(dict.fromkeys(r["setting"] for r in report["results"]))
    report["verdict"] = judge(report["results"], unigram)
    report["costs"] = {
        s: cost_rows(report["results"], s, model["num_layers"], model["hidden_size"]) for s in settings
    }
    (output_dir / JSON_FILE).write_text(json.dumps(report, indent=2) + "\n")
    (output_dir / MARKDOWN_FILE).write_text(markdown(report))
    figure(report).savefig(output_dir / PLOT_FILE, dpi=120)
    return report


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h" if seconds >= 360 else f"{seconds:.0f} s"


def chance_agreement(seeds: int) -> str:
    """How often all `seeds` paired differences share a sign by chance alone: 2 x 0.5^n."""
    return f"1 time in {2 ** (seeds - 1)}" if seeds > 1 else "always"


def _pct(value: float, reference: float) -> str:
    return f"{100 * (value / reference - 1):+.1f}%"


def markdown(report: dict) -> str:
    data, split, s = report["data"], report["split"], report["settings"]
    lm, unigram = s["lm"], report["references"]["unigram_bits_per_second"]
    lines = [
        "# Evidence: which BPE variant serves an audio LM?",
        "",
        f"Data: {data['files']:,} files, {_duration(data['hours'] * 3600)}; "
        f"codec: {data.get('codec') or 'not recorded'}. "
        f"Split by {split['by']} (salted hash, {split['keys']:,} keys, holdout {split['holdout']}): "
        f"train {split['train_files']:,} files ({_duration(split['train_seconds'])}), held out "
        f"{split['held_out_files']:,} files ({_duration(split['held_out_seconds'])}).",
        "",
    ]
    if data.get("codec_notice"):
        lines += [f"> **Note:** {data['codec_notice']}", ""]
    lines += ["## Verdict", ""]
    for setting, verdict in report["verdict"].items():
        lines.append(f"**{SETTING_TITLES.get(setting, setting)}**")
        lines.append("")
        lines += [f"- {sentence}" for sentence in sentences(verdict)]
        lines.append("")
    seeds = len(s["seeds"])
    lines += [
        f"Supported = the paired difference (same seed) has the same sign in all {seeds} seeds and its mean "
        f"exceeds 2 standard errors; with {seeds} seeds a sign agreement happens by chance "
        f"{chance_agreement(seeds)}, so a supported difference is a lead to confirm at more seeds, "
        "not a settled fact.",
        "",
        *compression_section(report),
        *lm_section(report),
        *cost_section(report),
        "## Reference levels (no LM)",
        "",
        f"- uniform over the raw codes: {report['references']['uniform_bits_per_second']:.1f} bits/s",
        f"- unigram of the train codes (add-one): {unigram:.1f} bits/s; a model "
        f"{100 * AT_UNIGRAM_MARGIN:.0f}% below it learned more than code frequencies.",
        "",
        "## Settings",
        "",
        f"- LM: Llama, {lm['model']['num_layers']} layers, hidden {lm['model']['hidden_size']}, "
        f"{lm['model']['num_heads']} heads, untied embeddings; {lm['steps']} AdamW steps x "
        f"{lm['batch_size']} windows x {report['processes']} process(es), lr {lm['learning_rate']}; "
        f"seeds {', '.join(map(str, s['seeds']))}.",
        f"- Windows: equal audio = {s['window_seconds_equal_audio']:.2f} s "
        f"({lm['context']} raw-code tokens); equal steps = {lm['context']} tokens for every tokenization.",
        f"- Merge budgets: {', '.join(f'{b:,}' for b in s['budgets'])}; "
        f"LMs at {s['lm_merges']:,} merges; raw codes in {lm['baseline'] or 'cross_scale'} order.",
        "",
    ]
    return "\n".join(lines)


def compression_section(report: dict) -> list[str]:
    rows = report["compression"]
    budgets = sorted({r["num_merges"] for r in rows})
    lines = [
        "## Compression on held-out files",
        "",
        f"Held-out codes per token (tokens per audio-second) at each merge budget; raw codes: "
        f"{report['raw_codes_per_second']:.1f} tokens/s. Every held-out file decodes back to its exact codes "
        "unless the last column says otherwise.",
        "",
        "| variant | " + " | ".join(f"{b:,} merges" for b in budgets) + " | merges learned | round trip |",
        "|---|" + "--:|" * len(budgets) + "--:|---|",
    ]
    for variant in dict.fromkeys(r["variant"] for r in rows):
        of = {r["num_merges"]: r for r in rows if r["variant"] == variant}
        cells = [
            f"{of[b]['codes_per_token']:.3f} ({of[b]['tokens_per_second']:.1f})" if b in of else "–"
            for b in budgets
        ]
        learned = " / ".join(f"{of[b]['merges_learned']:,}" for b in budgets if b in of)
        exact = "exact" if all(r["round_trip_exact"] for r in of.values()) else "**NOT exact**"
        lines.append(f"| {variant} | " + " | ".join(cells) + f" | {learned} | {exact} |")
    return [*lines, ""]


def lm_section(report: dict) -> list[str]:
    unigram = report["references"]["unigram_bits_per_second"]
    lines = ["## LM: held-out bits per audio-second", ""]
    for setting, verdict in report["verdict"].items():
        raw_mean = verdict["stats"].get(RAW, {}).get("mean")
        lines += [
            f"**{SETTING_TITLES.get(setting, setting)}**",
            "",
            "| tokenization | merges learned | tokens / audio-s | bits / audio-s, mean ± sd | min - max "
            "| vs raw (paired, mean) | vs unigram | seeds |",
            "|---|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for name, st in verdict["stats"].items():
            record = next(
                r for r in report["results"] if r["setting"] == setting and r["tokenization"] == name
            )
            paired = verdict["versus_raw"].get(name)
            vs_raw = (
                "–" if paired is None else f"{paired['mean']:+.1f} ({100 * paired['mean'] / raw_mean:+.2f}%)"
            )
            if paired is not None and paired["supported"] and verdict["comparable"]:
                vs_raw = f"**{vs_raw}**"
            lines.append(
                f"| {name} | {record['num_merges']:,} | {record['tokens_per_second']:.1f} "
                f"| {st['mean']:.1f} ± {st['std']:.1f} | {st['min']:.1f} - {st['max']:.1f} | {vs_raw} | "
                f"{_pct(st['mean'], unigram)} | {st['n']} |"
            )
        lines.append("")
    lines += [
        "Bold: supported by the rule of the verdict (never where a model stayed at the unigram level).",
        "",
    ]
    return lines


def cost_section(report: dict) -> list[str]:
    lines = [
        "## Cost per audio-hour",
        "",
        "Training FLOPs by 6 N D + attention (`snac_hf/evidence/costs.py`); wall times on the machine "
        "of this run (mean over seeds); generation at batch 1 with the KV cache.",
        "",
    ]
    for setting, rows in report["costs"].items():
        lines += [
            f"**{SETTING_TITLES.get(setting, setting)}**",
            "",
            "| tokenization | vocab | tokens / audio-s | window | train FLOPs / audio-h | train s / audio-h "
            "| gen audio-s / s | bits / audio-s |",
            "|---|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for r in rows:
            lines.append(
                f"| {r['tokenization']} | {r['vocab_size']:,} | {r['tokens_per_second']:.1f} "
                f"| {r['window_tokens']} | "
                f"{r['flops_per_audio_hour']:.3g} | {r['train_seconds_per_audio_hour']:.1f} | "
                f"{r['generation_audio_seconds_per_second']:.1f} | {r['bits_per_second']:.1f} |"
            )
        lines.append("")
    return lines


def figure(report: dict):
    """The matplotlib Figure of evidence.png (see the module docstring)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    verdicts = report["verdict"]
    fig = Figure(figsize=(6 + 5 * len(verdicts), 5))
    FigureCanvasAgg(fig)
    panels = fig.subplots(1, 1 + len(verdicts), squeeze=False)[0]
    _plot_compression(panels[0], report)
    unigram = report["references"]["unigram_bits_per_second"]
    for axes, (setting, verdict) in zip(panels[1:], verdicts.items()):
        _plot_bits(axes, report, setting, verdict, unigram)
    data = report["data"]
    fig.suptitle(
        f"{data['hours']:.2f} h of audio, codec {data.get('codec') or 'not recorded'}; "
        f"{len(report['settings']['seeds'])} seeds per LM"
    )
    fig.tight_layout()
    return fig


def _plot_compression(axes, report: dict) -> None:
    rows = report["compression"]
    for i, variant in enumerate(dict.fromkeys(r["variant"] for r in rows)):
        points = sorted((r["num_merges"], r["codes_per_token"]) for r in rows if r["variant"] == variant)
        axes.plot(*zip(*points), marker="o", color=f"C{i}", label=variant)
    axes.axhline(1.0, color="black", linestyle=":", linewidth=1, label="raw codes")
    axes.set_xscale("log")
    axes.set(xlabel="merges requested", ylabel="held-out codes per token", title="Compression")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)


def _plot_bits(axes, report: dict, setting: str, verdict: dict, unigram: float) -> None:
    names = list(verdict["stats"])
    for i, name in enumerate(names):
        values = [
            r["bits_per_second"]
            for r in report["results"]
            if r["setting"] == setting and r["tokenization"] == name
        ]
        stats = verdict["stats"][name]
        color = "C7" if name == RAW else "C0"
        axes.plot([stats["min"], stats["max"]], [i, i], color=color, linewidth=2, alpha=0.6)
        axes.plot(values, [i] * len(values), "k.", markersize=5)
        axes.plot(stats["mean"], i, marker="D", color=color, markersize=7, label="mean" if i == 0 else None)
    axes.axvline(unigram, color="black", linestyle=":", linewidth=1, label=f"unigram {unigram:.0f}")
    low = min(min(st["min"] for st in verdict["stats"].values()), unigram)
    high = max(max(st["max"] for st in verdict["stats"].values()), unigram)
    pad = 0.1 * (high - low) or 1.0
    axes.set_xlim(low - pad, high + pad)  # zoomed: the axis does not start at 0
    axes.set_yticks(range(len(names)), names, fontsize=7)
    axes.invert_yaxis()
    axes.set(
        xlabel="held-out bits per audio-second (zoomed axis)", title=SETTING_TITLES.get(setting, setting)
    )
    axes.title.set_fontsize(9)
    axes.grid(axis="x", alpha=0.3)
    axes.legend(fontsize=7, loc="lower right")
