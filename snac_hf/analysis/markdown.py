"""The human report (analysis.md) and the short summary for the dataset card.

Both state the heuristic BPE verdict (`recommend.py`) and, once `scripts/compare_bpe.py` has
stored it in the analysis as `bpe_measured`, the compression BPE actually achieved. Both are
published with the token set, so the source is shown without its local path (`card.public_name`).
"""

from __future__ import annotations

from snac_hf.analysis import figures as fmt
from snac_hf.analysis.recommend import overall_text, recommendation_lines
from snac_hf.tokenset.card import public_name

PLOTS = {
    "rank_frequency.png": "Rank-frequency (log-log) per scale",
    "run_lengths.png": "Run-length distribution per scale",
    "ngram_diversity.png": "n-gram diversity and top-10 coverage vs n",
}

DEFINITIONS = """\
- **Token**: one code of one scale (0 = coarsest). A *file* is one row of the token set; bigrams,
  runs and n-grams never cross files.
- **Gini**: Gini coefficient of the frequencies of the codes that occur, G = 2·Σ i·x_i / (n·Σx) −
  (n+1)/n over the n frequencies sorted ascending (0 = all equally frequent; near 1 = one code
  dominates). *Gini (codebook)* counts unused codebook entries as 0.
- **Top-K coverage**: share of tokens taken by the K most frequent codes.
- **Entropy**: Shannon entropy of the code distribution, bits per token.
- **Zipf slope**: least-squares slope of log(frequency) vs log(rank) over the codes that occur.
- **Bigram diversity**: distinct bigrams / V² (V = codebook size).
- **Transition sparsity**: 1 − distinct bigrams / U², U = codes that occur in the scale.
- **Repetition rate**: share of tokens equal to the previous token of the same scale and file.
  A *run* is a maximal stretch of one repeated code; *mean run length* = tokens / runs (runs of 1
  included); *mean repeat run* averages runs of length ≥ 2.
- **n-gram diversity**: distinct n-grams / total n-grams (100% = every n-gram occurs once);
  **top-10 coverage**: occurrences of the 10 most frequent n-grams / total n-grams.
- **Frame**: one scale-0 code with the codes of finer scales covering the same time
  (codes per frame {codes_per_frame}); only complete frames count, the codes of a file's partial
  last frame are left out (`tail_codes_excluded`).
- **H(child | parent)**: conditional entropy of a scale-k code given the scale-(k−1) code above
  it, from exact joint counts; *I* = H(child) − H(child | parent) is what the parent predicts.
"""

ESTIMATES_NOTE = (
    "Some figures are estimates: distinct counts beyond the exact budget are k-minimum-values "
    "estimates (≈, relative standard error after ±); top-10 coverages beyond it are lower bounds from "
    "Misra–Gries counters (the true value is at most the '+≤' amount higher)."
)


ENTROPY_NOTE = (
    "Plug-in estimates from the joint counts: with few pairs per parent code, H(child | parent) comes "
    "out too low (and I too high); compare sets of similar size."
)


def _header(analysis: dict) -> list[str]:
    layout = analysis["layout"]
    totals = f"{fmt.count(analysis['files'])}, audio {fmt.duration(analysis['duration_seconds'])}"
    codec = f"{layout['sampling_rate']} Hz, hop {layout['hop_length']}, strides {tuple(layout['vq_strides'])}"
    lines = [
        "# Token analysis",
        "",
        f"- Source: `{public_name(analysis['source'])}`",
        f"- Files: {totals}, tokens {fmt.count(analysis['tokens'])}",
        f"- Codec layout: {codec}, codebook {layout['codebook_size']}",
    ]
    if analysis["layout_note"]:
        lines.append(f"- Note: {analysis['layout_note']}")
    return lines


def summary_table(analysis: dict) -> str:
    verdicts = {r["scale"]: r["verdict"] for r in analysis["recommendation"]["per_scale"]}
    header = [
        "scale",
        "tokens",
        "unique",
        "entropy (bits)",
        "gini",
        "sparsity",
        "bigram div.",
        "repetition",
        "BPE",
    ]
    rows = [
        [
            str(s["scale"]),
            fmt.count(s["tokens"]),
            fmt.count(s["unique_tokens"]),
            fmt.number(s["entropy_bits"], 2),
            fmt.number(s["gini"]),
            fmt.number(s["transitions"]["sparsity"]),
            fmt.percent_significant(s["bigrams"]["diversity"]),
            fmt.percent(s["repetition"]["repetition_rate"]),
            verdicts[s["scale"]],
        ]
        for s in analysis["scales"]
    ]
    return fmt.table(header, rows)


