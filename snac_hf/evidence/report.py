"""evidence.json (every number), evidence.md (tables and the verdict) and evidence.png (the plots).

evidence.md, in order: the data (files, hours, codec and its notice, both splits and how they were
made), the verdict per budget setting (the curve's best budget per variant against its raw codes,
`curve.curve_sentences`; and at the run's best budget and at 0: more seeds, longer training,
held-out voices, `confirm`), the merge curve (one table row per budget: bits per audio-second
mean ± sd and min-max per variant, training FLOPs per audio-hour), compression on held-out files
at every merge budget, the LM table per setting (mean and sample standard deviation over seeds,
min-max, the paired difference to the tokenization's raw row, the distance to the unigram level),
the confirmations' tables, the cost table (`costs`), the reference levels and the settings. The
plots are `figures`'.
"""

from __future__ import annotations

import json
from pathlib import Path

from snac_hf.evidence.confirm import confirmation_sentences, confirmations
from snac_hf.evidence.costs import cost_rows
from snac_hf.evidence.curve import curve_sentences
from snac_hf.evidence.estimate import EstimateError, preset_cost
from snac_hf.evidence.figures import figure
from snac_hf.evidence.learning import (
    learning_verdict,
    pair_sentence,
    paired_pct,
    share_range,
    window_rows,
    window_sentence,
)
from snac_hf.evidence.plan import FRAME_RAW, ORPHEUS, SCALE_RAW, SERIALIZATION_TITLES, SERIALIZATIONS
from snac_hf.evidence.settings import preset
from snac_hf.evidence.verdict import judge, learning_sentences
from snac_hf.lm.references import AT_UNIGRAM_MARGIN
from snac_hf.lm.report import SETTING_TITLES, split_of

JSON_FILE, MARKDOWN_FILE, PLOT_FILE = "evidence.json", "evidence.md", "evidence.png"


def write_report(report: dict, output_dir: Path) -> dict:
    """Add the verdict and costs to `report`, write the three files, return the report."""
    unigram = report["references"]["unigram_bits_per_second"]
    model = report["settings"]["lm"]["model"]
    curve = [r for r in report["results"] if r["phase"] == "curve"]
    settings = list(dict.fromkeys(r["setting"] for r in curve))
    raw_of = {name: p["raw"] for name, p in report["plan"].items() if p["raw"]}
    unigram_of = own_unigram_levels(report)
    report["verdict"] = judge(curve, unigram, raw_of, unigram_of)
    first = report["settings"]["lm"]["settings"][0]
    report["learning"] = learning_verdict(
        [r for r in curve if r["setting"] == first],
        raw_of,
        {n: unigram_of.get(n, unigram) for n in report["plan"]},
        order=(SCALE_RAW, FRAME_RAW),
    )
    report["window_gain"] = window_rows(
        [r for r in curve if r["setting"] == first], report.get("windows", {}), SCALE_RAW, FRAME_RAW, unigram
    )
    report["costs"] = {s: cost_rows(curve, s, model["num_layers"], model["hidden_size"]) for s in settings}
    report["confirmations"] = confirmations(report)
    report["gpu_estimate"] = gpu_estimate(report)
    (output_dir / JSON_FILE).write_text(json.dumps(report, indent=2) + "\n")
    (output_dir / MARKDOWN_FILE).write_text(markdown(report))
    figure(report).savefig(output_dir / PLOT_FILE, dpi=120)
    return report


def own_unigram_levels(report: dict) -> dict[str, float]:
    """Tokenizations judged against their own unigram level (orpheus: its position-specific one)."""
    level = report["references"].get("orpheus_unigram_bits_per_second")
    return {ORPHEUS: level} if level is not None else {}


#: Sustained float32 training rates the `gpu` preset's FLOPs are turned into hours at: assumed, not measured.
ASSUMED_TFLOPS = (25, 50)


def gpu_estimate(report: dict) -> dict:
    """The `gpu` preset priced with this run's token rates (`estimate`), or why it cannot be."""
    try:
        return preset_cost(report, preset("gpu"))
    except EstimateError as error:
        return {"error": str(error)}


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h" if seconds >= 360 else f"{seconds:.0f} s"


