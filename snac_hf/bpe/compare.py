"""Train every BPE variant at the same merge budgets and measure them on held-out files.

    python scripts/compare_bpe.py --tokens TOKEN_SET --num_merges 0 1000 4000 16000 --holdout 0.2 \\
        --output_dir bpe_comparison/

The token set is split by file id (a salted hash, so the split is the same everywhere); every
(variant, budget) is trained on the train part (subsampled to `max_train_chars` if larger; the
report says so) and evaluated on the held-out part:

    codes/token        held-out codes / held-out tokens (no special tokens): the compression
    tokens/audio-s     held-out tokens / held-out audio seconds (the `duration` column)
    vocab used         distinct ids in the held-out encodings, of the vocabulary size
    train s            wall time of `train_tokenizer` (reading, serializing, BPE, saving)
    encode codes/s     held-out codes / time of `encode_batch` (validation, serialization, BPE)
    round trip         every held-out file decodes to exactly its codes

A variant "compresses" when it needs at least 5% fewer tokens than codes (codes/token >= 1.05);
between 1 and 1.05 the table says "barely", at 1 (or below) "no". The folder gets
`comparison.md`, `comparison.json`, `comparison.png` and the tokenizers (`tokenizers/VARIANT-MERGES`).
Nothing else is written: the token set read is never changed, unless `annotate=True` (the CLI's
`--annotate_tokens`) asks for the measured compression next to its heuristic verdict
(`record_measured`, a token-set folder with an `analysis.md` from the analysis step): when
`analysis.json` is the current analysis schema it gets `bpe_measured` and the verdict lines of
analysis.md and of the dataset card are rewritten to state the measurement (once); otherwise
analysis.md's `bpe_measured` section gets the one line. A new analysis run rewrites the verdict
lines without the measurement.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from datasets import Dataset

from snac_hf.analysis.markdown import card_section
from snac_hf.analysis.markdown import report as analysis_report
from snac_hf.analysis.summary import SCHEMA_VERSION
from snac_hf.bpe.corpus import (
    DEFAULT_HOLDOUT,
    DEFAULT_MAX_TRAIN_CHARS,
    file_code_counts,
    iter_batches,
    open_source,
    resolve_layout,
    split_by_id,
    subsample,
)
from snac_hf.bpe.tokenizer import AudioTokenizer, load_tokenizer
from snac_hf.bpe.training import train_tokenizer
from snac_hf.bpe.variants import VARIANTS
from snac_hf.layout import CodecLayout
from snac_hf.tokenset.sections import write_section

logger = logging.getLogger(__name__)

DEFAULT_BUDGETS = (0, 1000, 4000, 16000)
#: Codes per token from which a variant counts as compressing (5% fewer tokens than codes).
COMPRESSES_FROM = 1.05
MEASURED_SECTION = "bpe_measured"


def evaluate(tokenizer: AudioTokenizer, held_out: Dataset, batch_size: int = 256) -> dict:
    """Compression, speed, vocabulary use and exactness of `tokenizer` on `held_out`."""
    n_scales = tokenizer.layout.n_scales
    used = np.zeros(tokenizer.vocab_size, dtype=bool)
    codes = tokens = files = exact = 0
    encode_seconds = 0.0
    for ids, batch in iter_batches(held_out, n_scales, batch_size):
        started = time.perf_counter()
        encoded = tokenizer.encode_batch(batch, names=[f"file {i!r}" for i in ids])
        encode_seconds += time.perf_counter() - started
        decoded = tokenizer.decode_batch(encoded)
        for original, ids_of_file, restored in zip(batch, encoded, decoded, strict=True):
            codes += sum(len(c) for c in original)
            tokens += len(ids_of_file)
            used[ids_of_file] = True
            exact += all(np.array_equal(a, b) for a, b in zip(original, restored, strict=True))
            files += 1
    return {
        "codes": codes,
        "tokens": tokens,
        "codes_per_token": codes / tokens if tokens else None,
        "vocab_used": int(used.sum()),
        "encode_codes_per_second": codes / encode_seconds if encode_seconds else None,
        "files": files,
        "files_exact": exact,
        "round_trip_exact": exact == files,
    }


def compare(
    source: str | os.PathLike | Dataset,
    output_dir: str | os.PathLike,
    variants: Sequence[str] | None = None,
    num_merges: Sequence[int] = DEFAULT_BUDGETS,
    holdout: float = DEFAULT_HOLDOUT,
    *,
    min_frequency: int | None = None,
    max_train_chars: int | None = DEFAULT_MAX_TRAIN_CHARS,
    max_run: int | None = None,
    span_frames: bool | None = None,
    layout: CodecLayout | str | None = None,
    batch_size: int = 256,
    split: str = "train",
    annotate: bool = False,
) -> dict:
    """Run the comparison on split `split` of `source`; write comparison.md/.json/.png to `output_dir`;
    return the JSON dict. `annotate`: also state the measurement in the token set's own analysis.md,
    analysis.json and card (module docstring); without it the token set is only read.

    `min_frequency` is the threshold of `thresholded` (the other variants keep 2); `max_run` and
    `span_frames` go to the variants they apply to.
    """
    variants = list(variants or VARIANTS)
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    dataset, folder = open_source(source, split)
    layout = resolve_layout(dataset, folder, layout)
    train, held_out = split_by_id(dataset, holdout)
    if len(held_out) == 0 or len(train) == 0:
        raise ValueError(
            f"holdout {holdout} of {len(dataset)} files leaves {len(train)} to train and {len(held_out)} to "
            "evaluate; both must be non-empty (use more files or another --holdout)"
        )
    train, corpus_summary = subsample(train, layout.n_scales, max_train_chars)
    held_out_seconds = float(np.sum(held_out["duration"])) if "duration" in held_out.column_names else None
    held_out_codes = int(file_code_counts(held_out, layout.n_scales).sum())
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    logger.info(
        "comparing %s at %s merges: train %s; held-out %d files, %d codes",
        ", ".join(variants),
        ", ".join(map(str, num_merges)),
        corpus_summary.describe(),
        len(held_out),
        held_out_codes,
    )

    results = []
    for variant in variants:
        options = {}
        if VARIANTS[variant].uses_runs and max_run is not None:
            options["max_run"] = max_run
        if VARIANTS[variant].frame_based and span_frames is not None:
            options["span_frames"] = span_frames
        for budget in num_merges:
            started = time.perf_counter()
            folder_of_tokenizer = train_tokenizer(
                train,
                variant=variant,
                num_merges=budget,
                min_frequency=min_frequency if variant == "thresholded" else None,
                output_dir=output_dir / "tokenizers" / f"{variant}-{budget}",
                max_train_chars=None,  # already subsampled above, the same files for every variant
                layout=layout,
                batch_size=batch_size,
                **options,
            )
            train_seconds = time.perf_counter() - started
            tokenizer = load_tokenizer(folder_of_tokenizer)
            measured = evaluate(tokenizer, held_out, batch_size)
            row = {
                "variant": variant,
                "options": tokenizer.serializer.options(),
                "num_merges": budget,
                "merges_learned": tokenizer.num_merges,
                "vocab_size": tokenizer.vocab_size,
                "train_seconds": train_seconds,
                **measured,
                "tokens_per_second": measured["tokens"] / held_out_seconds if held_out_seconds else None,
                "vocab_used_fraction": measured["vocab_used"] / tokenizer.vocab_size,
                "compression": compression_verdict(measured["codes_per_token"]),
                "compresses": compression_verdict(measured["codes_per_token"]) == "yes",
                "tokenizer": str(folder_of_tokenizer),
            }
            logger.info(
                "%s %d merges: %.3f codes/token, %.0f codes/s encode, train %.1f s, exact %s",
                variant,
                budget,
                row["codes_per_token"] or float("nan"),
                row["encode_codes_per_second"] or float("nan"),
                train_seconds,
                row["round_trip_exact"],
            )
            results.append(row)

    report = {
        "source": str(source) if not isinstance(source, Dataset) else "<Dataset>",
        "layout": layout.to_dict(),
        "holdout": holdout,
        "split": {
            "train_files": corpus_summary.files_total,
            "held_out_files": len(held_out),
            "held_out_codes": held_out_codes,
            "held_out_seconds": held_out_seconds,
            "raw_codes_per_second": held_out_codes / held_out_seconds if held_out_seconds else None,
        },
        "training_corpus": corpus_summary.to_dict(),
        "results": results,
    }
    (output_dir / "comparison.json").write_text(json.dumps(report, indent=2) + "\n")
    (output_dir / "comparison.md").write_text(markdown_report(report, corpus_summary.describe()))
    plot_comparison(report, output_dir / "comparison.png")
    if annotate and folder is not None and (folder / "analysis.md").is_file():
        record_measured(report, folder)
        logger.info("added the measured compression to %s", folder / "analysis.md")
    return report


def measured_summary(report: dict) -> dict | None:
    """The `bpe_measured` entry of analysis.json: the best held-out result (None without one)."""
    best = best_result(report)
    if best is None:
        return None
    keys = ("variant", "num_merges", "merges_learned", "codes_per_token", "compression")
    return {
        **{key: best[key] for key in keys},
        "held_out_files": report["split"]["held_out_files"],
        "held_out_seconds": report["split"]["held_out_seconds"],
        "compresses_from": COMPRESSES_FROM,
    }


def record_measured(report: dict, folder: Path) -> None:
    """Put the measured compression next to the heuristic verdict of the token set in `folder`.

    When analysis.json holds the current analysis schema, its `bpe_measured` is set to
    `measured_summary`, and the `analysis` sections of analysis.md and of the card (README.md, when
    present) are rewritten from it, which state the measurement (an older run's `bpe_measured`
    section is emptied: the line once, not twice). Otherwise analysis.md's `bpe_measured` section
    is set to `measured_line`."""
    try:
        analysis = json.loads((folder / "analysis.json").read_text())
    except (OSError, ValueError):
        analysis = None
    if not isinstance(analysis, dict) or analysis.get("schema_version") != SCHEMA_VERSION:
        write_section(folder / "analysis.md", MEASURED_SECTION, measured_line(report, folder))
        return
    if f"snac_hf:{MEASURED_SECTION}:start" in (folder / "analysis.md").read_text():
        write_section(folder / "analysis.md", MEASURED_SECTION, "")
    analysis["bpe_measured"] = measured_summary(report)
    (folder / "analysis.json").write_text(json.dumps(analysis, indent=1, ensure_ascii=False) + "\n")
    write_section(folder / "analysis.md", "analysis", analysis_report(analysis, analysis.get("plots", [])))
    if (folder / "README.md").is_file():
        write_section(folder / "README.md", "analysis", card_section(analysis))


def compression_verdict(codes_per_token: float | None) -> str:
    """Say "yes" from COMPRESSES_FROM codes per token, "barely" above 1, else "no"."""
    if codes_per_token is None or codes_per_token <= 1.0:
        return "no"
    return "yes" if codes_per_token >= COMPRESSES_FROM else "barely"


def _number(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def markdown_report(report: dict, corpus_description: str) -> str:
    split = report["split"]
    layout = report["layout"]
    lines = [
        "# BPE variants compared",
        "",
        f"Token set `{report['source']}`: {layout['n_scales']} scales, "
        f"strides {tuple(layout['vq_strides'])}, {layout['sampling_rate']} Hz. "
        f"Split by file id: {split['train_files']} train files, "
        f"{split['held_out_files']} held-out files ({split['held_out_codes']:,} codes, "
        f"{_number(split['held_out_seconds'], 1)} s; raw {_number(split['raw_codes_per_second'], 1)} codes "
        "per audio-second).",
        "",
        f"Training corpus: {corpus_description}.",
        "",
        "| variant | merges (learned) | vocab | codes/token | tokens/audio-s | vocab used | train s "
        "| encode codes/s | round trip | compresses |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        options = ", ".join(f"{k}={v}" for k, v in r["options"].items())
        name = f"{r['variant']} ({options})" if options else r["variant"]
        round_trip = "exact" if r["round_trip_exact"] else f"**{r['files_exact']}/{r['files']} exact**"
        lines.append(
            f"| {name} | {r['num_merges']} ({r['merges_learned']}) | {r['vocab_size']:,} "
            f"| {_number(r['codes_per_token'], 3)} | {_number(r['tokens_per_second'], 1)} "
            f"| {r['vocab_used']:,} ({100 * r['vocab_used_fraction']:.1f}%) | {r['train_seconds']:.1f} "
            f"| {_number(r['encode_codes_per_second'], 0)} "
            f"| {round_trip} "
            f"| {r['compression'] if r['compression'] != 'no' else '**no**'} |"
        )
    not_compressing = sorted(
        {r["variant"] for r in report["results"] if r["compression"] == "no" and r["num_merges"]}
    )
    lines += ["", summary_sentence(report)]
    if not_compressing:
        lines.append(
            f"With merges, no compression at all (codes/token <= 1) for: {', '.join(not_compressing)}."
        )
    lines += [
        "",
        "codes/token = held-out codes / held-out tokens without special tokens; merges (learned) can be "
        "fewer than asked when `min_frequency` stops training; encode codes/s includes validation and "
        "serialization and is one timing per row: on a small held-out set it varies from run to run "
        "(compare rows of equal tokenizers), so it is not plotted.",
        "",
    ]
    return "\n".join(lines)


def best_result(report: dict) -> dict | None:
    scored = [r for r in report["results"] if r["codes_per_token"]]
    return max(scored, key=lambda r: r["codes_per_token"]) if scored else None


def summary_sentence(report: dict) -> str:
    best = best_result(report)
    if best is None:
        return "No held-out tokens were produced."
    plain = [
        r
        for r in report["results"]
        if r["variant"] == "plain" and r["num_merges"] == best["num_merges"] and r["codes_per_token"]
    ]
    text = f"Best: {best['variant']} with {best['num_merges']} merges"
    text += f", {best['codes_per_token']:.3f} codes per token"
    if best["tokens_per_second"]:
        text += f" ({best['tokens_per_second']:.1f} tokens per audio-second)"
    if plain and best["variant"] != "plain":
        text += f"; plain BPE with the same budget: {plain[0]['codes_per_token']:.3f}"
    if best["compression"] != "yes":
        text += f". No variant compresses this token set by {100 * (COMPRESSES_FROM - 1):.0f}% or more"
    return text + "."


def heuristic_verdict(folder: Path) -> str | None:
    """The analysis step's BPE verdict from analysis.json, searched for defensively."""
    path = folder / "analysis.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None

    def find(node: object, depth: int = 0) -> str | None:
        if depth > 6:
            return None
        if isinstance(node, dict):
            for key, value in node.items():
                if any(word in str(key).lower() for word in ("verdict", "recommendation")):
                    if isinstance(value, str):
                        return value
                    if isinstance(value, list) and all(isinstance(v, str) for v in value):
                        return "; ".join(value)
                    if isinstance(value, dict):
                        for inner in ("verdict", "label", "summary", "text", "recommendation"):
                            if isinstance(value.get(inner), str):
                                return value[inner]
            for value in node.values():
                if (found := find(value, depth + 1)) is not None:
                    return found
        elif isinstance(node, list):
            for value in node:
                if (found := find(value, depth + 1)) is not None:
                    return found
        return None

    return find(data)


