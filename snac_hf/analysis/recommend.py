"""The BPE recommendation: the original script's rules, per scale, with an overall verdict.

Rules (thresholds are the original's; the repetition threshold is ours, the original gave none):

* frequency skew, Gini: > 0.8 high (good), 0.6 - 0.8 moderate, < 0.6 low (poor);
* transition sparsity: > 0.95 very sparse (good), 0.8 - 0.95 moderate, < 0.8 dense (poor);
* bigram diversity: < 10 % of the V^2 possible bigrams means strong patterns (good), else poor;
* repetition rate: > 10 % of codes repeating the previous one is high (good), else low (poor).

Each check scores good = 1, moderate = 0.5, poor = 0. **Only informative checks count**: a scale
with fewer bigrams B than possible transitions U^2 (U = codes that occur) has sparsity >= 1 - B/U^2
and bigram diversity <= B/V^2 whatever its codes (`sample_size_caveats`), so there those two
checks are shown but not counted; Gini and repetition always count. A scale whose score reaches
3/4 of its counted checks is a good BPE candidate, one at or below 3/8 of them a poor one, anything
between mixed. The overall verdict applies the same cut to the mean, over scales, of score /
counted checks. The verdict is a heuristic: `scripts/compare_bpe.py` measures the compression
(the reports show the measurement next to the verdict once it exists). The lines are printed in
the original form::

    ✓ High frequency skew (gini=0.850)
    → BPE merging could be very effective
"""

from __future__ import annotations

GOOD, MODERATE, POOR = "good", "moderate", "poor"
MARK = {GOOD: "✓", MODERATE: "~", POOR: "✗"}
#: The mark of a check that is shown but not counted (too few bigrams): neither good nor poor.
NOT_COUNTED = "·"
SCORE = {GOOD: 1.0, MODERATE: 0.5, POOR: 0.0}

# criterion -> [(status, lowest value for it (None: any), headline, advice)], first match wins;
# bigram diversity is the one where *lower* is better, so its bounds are upper bounds.
RULES = {
    "gini": [
        (GOOD, 0.8, "High frequency skew (gini={v:.3f})", "BPE merging could be very effective"),
        (MODERATE, 0.6, "Moderate frequency skew (gini={v:.3f})", "BPE merging could help"),
        (POOR, None, "Low frequency skew (gini={v:.3f})", "BPE merging may not help much"),
    ],
    "sparsity": [
        (GOOD, 0.95, "Very sparse transitions (sparsity={v:.3f})", "Good candidate for bigram merging"),
        (MODERATE, 0.8, "Moderately sparse transitions (sparsity={v:.3f})", "Some BPE benefit"),
        (POOR, None, "Dense transitions (sparsity={v:.3f})", "Bigram merging may not help"),
    ],
    "bigram_diversity": [
        (
            GOOD,
            0.10,
            "Low bigram diversity ({pct:.2f}% of possible bigrams)",
            "Strong adjacent-token patterns",
        ),
        (
            POOR,
            None,
            "High bigram diversity ({pct:.2f}% of possible bigrams)",
            "Weak adjacent-token patterns",
        ),
    ],
    "repetition_rate": [
        (GOOD, 0.10, "High repetition rate ({pct:.1f}%)", "Many repeated patterns"),
        (POOR, None, "Low repetition rate ({pct:.1f}%)", "Few repeated patterns"),
    ],
}


def _passes(criterion: str, status: str, value: float, bound: float | None) -> bool:
    """Good needs strictly beyond the bound (> 0.8, < 10%); moderate includes it (0.6 - 0.8)."""
    if bound is None:
        return True
    if criterion == "bigram_diversity":
        return value < bound
    return value > bound if status == GOOD else value >= bound


def judge(criterion: str, value: float) -> dict:
    """One check: its status and the two lines the original script printed."""
    for status, bound, headline, advice in RULES[criterion]:
        if _passes(criterion, status, value, bound):
            text = headline.format(v=value, pct=100 * value)
            return {
                "criterion": criterion,
                "status": status,
                "value": value,
                "lines": [f"{MARK[status]} {text}", f"→ {advice}"],
            }
    raise AssertionError("the last rule of every criterion matches")


def verdict(score: float, checks: int = 4) -> str:
    """Good from 3/4 of the `checks` counted, poor at or below 3/8 of them, else mixed."""
    if score >= 0.75 * checks:
        return "good BPE candidate"
    if score <= 0.375 * checks:
        return "poor BPE candidate"
    return "mixed: BPE may help somewhat"


#: The criteria a small sample cannot inform (see `informative`).
SAMPLE_SIZE_BOUND = ("sparsity", "bigram_diversity")


def too_few_bigrams(scale: dict) -> bool:
    """True when the scale has fewer bigrams than possible transitions U^2 (and U > 0)."""
    possible = scale["transitions"]["possible"]
    return bool(possible) and scale["bigrams"]["total"] < possible