def chance_agreement(seeds: int) -> str:
    """How often all `seeds` paired differences share a sign by chance alone: 2 x 0.5^n."""
    return f"1 time in {2 ** (seeds - 1)}" if seeds > 1 else "always"


def _pct(value: float, reference: float) -> str:
    return f"{100 * (value / reference - 1):+.1f}%"


def split_line(split: dict) -> str:
    return (
        f"by {split['by']} ({split.get('rule', 'salted hash')}, {split['keys']:,} keys, "
        f"{split['held_out_keys']:,} held out): train {split['train_files']:,} files "
        f"({_duration(split['train_seconds'])}), held out {split['held_out_files']:,} files "
        f"({_duration(split['held_out_seconds'])})"
    )


def markdown(report: dict) -> str:
    data, s = report["data"], report["settings"]
    lm, unigram = s["lm"], report["references"]["unigram_bits_per_second"]
    lines = [
        "# Evidence: which BPE variant serves an audio LM?",
        "",
        f"Data: {split_of(data)}{data['files']:,} files, {_duration(data['hours'] * 3600)}; "
        f"codec: {data.get('codec') or 'not recorded'}. Split {split_line(report['split'])}.",
        "",
    ]
    if report.get("voices"):
        voices = report["voices"]["split"]
        lines += [
            f"Held-out voices: split {split_line(voices)}; {voices['files_keyed_by_id']:,} files without "
            f"a {voices['by']} stay in train.",
            "",
        ]
    if report.get("encoding"):
        shown = ", ".join(f"{k} {v}" for k, v in report["encoding"].items())
        lines += [f"Codes encoded with: {shown} (the token set's metadata.json).", ""]
    if report.get("voices_skipped"):
        lines += [f"Held-out voices: {report['voices_skipped']}.", ""]
    if data.get("codec_notice"):
        lines += [f"> **Note:** {data['codec_notice']}", ""]
    lines += ["## Verdict", ""]
    for title, said in verdict_sentences(report):
        lines += [f"**{title}**", "", *[f"- {sentence}" for sentence in said], ""]
    seeds = len(s["seeds"])
    lines += [
        f"Supported = the paired difference (same seed) has the same sign in all {seeds} seeds and its mean "
        f"exceeds 2 standard errors; with {seeds} seeds a sign agreement happens by chance "
        f"{chance_agreement(seeds)}, so a supported difference is a lead to confirm at more seeds, "
        "not a settled fact. Every tokenization is judged against the raw codes of its own "
        "serialization (0 merges); orpheus against the raw codes in frame order.",
        "",
        *learning_section(report),
        *window_section(report),
        *curve_section(report),
        *compression_section(report),
        *lm_section(report),
        *confirmation_section(report),
        *cost_section(report),
        *gpu_section(report),
        "## Reference levels (no LM)",
        "",
        f"- uniform over the raw codes: {report['references']['uniform_bits_per_second']:.1f} bits/s",
        f"- unigram of the train codes (add-one): {unigram:.1f} bits/s; a model "
        f"{100 * AT_UNIGRAM_MARGIN:.0f}% below it learned more than code frequencies.",
        *(
            [
                f"- orpheus's own level, the unigram of its (frame position, code) ids (add-one): "
                f"{report['references']['orpheus_unigram_bits_per_second']:.1f} bits/s; orpheus is judged "
                "learning against it."
            ]
            if "orpheus_unigram_bits_per_second" in report["references"]
            else []
        ),  # fmt: skip
        "",
        "## Settings",
        "",
        f"- LM: Llama, {lm['model']['num_layers']} layers, hidden {lm['model']['hidden_size']}, "
        f"{lm['model']['num_heads']} heads, untied embeddings; {lm['steps']} AdamW steps x "
        f"{lm['batch_size']} windows x {report['processes']} process(es), lr {lm['learning_rate']}; "
        f"seeds {', '.join(map(str, s['seeds']))} on the curve, "
        f"{', '.join(map(str, s['more_seeds'])) or 'none'} added at the best budget and at 0; "
        f"longer training: {s['longer']}x the steps.",
        f"- Windows: equal audio = {s['window_seconds_equal_audio']:.2f} s "
        f"({lm['context']} raw-code tokens); equal steps = {lm['context']} tokens for every tokenization.",
        f"- Merge budgets: {', '.join(f'{b:,}' for b in s['budgets'])} (compression); the curve at "
        f"{', '.join(f'{b:,}' for b in sorted(set(s['lm_merges']) | {0}))} merges.",
        "",
    ]
    return "\n".join(lines)


