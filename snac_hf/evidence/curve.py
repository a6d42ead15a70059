"""The merge curve's verdict: per variant, the budget with the lowest bits per audio-second, and
whether it beats that variant's raw codes. No torch.

Input: a setting's verdict (`verdict.judge`, with every tokenization judged against its own raw
row, `plan.raw_of`) and the curves (`plan.curve_lines`). For each variant the **best budget** is
the budget above 0 with the lowest mean bits/s over its seeds (when it is supported worse than
raw, the variant's curve is lowest at 0 merges); it **beats raw** when its paired
difference to the raw row of its serialization is supported by the rule of `verdict` (every seed
the same sign, |mean| > 2 standard errors, and neither of the two models at the unigram level).
The run's **best** (`overall_best`) is the best budget of the variant whose best is lowest; the
five-seed, longer-training and held-out-voices comparisons are made at it and at its raw row.
"""

from __future__ import annotations

from snac_hf.evidence.plan import ORPHEUS, SERIALIZATION_TITLES, SERIALIZATIONS


def best_budgets(verdict: dict, lines: dict[str, list[tuple[int, str]]]) -> dict[str, tuple[int, str]]:
    """Per variant with a point above 0 that was trained: (merges, tokenization) of its lowest mean."""
    stats = verdict["stats"]
    best = {}
    for variant, points in lines.items():
        trained = [(m, name) for m, name in points if m > 0 and name in stats]
        if trained:
            best[variant] = min(trained, key=lambda point: stats[point[1]]["mean"])
    return best


def overall_best(verdict: dict, lines: dict[str, list[tuple[int, str]]]) -> str | None:
    """The tokenization with the lowest mean among every variant's best budget (None: no budget > 0)."""
    best = [name for _, name in best_budgets(verdict, lines).values()]
    return min(best, key=lambda name: verdict["stats"][name]["mean"]) if best else None


def comparison(verdict: dict, name: str) -> str:
    """`name` against its raw row in words: better / worse (supported) or not distinguishable; the
    percentage is always against that raw row."""
    paired = verdict["versus_raw"][name]
    raw = verdict["raw_of"][name]
    pct = 100 * paired["mean"] / verdict["stats"][raw]["mean"]
    if not paired["comparable"]:
        return f"{pct:+.1f}% against {raw}, not comparable: a model stayed within 5% of its unigram level"
    if paired["supported"]:
        side = "lower" if paired["mean"] < 0 else "higher (worse)"
        return f"{side} than {raw} in every seed, beyond 2 standard errors ({pct:+.1f}%)"
    return f"not distinguishable from {raw} at these seeds ({pct:+.1f}%)"


def orpheus_sentence(verdict: dict) -> str:
    """orpheus in plain words: its difference to the raw codes in frame order, and to its own
    unigram level (the position-specific one when the verdict has it, else the raw codes')."""
    st = verdict["stats"][ORPHEUS]
    own = verdict.get("unigram_of", {}).get(ORPHEUS)
    level = own if own is not None else verdict["unigram_bits_per_second"]
    which = "its own (position-specific) unigram level" if own is not None else "the raw codes' unigram level"
    return (
        f"orpheus (frame order, one id per frame position and code): {st['mean']:.1f} bits/s, "
        f"{comparison(verdict, ORPHEUS)}; {100 * (st['mean'] / level - 1):+.1f}% against {which} "
        f"({level:.1f} bits/s)."
    )


def _worse_than_raw(verdict: dict, name: str) -> bool:
    paired = verdict["versus_raw"][name]
    return paired["comparable"] and paired["supported"] and paired["mean"] > 0


def curve_sentences(verdict: dict, lines: dict[str, list[tuple[int, str]]]) -> list[str]:
    """The curve of one setting in words: each variant's best budget and how it stands to raw."""
    out = []
    best_of = best_budgets(verdict, lines)
    for variant, (merges, name) in best_of.items():
        st = verdict["stats"][name]
        title = SERIALIZATION_TITLES[SERIALIZATIONS[variant]]
        out.append(
            f"{variant} ({title}): lowest mean above 0 merges at {merges:,} ({st['mean']:.1f} bits/s, "
            f"{st['n']} seeds), {comparison(verdict, name)}."
        )
    at_zero = [v for v, (_, name) in best_of.items() if _worse_than_raw(verdict, name)]
    if at_zero:
        out.append(
            f"The curve of {', '.join(at_zero)} is lowest at 0 merges (its raw codes): there, every budget "
            "tried made the LM worse."
        )
    if ORPHEUS in verdict["versus_raw"]:
        out.append(orpheus_sentence(verdict))
    best = overall_best(verdict, lines)
    if best is not None:
        out.append(f"Best budget above 0 of the run: {best}, against {verdict['raw_of'][best]}.")
    return out