def _frequency(analysis: dict) -> list[str]:
    header = ["scale", "range", "gini (codebook)", "top-1", "top-10", "top-100", "top-1000", "Zipf slope"]
    rows, common = [], []
    for s in analysis["scales"]:
        coverage = [fmt.percent(s["top_k_coverage"][k], 2) for k in ("1", "10", "100", "1000")]
        code_range = f"{s['min_token']}–{s['max_token']}"
        rows.append(
            [
                str(s["scale"]),
                code_range,
                fmt.number(s["gini_codebook"]),
                *coverage,
                fmt.number(s["zipf_slope"], 2),
            ]
        )
        top = ", ".join(f"{code} ({fmt.count(n)})" for code, n in s["most_common"][:8])
        common.append(f"- scale {s['scale']}: {top}")
    return ["## Frequency", "", fmt.table(header, rows), "", "Most common codes (count):", "", *common]


def _bigrams(analysis: dict) -> list[str]:
    header = [
        "scale",
        "bigrams",
        "unique",
        "diversity",
        "possible (U²)",
        "sparsity",
        "most common (a, b) count",
    ]
    rows = []
    for s in analysis["scales"]:
        bigrams, transitions = s["bigrams"], s["transitions"]
        top = ", ".join(f"({a}, {b}) {fmt.count(n)}" for a, b, n in bigrams["top"][:3])
        counts = [
            fmt.count(bigrams["total"]),
            fmt.count(bigrams["unique"]),
            fmt.percent(bigrams["diversity"], 3),
        ]
        sparsity = [fmt.count(transitions["possible"]), fmt.number(transitions["sparsity"], 4)]
        rows.append([str(s["scale"]), *counts, *sparsity, top])
    return ["## Bigrams and transitions", "", fmt.table(header, rows)]


def _repetition(analysis: dict) -> list[str]:
    rows, runs = [], []
    for s in analysis["scales"]:
        rep = s["repetition"]
        means = [fmt.number(rep["mean_run_length"]), fmt.number(rep["mean_repeat_run_length"], 2)]
        rows.append(
            [str(s["scale"]), fmt.percent(rep["repetition_rate"], 2), *means, str(rep["max_run_length"])]
        )
        for run in rep["longest_runs"][:5]:
            runs.append(
                [str(s["scale"]), str(run["length"]), str(run["code"]), f"`{run['id']}`", str(run["start"])]
            )
    header = ["scale", "repetition rate", "mean run", "mean repeat run", "max run"]
    lines = ["## Repetition", "", fmt.table(header, rows)]
    if runs:
        lines += ["", "Longest runs:", "", fmt.table(["scale", "length", "code", "file", "start"], runs)]
    return lines


def _ngrams(analysis: dict) -> list[str]:
    scales = analysis["scales"]
    header = [
        "n",
        *(f"scale {s['scale']} diversity" for s in scales),
        *(f"scale {s['scale']} top-10" for s in scales),
    ]
    rows = []
    for i, first in enumerate(scales[0]["ngrams"]):
        entries = [s["ngrams"][i] for s in scales]
        diversity = [fmt.percent(e["diversity"], 2) for e in entries]
        coverage = [fmt.coverage(e["top10_coverage"], e["top10_coverage_max_error"]) for e in entries]
        rows.append([str(first["n"]), *diversity, *coverage])
    estimated = any(
        not e["distinct_exact"] or e["top10_coverage_max_error"] for s in scales for e in s["ngrams"]
    )
    note = ESTIMATES_NOTE if estimated else "All n-gram figures are exact."
    return ["## n-gram diversity", "", fmt.table(header, rows), "", note]


def _cross_scale(analysis: dict) -> list[str]:
    cross = analysis["cross_scale"]
    coverage = fmt.coverage(cross["top10_frame_coverage"], cross["top10_coverage_max_error"])
    distinct = (
        f"{fmt.distinct(cross, 'distinct_frames')} ({fmt.percent(cross['frame_diversity'], 2)} of frames)"
    )
    lines = [
        "## Cross-scale",
        "",
        f"- Frames of {sum(cross['codes_per_frame'])} codes: {fmt.count(cross['frames'])}",
        f"- Distinct frame tuples: {distinct}; top-10 frame coverage {coverage}",
        f"- Codes left out as partial last frames, per scale: {cross['tail_codes_excluded']}",
    ]
    rows = [
        [
            f"{c['child_scale']} given {c['parent_scale']}",
            fmt.number(c["child_entropy_bits"]),
            fmt.number(c["conditional_entropy_bits"]),
            fmt.number(c["mutual_information_bits"]),
            fmt.number(c["pairs_per_parent"], 1),
        ]
        for c in cross["conditional_entropy"]
    ]
    if rows:
        header = ["child scale", "H(child)", "H(child | parent)", "I (bits)", "pairs per parent"]
        lines += ["", fmt.table(header, rows), "", ENTROPY_NOTE]
    return lines