def verdict_sentences(report: dict) -> list[tuple[str, list[str]]]:
    """(title, sentences): the learning curves' pairs (when the run has checkpoints), per budget
    setting the merge curve, then at the best budget and at 0."""
    out = []
    learning = report.get("learning") or {}
    if learning.get("pairs"):
        windowed = report.get("windows", {})  # said below, with the scale order's gain
        said = [pair_sentence(pair) for name, pair in learning["pairs"].items() if name not in windowed]
        if learning.get("order"):
            said.append("Scale order against frame order (the gain a streaming order gives up): "
                        + pair_sentence(learning["order"]))  # fmt: skip
        windows: dict[str, list[dict]] = {}
        for row in report.get("window_gain", []):
            windows.setdefault(row["tokenization"], []).append(row)
        said += [window_sentence(rows, FRAME_RAW) for rows in windows.values()]
        out.append(("Learning curves (paired by seed; equal FLOPs interpolated in log FLOPs)", said))
    for setting, verdict in report["verdict"].items():
        said = learning_sentences(verdict) + curve_sentences(verdict, report["lines"])
        out.append((SETTING_TITLES.get(setting, setting), said))
    first = report["settings"]["lm"]["settings"][0]
    if report["confirmations"].get("ran", True):  # a run without confirmation trainings says nothing here
        said = confirmation_sentences(report["confirmations"], report["settings"])
        out.append((f"At the best budget and at 0 ({SETTING_TITLES.get(first, first)})", said))
    return out