def informative(criterion: str, scale: dict) -> bool:
    """Whether `criterion` counts in the score: sparsity and bigram diversity only with at least as
    many bigrams as possible transitions; Gini and repetition always."""
    return criterion not in SAMPLE_SIZE_BOUND or not too_few_bigrams(scale)


def recommend_scale(scale: dict) -> dict:
    """Checks and verdict for one scale entry of the analysis.

    Every check is listed with `counted` (see `informative`); `score` sums the counted checks and
    `counted` says how many there are, so the verdict is `verdict(score, counted)`."""
    if not scale["tokens"]:
        return {
            "scale": scale["scale"],
            "checks": [],
            "score": None,
            "counted": 0,
            "verdict": "no tokens",
            "caveats": [],
        }
    values = {
        "gini": scale["gini"],
        "sparsity": scale["transitions"]["sparsity"],
        "bigram_diversity": scale["bigrams"]["diversity"],
        "repetition_rate": scale["repetition"]["repetition_rate"],
    }
    checks = [
        _counted(judge(criterion, value), informative(criterion, scale))
        for criterion, value in values.items()
    ]
    counted = [c for c in checks if c["counted"]]
    score = sum(SCORE[c["status"]] for c in counted)
    return {
        "scale": scale["scale"],
        "checks": checks,
        "score": score,
        "counted": len(counted),
        "verdict": verdict(score, len(counted)),
        "caveats": sample_size_caveats(scale),
    }


def _counted(check: dict, counted: bool) -> dict:
    """`check` with `counted`; one that is not counted loses its ✓/✗ (a tick beside a figure that
    says nothing about the codes read as support) for the neutral mark."""
    if not counted:
        first, *rest = check["lines"]
        check = {**check, "lines": [f"{NOT_COUNTED} {first.split(' ', 1)[1]}", *rest]}
    return {**check, "counted": counted}


def sample_size_caveats(scale: dict) -> list[str]:
    """Warnings where the sample is too small for a rule to say anything about the codes.

    With B bigrams among U occurring codes, at most B of the U^2 transitions can occur, so the
    sparsity is at least 1 - B / U^2 and the bigram diversity at most B / V^2 whatever the
    structure: a small set always looks sparse. Those two checks are then not counted."""
    if not too_few_bigrams(scale):
        return []
    bigrams, possible = scale["bigrams"]["total"], scale["transitions"]["possible"]
    floor, ceiling = 1 - bigrams / possible, bigrams / scale["bigrams"]["possible"]
    return [
        f"! Only {bigrams:,} bigrams for {possible:,} possible transitions: at this size the sparsity "
        f"cannot be below {floor:.3f} nor the bigram diversity above {100 * ceiling:.3g}%, so they say "
        "little and are not counted in the score"
    ]


def recommend(scales: list[dict]) -> dict:
    """Per-scale recommendations and the overall verdict.

    `mean_fraction` is the mean over scales with tokens of score / counted checks; the overall
    verdict is `verdict(mean_fraction, 1)`. `counted` lists each scale's number of counted checks."""
    per_scale = [recommend_scale(s) for s in scales]
    scored = [r for r in per_scale if r["score"] is not None]
    if not scored:
        return {"per_scale": per_scale, "mean_fraction": None, "counted": [], "verdict": "no tokens"}
    mean = sum(r["score"] / r["counted"] for r in scored) / len(scored)
    return {
        "per_scale": per_scale,
        "mean_fraction": mean,
        "counted": [r["counted"] for r in scored],
        "verdict": verdict(mean, 1),
    }


def _score_text(score: float, counted: int) -> str:
    return f"score {score:.2f} of {counted} counted check{'s' if counted != 1 else ''}"


def overall_text(recommendation: dict) -> str:
    """'VERDICT (heuristic: mean score S of N counted checks)'; N per scale when they differ."""
    fraction, counted = recommendation.get("mean_fraction"), recommendation.get("counted") or []
    if fraction is None:
        return recommendation["verdict"]
    if len(set(counted)) == 1:
        shown = f"heuristic: mean {_score_text(fraction * counted[0], counted[0])}"
    else:
        shown = f"heuristic: mean {100 * fraction:.0f}% of the points of the counted checks"
    return f"{recommendation['verdict']} ({shown})"


def recommendation_lines(recommendation: dict) -> list[str]:
    """The recommendation as console/report lines, in the original script's form; a check that is
    not counted is marked so."""
    lines = []
    for scale in recommendation["per_scale"]:
        score = f" ({_score_text(scale['score'], scale['counted'])})" if scale["score"] is not None else ""
        lines.append(f"Scale {scale['scale']}: {scale['verdict']}{score}")
        for check in scale["checks"]:
            first, *rest = check["lines"]
            first += "" if check.get("counted", True) else "  [not counted: too few bigrams]"
            lines.extend([first, *rest, ""])
        for caveat in scale.get("caveats", []):
            lines.extend([caveat, ""])
    lines.append(f"Overall: {overall_text(recommendation)}")
    return lines