def _method(analysis: dict) -> list[str]:
    config = analysis["config"]
    distinct, heavy = fmt.count(config["distinct_budget"]), fmt.count(config["heavy_budget"])
    return [
        "## Method",
        "",
        "Counts are exact except where marked. Distinct n-grams (n ≥ 3) and frame tuples are counted exactly "
        f"up to {distinct} per scale and n, then estimated by k-minimum-values (k = {distinct}). "
        f"Top-10 coverage for n ≥ 3 and frames is exact up to {heavy} distinct keys, then a lower bound "
        "from Misra–Gries counters after a per-batch hash pre-filter, with its error bound.",
    ]


NOT_MEASURED = "not measured yet (`scripts/compare_bpe.py` measures it)"
COMPRESSION_WORDS = {
    "yes": "compresses (at least 1.05 codes per token)",
    "barely": "barely compresses (1 to 1.05 codes per token: under 5% fewer tokens than codes)",
    "no": "does not compress (at most 1 code per token)",
}


def measured_text(measured: dict) -> str:
    """The best held-out compression `scripts/compare_bpe.py` measured (`bpe_measured`), one clause."""
    files, seconds = measured["held_out_files"], measured.get("held_out_seconds")
    where = f"{files} held-out file{'s' if files != 1 else ''}"
    where += f", {seconds:.1f} s" if seconds is not None else ""
    best = f"{measured['codes_per_token']:.3f} codes per token at best ({measured['variant']}, "
    best += f"{measured['num_merges']} merges asked, {measured['merges_learned']} learned; {where})"
    return f"{best}: BPE {COMPRESSION_WORDS[measured['compression']]}"


def _recommendation(analysis: dict) -> list[str]:
    lines = ["## BPE recommendation", "", "```", *recommendation_lines(analysis["recommendation"]), "```"]
    if analysis.get("bpe_measured"):
        lines += ["", f"**Measured** (scripts/compare_bpe.py): {measured_text(analysis['bpe_measured'])}."]
    else:
        lines += ["", f"Measured compression: {NOT_MEASURED}."]
    return lines


def report(analysis: dict, plots: list[str]) -> str:
    """The full analysis.md; `plots` are the PNG file names written next to it."""
    codes_per_frame = tuple(analysis["cross_scale"]["codes_per_frame"])
    lines = _header(analysis)
    lines += ["", "## Summary", "", summary_table(analysis)]
    lines += ["", *_recommendation(analysis)]
    for section in (_frequency, _bigrams, _repetition, _ngrams, _cross_scale):
        lines += ["", *section(analysis)]
    if plots:
        lines += ["", "## Plots", "", *(f"![{PLOTS[name]}]({name})" for name in plots)]
    lines += ["", "## Definitions", "", DEFINITIONS.format(codes_per_frame=codes_per_frame).rstrip()]
    lines += ["", *_method(analysis)]
    return "\n".join(lines) + "\n"


def card_section(analysis: dict, report_link: str | None = "analysis.md") -> str:
    """The short summary written into the dataset card's `analysis` section: the per-scale table,
    the heuristic verdict, the measured compression (or that it is not measured yet), and, when the
    reports sit next to the card (`report_link`), a link to them and the plots `analysis["plots"]`
    names (set by `plots.write_plots`)."""
    cross = analysis["cross_scale"]
    frames = f"{fmt.count(cross['frames'])} frames, {fmt.distinct(cross, 'distinct_frames')} distinct"
    measured = analysis.get("bpe_measured")
    lines = [
        "## Token statistics",
        "",
        summary_table(analysis),
        "",
        f"BPE verdict from these statistics: **{overall_text(analysis['recommendation'])}**.",
        f"Measured BPE compression: {measured_text(measured) if measured else NOT_MEASURED}.",
        f"Cross-scale: {frames}.",
    ]
    if report_link:
        lines.append(f"Full report: [{report_link}]({report_link}); every figure in `analysis.json`.")
        plots = [name for name in analysis.get("plots", []) if name in PLOTS]
        lines += ["", *(f"![{PLOTS[name]}]({name})" for name in plots)] if plots else []
    return "\n".join(lines)