def _files(n: int) -> str:
    return f"{n} held-out file{'s' if n != 1 else ''}"


def measured_line(report: dict, folder: Path) -> str:
    verdict = heuristic_verdict(folder)
    verdict_text = (
        f"heuristic verdict: {verdict}" if verdict else "no heuristic verdict found in analysis.json"
    )
    return (
        f"**Measured** (scripts/compare_bpe.py, {_files(report['split']['held_out_files'])}): "
        f"{summary_sentence(report)} The original {verdict_text}."
    )


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINE_STYLES = ("-", "--", ":", "-.")


def _by_variant(results: list[dict]) -> dict[str, list[dict]]:
    """The results of each variant (in report order), sorted by merges asked."""
    variants = dict.fromkeys(r["variant"] for r in results)
    return {
        v: sorted((r for r in results if r["variant"] == v), key=lambda r: r["num_merges"]) for v in variants
    }


def equal_series(series: dict[str, list[dict]]) -> dict[str, str]:
    """variant -> the first earlier variant with the same codes/token at every budget (if any)."""
    values = {v: [(r["num_merges"], r["codes_per_token"]) for r in rows] for v, rows in series.items()}
    names, same = list(values), {}
    for i, variant in enumerate(names):
        match = next((other for other in names[:i] if values[other] == values[variant]), None)
        if match is not None:
            same[variant] = match
    return same


