"""The console report, in the spirit of the original script's printout."""

from __future__ import annotations

from snac_hf.analysis import figures as fmt
from snac_hf.analysis.recommend import recommendation_lines

RULE = "=" * 72


def _scale_lines(scale: dict) -> list[str]:
    cover = "/".join(fmt.percent(scale["top_k_coverage"][k]) for k in ("1", "10", "100", "1000"))
    bigrams, rep = scale["bigrams"], scale["repetition"]
    ngrams = "  ".join(f"{e['n']}:{fmt.percent(e['diversity'], 1)}" for e in scale["ngrams"])
    top = ", ".join(f"{code} ({fmt.count(n)})" for code, n in scale["most_common"][:5])
    tokens, unique = fmt.count(scale["tokens"]), fmt.count(scale["unique_tokens"])
    code_range = f"{scale['min_token']}–{scale['max_token']}"
    skew = f"Gini {fmt.number(scale['gini'])} | entropy {fmt.number(scale['entropy_bits'], 2)} bits/token"
    unique_bigrams = (
        f"{fmt.count(bigrams['unique'])} unique ({fmt.percent(bigrams['diversity'], 3)} of possible)"
    )
    sparsity = fmt.number(scale["transitions"]["sparsity"], 4)
    runs = f"mean run {fmt.number(rep['mean_run_length'])} | max run {rep['max_run_length']}"
    return [
        f"Scale {scale['scale']}: {tokens} tokens, {unique} unique (range {code_range})",
        f"  {skew} | top-1/10/100/1000 coverage {cover} | Zipf slope {fmt.number(scale['zipf_slope'], 2)}",
        f"  Most common: {top}",
        f"  Bigrams: {unique_bigrams} | transition sparsity {sparsity}",
        f"  Repetition {fmt.percent(rep['repetition_rate'], 2)} | {runs}",
        f"  n-gram diversity  {ngrams}",
    ]


def _cross_scale_line(cross: dict) -> str:
    entropies = "; ".join(
        f"H(scale {c['child_scale']} | {c['parent_scale']}) = {fmt.number(c['conditional_entropy_bits'], 2)}"
        for c in cross["conditional_entropy"]
    )
    frames = f"{fmt.count(cross['frames'])} frames, {fmt.distinct(cross, 'distinct_frames')} distinct"
    return f"Cross-scale: {frames}; {entropies} bits"


def console_report(analysis: dict) -> str:
    lines = [
        RULE,
        f"Token analysis: {analysis['source']}",
        f"{fmt.count(analysis['files'])} files, {fmt.duration(analysis['duration_seconds'])} of audio, "
        f"{fmt.count(analysis['tokens'])} tokens",
    ]
    if analysis["layout_note"]:
        lines.append(f"Note: {analysis['layout_note']}")
    lines.append(RULE)
    for scale in analysis["scales"]:
        lines += _scale_lines(scale)
    lines.append(_cross_scale_line(analysis["cross_scale"]))
    lines += [RULE, "BPE recommendation", RULE, *recommendation_lines(analysis["recommendation"]), RULE]
    return "\n".join(lines)
