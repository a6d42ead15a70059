"""The LM evaluation as a markdown table, a JSON file and a bar plot of bits per audio-second."""

from __future__ import annotations

import os
from pathlib import Path

from datasets import Dataset

SETTING_TITLES = {
    "equal_audio": "equal audio-seconds seen (same steps, same audio per window)",
    "equal_steps": "equal optimizer steps (same tokens per step)",
}


def describe_data(dataset: Dataset, train: Dataset, held_out: Dataset, metadata: dict | None) -> dict:
    """Which audio, how much of it, and which codec weights made the tokens."""

    def seconds(d: Dataset) -> float:
        return float(sum(d.select_columns(["duration"])["duration"]))

    codec = (metadata or {}).get("codec") or {}
    return {
        "files": len(dataset),
        "hours": seconds(dataset) / 3600,
        "train_files": len(train),
        "train_seconds": seconds(train),
        "held_out_files": len(held_out),
        "held_out_seconds": seconds(held_out),
        "codec": codec.get("name"),
        "codec_weights": codec.get("weights"),
        "codec_notice": codec.get("notice"),
    }


def _count(n: float) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e3 else f"{n:.0f}"


def markdown_table(report: dict) -> str:
    lines = []
    for setting in dict.fromkeys(r["setting"] for r in report["results"]):
        rows = [r for r in report["results"] if r["setting"] == setting]
        lines += [
            f"**{SETTING_TITLES.get(setting, setting)}**",
            "",
            "| tokenization | vocab | tokens/s | window (tokens / s) | steps | audio s seen "
            "| params emb / non-emb | train s | **bits / audio-s** | bits / token | gen audio-s / s |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for r in rows:
            lines.append(
                f"| {r['name']} | {r['vocab_size']:,} | {r['tokens_per_second']:.1f} | "
                f"{r['window_tokens']} / {r['window_seconds']:.2f} | {r['steps']} | "
                f"{r['audio_seconds_seen']:,.0f} | "
                f"{_count(r['parameters_embedding'])} / {_count(r['parameters_non_embedding'])} | "
                f"{r['train_seconds']:.1f} | **{r['bits_per_second']:.1f}** | {r['bits_per_token']:.2f} | "
                f"{r['generation_audio_seconds_per_second']:.1f} |"
            )
        lines.append("")
    return "\n".join(lines)


def write_markdown(report: dict, path: str | os.PathLike) -> None:
    data = report["data"]
    s = report["settings"]
    m = s["model"]
    header = [
        "# LM evaluation: bits per audio-second",
        "",
        f"Data: {data['files']} files, {data['hours'] * 60:.1f} min; train {data['train_files']} files "
        f"({data['train_seconds']:.0f} s), held out {data['held_out_files']} files "
        f"({data['held_out_seconds']:.0f} s). "
        f"Codec: {data['codec']} ({data['codec_weights']}).",
        "",
        f"Model: Llama, {m['num_layers']} layers, hidden {m['hidden_size']}, {m['num_heads']} heads; "
        f"{s['steps']} steps x {s['batch_size']} windows, lr {s['learning_rate']}, seed {s['seed']}; "
        f"equal-audio window {s['window_seconds_equal_audio']:.2f} s, "
        f"equal-steps window {s['context']} tokens.",
        "",
    ]
    if data.get("codec_notice"):
        header += [f"> {data['codec_notice']}", ""]
    Path(path).write_text("\n".join(header) + "\n" + markdown_table(report))


def plot_results(report: dict, path: str | os.PathLike) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = list(dict.fromkeys(r["setting"] for r in report["results"]))
    names = list(dict.fromkeys(r["name"] for r in report["results"]))
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(names) + 2), 4))
    width = 0.8 / len(settings)
    for j, setting in enumerate(settings):
        values = {r["name"]: r["bits_per_second"] for r in report["results"] if r["setting"] == setting}
        xs = [i + (j - (len(settings) - 1) / 2) * width for i in range(len(names))]
        ax.bar(
            xs,
            [values.get(n, float("nan")) for n in names],
            width,
            label=SETTING_TITLES.get(setting, setting),
        )
    ax.set_xticks(range(len(names)), [n.replace(" (", "\n(") for n in names], fontsize=7)
    values = [r["bits_per_second"] for r in report["results"]]
    spread = max(values) - min(values)
    ax.set_ylim(min(values) - max(spread, 1.0), max(values) + 0.5 * max(spread, 1.0))  # zoomed: not from 0
    ax.set_ylabel("held-out bits per audio-second\n(lower is better; axis zoomed)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=len(settings))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