def plot_comparison(report: dict, path: Path) -> None:
    """Write `comparison_figure(report)` to `path` (comparison.png)."""
    comparison_figure(report).savefig(path, dpi=120)


def comparison_figure(report: dict):
    """The matplotlib Figure of comparison.png: held-out codes per token (left) and merges learned
    (right) per merges asked.

    Budgets sit at equal spacing, labelled with their values. Every variant has its own marker and
    line style and a small sideways offset, so variants with equal values stay visible side by
    side; a variant whose codes/token equal an earlier one's at every budget says so in the legend
    ("= plain"). The left panel marks 1 code per token (no compression) and COMPRESSES_FROM. Encode
    speed is not plotted: one timing per point on a small held-out set is noise."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    series = _by_variant(report["results"])
    budgets = sorted({r["num_merges"] for r in report["results"]})
    same, width = equal_series(series), 0.8 / max(1, len(series))
    step = min(0.05, 0.3 / max(1, len(series)))  # the sideways offset of the lines, in budget slots
    figure = Figure(figsize=(12, 5.4))
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    for i, (variant, rows) in enumerate(series.items()):
        slots = [budgets.index(r["num_merges"]) for r in rows]
        centre = i - (len(series) - 1) / 2
        label = variant + (f" (= {same[variant]})" if variant in same else "")
        style = {"marker": MARKERS[i % len(MARKERS)], "linestyle": LINE_STYLES[i % len(LINE_STYLES)]}
        style["color"] = f"C{i % 10}"
        xs = [slot + centre * step for slot in slots]
        left.plot(xs, [r["codes_per_token"] or float("nan") for r in rows], label=label, **style)
        learned = [r["merges_learned"] for r in rows]
        hatch = ("", "//", "..", "xx", "\\\\", "--")[i % 6]
        xs = [slot + centre * width for slot in slots]
        bars = right.bar(xs, learned, width, label=variant, hatch=hatch, color=style["color"], alpha=0.8)
        right.bar_label(bars, fontsize=6, padding=1)
    _style_compression_axis(left, report, budgets)
    right.set(
        xlabel="merges asked", ylabel="merges learned", title="Merges learned (training may stop early)"
    )
    right.set_xticks(range(len(budgets)), [f"{b:,}" for b in budgets])
    right.grid(axis="y", alpha=0.3)
    split = report["split"]
    figure.suptitle(
        f"BPE variants on {_files(split['held_out_files'])} ({split['held_out_codes']:,} codes"
        + (f", {split['held_out_seconds']:.1f} s" if split["held_out_seconds"] else "")
        + ")"
    )
    handles, labels = left.get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.1, 1, 1))
    return figure


def _style_compression_axis(axes, report: dict, budgets: list[int]) -> None:
    """Labelled budgets, the 1.0 and COMPRESSES_FROM lines, a range that always shows both."""
    values = [r["codes_per_token"] for r in report["results"] if r["codes_per_token"]]
    axes.axhline(1.0, color="gray", linestyle="--", linewidth=1, label="1 code per token: no compression")
    axes.axhline(
        COMPRESSES_FROM,
        color="green",
        linestyle=":",
        linewidth=1,
        label=f"{COMPRESSES_FROM}: compresses from here",
    )
    low, high = min([1.0, *values]), max([COMPRESSES_FROM, *values])
    margin = 0.1 * (high - low)
    axes.set_ylim(low - margin, high + margin)
    axes.set_xticks(range(len(budgets)), [f"{b:,}" for b in budgets])
    axes.set(xlabel="merges asked", ylabel="held-out codes per token", title="Compression (higher is better)")
    axes.grid(alpha=0.3)