def learning_section(report: dict) -> list[str]:
    """Bits per audio-second at every checkpoint, one row per tokenization, with its training FLOPs."""
    curves = (report.get("learning") or {}).get("curves", {})
    if not curves:
        return []
    steps = sorted({c["steps"] for points in curves.values() for c in points})
    lines = [
        "## Learning curves",
        "",
        "Held-out bits per audio-second after each checkpoint of one training per seed, mean ± sd "
        "[min-max]; in brackets below, the training FLOPs by then (6 N D + attention, "
        "`snac_hf/evidence/costs.py`). Equal-FLOPs comparisons interpolate each seed's bits linearly "
        "in log(FLOPs) between its two neighbouring checkpoints, inside the range both models cover "
        "(`snac_hf/evidence/learning.py`). The learning-rate schedule is the whole training's cosine: "
        "a checkpoint is a point on one training, not a shorter training.",
        "",
        "| tokenization | " + " | ".join(f"{n:,} steps" for n in steps) + " |",
        "|---|" + "--:|" * len(steps),
    ]
    for name, points in curves.items():
        at = {c["steps"]: c for c in points}
        cells = [
            f"{at[n]['mean']:.1f} ± {at[n]['std']:.1f} [{at[n]['min']:.1f}-{at[n]['max']:.1f}] "
            f"({at[n]['train_flops']:.3g})"
            if n in at
            else "–"
            for n in steps
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def window_section(report: dict) -> list[str]:
    """How much of the scale order's gain over frame order each windowed order keeps, per checkpoint."""
    rows = report.get("window_gain") or []
    if not rows:
        return []
    lines = [
        "## Windowed scale order",
        "",
        "Raw codes per window of W frames scale by scale (`snac_hf/layout/windowed.py`; W = 1 is frame by "
        f"frame with the scales in turn, W = the whole file is {SCALE_RAW}); latency = the audio a window "
        f"spans (a generator needs it ahead). Paired by seed, as % of {FRAME_RAW}: the window against "
        f"{FRAME_RAW}, and {SCALE_RAW} against {FRAME_RAW} (negative: the scale order's gain). Kept = "
        f"({FRAME_RAW} - window) / ({FRAME_RAW} - {SCALE_RAW}) per seed, only where {SCALE_RAW} is lower in "
        "every seed (otherwise there is no gain to keep).",
        "",
        f"| tokenization | latency | steps | bits / audio-s | vs {FRAME_RAW} | {SCALE_RAW} vs {FRAME_RAW} "
        "| gain kept, mean ± sd [min-max] |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        kept = r["kept"]
        if not r["comparable"]:  # no share of anything where a model learned only code frequencies
            shown = "– (a model at the unigram level)"
        elif kept:
            shown = f"{100 * kept['mean']:.0f}% ± {100 * kept['std']:.0f} [{share_range(kept)}]"
        else:
            shown = "– (no gain to keep)"
        lines.append(
            f"| {r['tokenization']} | {r['latency_seconds']:.2f} s | {r['steps']:,} | "
            f"{r['bits_per_second']:.1f} | {_paired_pct(r['vs_frame'])} | {_paired_pct(r['scale_vs_frame'])} "
            f"| {shown} |"
        )
    return [*lines, ""]


def _paired_pct(point: dict) -> str:
    """A paired difference as % of the reference's mean, bold where the rule supports it."""
    return _bold_if_supported(paired_pct(point), point)


def _bold_if_supported(shown: str, paired: dict) -> str:
    """`shown` in bold where the verdict's rule supports the paired difference (never where a model
    stayed at the unigram level)."""
    return f"**{shown}**" if paired["supported"] and paired["comparable"] else shown


def _cell(stats: dict | None, raw_mean: float | None) -> str:
    if stats is None:
        return "–"
    versus = f" ({_pct(stats['mean'], raw_mean)})" if raw_mean else ""
    return f"{stats['mean']:.1f} ± {stats['std']:.1f} [{stats['min']:.1f}-{stats['max']:.1f}]{versus}"


def curve_section(report: dict) -> list[str]:
    """One table per setting: a row per budget, a column per variant (bits/s, then FLOPs)."""
    lines = ["## The merge curve", ""]
    budgets = sorted({m for points in report["lines"].values() for m, _ in points})
    variants = list(report["lines"])
    header = " | ".join(f"{v} ({SERIALIZATION_TITLES[SERIALIZATIONS[v]]})" for v in variants)
    for setting, verdict in report["verdict"].items():
        stats = verdict["stats"]
        costs = {r["tokenization"]: r for r in report["costs"][setting]}
        lines += [
            f"**{SETTING_TITLES.get(setting, setting)}**: held-out bits per audio-second, mean ± sd "
            "[min-max] over the curve's seeds (vs the raw codes of the same serialization, 0 merges); "
            "then training FLOPs per audio-hour.",
            "",
            f"| merges | {header} | FLOPs / audio-h: " + " | ".join(variants) + " |",
            "|--:|" + "--:|" * (2 * len(variants)),
        ]
        for merges in budgets:
            names = [dict(report["lines"][v]).get(merges) for v in variants]
            raws = [stats.get(dict(report["lines"][v])[0], {}).get("mean") for v in variants]
            cells = [_cell(stats.get(n), r if merges else None) for n, r in zip(names, raws, strict=True)]
            flops = [f"{costs[n]['flops_per_audio_hour']:.3g}" if n in costs else "–" for n in names]
            lines.append(f"| {merges:,} | " + " | ".join(cells + flops) + " |")
        lines.append("")
        if "orpheus" in stats:
            raw = stats.get(verdict["raw_of"].get("orpheus"), {}).get("mean")
            lines += [
                f"orpheus (frame order, one id per frame position and code, no merges): "
                f"{_cell(stats['orpheus'], raw)}; "
                f"{costs['orpheus']['flops_per_audio_hour']:.3g} FLOPs / audio-h.",
                "",
            ]
    return lines


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
        lines += [
            f"**{SETTING_TITLES.get(setting, setting)}**",
            "",
            "| tokenization | merges learned | tokens / audio-s | bits / audio-s, mean ± sd | min - max "
            "| vs its raw codes (paired, mean) | vs unigram | seeds |",
            "|---|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for name, st in verdict["stats"].items():
            record = next(
                r for r in report["results"] if r["setting"] == setting and r["tokenization"] == name
            )
            paired = verdict["versus_raw"].get(name)
            vs_raw = "–"
            if paired is not None:
                raw_mean = verdict["stats"][verdict["raw_of"][name]]["mean"]
                vs_raw = f"{paired['mean']:+.1f} ({100 * paired['mean'] / raw_mean:+.2f}%)"
                vs_raw = _bold_if_supported(vs_raw, paired)
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


def confirmation_section(report: dict) -> list[str]:
    """The best budget and its raw row: every seed, longer training, held-out voices."""
    found = report["confirmations"]
    if not found or not found.get("ran", True):
        return []
    lines = [
        "## At the best budget and at 0",
        "",
        f"{found['best']} (the curve's lowest mean above 0 merges) against {found['raw']}, in the first "
        "budget setting.",
        "",
        "| comparison | seeds | steps | "
        f"{found['best']}, bits / audio-s | {found['raw']}, bits / audio-s | paired difference | unigram |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    steps = report["settings"]["lm"]["steps"]
    longer = report["settings"]["longer"] * steps
    voices = report.get("voices") or {}
    rows = [
        ("every seed, hash split", found["more_seeds"], steps, report["references"]),
        # the curve's seeds alone: the base of the longer and held-out-voices rows, else the row above again
        (
            "curve's seeds, hash split",
            found["longer_base"] if found["longer"] or found["voices"] else None,
            steps,
            report["references"],
        ),
        (
            f"{report['settings']['longer']}x longer, hash split",
            found["longer"],
            longer,
            report["references"],
        ),
        ("held-out voices", found["voices"], steps, voices.get("references")),
    ]
    for title, verdict, n_steps, references in rows:
        if verdict is None:
            continue
        best, raw = verdict["stats"][found["best"]], verdict["stats"][found["raw"]]
        paired = verdict["versus_raw"][found["best"]]
        shown = _bold_if_supported(
            f"{paired['mean']:+.1f} ({100 * paired['mean'] / raw['mean']:+.2f}%)", paired
        )
        lines.append(
            f"| {title} | {best['n']} | {n_steps:,} | {best['mean']:.1f} ± {best['std']:.1f} "
            f"| {raw['mean']:.1f} ± {raw['std']:.1f} | {shown} "
            f"| {references['unigram_bits_per_second']:.1f} |"
        )
    return [*lines, ""]


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


def gpu_section(report: dict) -> list[str]:
    """What `--preset gpu` would cost on this corpus: its trainings' FLOPs from this run's rates."""
    found = report.get("gpu_estimate") or {}
    lines = ["## What `--preset gpu` would cost on this corpus", ""]
    if "error" in found:
        return [*lines, f"Not priced: {found['error']}.", ""]
    hours = ", ".join(
        f"~{found['total_flops_at_most'] / (rate * 1e12) / 3600:.1f} h at {rate} TFLOP/s"
        for rate in ASSUMED_TFLOPS
    )
    lines += [
        "Training FLOPs of every training the `gpu` preset runs, from this run's tokens per "
        "audio-second and vocabularies (`snac_hf/evidence/estimate.py`: its LM records, else its "
        "compression rows, interpolated in log(merges) between two budgets where it measured none), "
        "on one process: "
        f"{found['trainings']} curve trainings, {found['curve_flops']:.3g} FLOPs; at the best budget "
        f"and at 0 at most {found['confirmation_flops_at_most']:.3g}; in all at most "
        f"{found['total_flops_at_most']:.3g} FLOPs: {hours} sustained (assumed float32 rates, not measured).",
        "",
        "| tokenization | setting | vocab | tokens / audio-s | window | FLOPs / token | FLOPs / training |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    for r in found["rows"]:
        lines.append(
            f"| {r['tokenization']} | {r['setting']} | {r['vocab_size']:,.0f} | {r['tokens_per_second']:.1f} "
            f"| {r['window_tokens']} | {r['flops_per_token']:.3g} | {r['flops_per_training']:.3g} |"
        )
    return [*lines, ""]
