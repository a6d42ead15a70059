"""The BPE recommendation: the original script's rules, per scale, with an overall verdict.

Rules (thresholds are the original's; the repetition threshold is ours, the original gave none):

* frequency skew, Gini: > 0.8 high (good), 0.6 - 0.8 moderate, < 0.6 low (poor);
* transition sparsity: > 0.95 very sparse (good), 0.8 - 0.95 moderate, < 0.8 dense (poor);
* bigram diversity: < 10 % of the V^2 possible bigrams means strong patterns (good), else poor;
* repetition rate: > 10 % of codes repeating the previous one is high (good), else low (poor).

Each check scores good = 1, moderate = 0.5, poor = 0. A scale scoring >= 3 of 4 is a good BPE
candidate, <= 1.5 a poor one, anything between mixed; the overall verdict applies the same cut
to the mean score of the scales. The lines are printed in the original form::

    ✓ High frequency skew (gini=0.850)
    → BPE merging could be very effective
"""

from __future__ import annotations

GOOD, MODERATE, POOR = "good", "moderate", "poor"
MARK = {GOOD: "✓", MODERATE: "~", POOR: "✗"}
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
    if score >= 0.75 * checks:
        return "good BPE candidate"
    if score <= 0.375 * checks:
        return "poor BPE candidate"
    return "mixed: BPE may help somewhat"


def recommend_scale(scale: dict) -> dict:
    """Checks and verdict for one scale entry of the analysis."""
    if not scale["tokens"]:
        return {"scale": scale["scale"], "checks": [], "score": None, "verdict": "no tokens", "caveats": []}
    values = {
        "gini": scale["gini"],
        "sparsity": scale["transitions"]["sparsity"],
        "bigram_diversity": scale["bigrams"]["diversity"],
        "repetition_rate": scale["repetition"]["repetition_rate"],
    }
    checks = [judge(criterion, value) for criterion, value in values.items()]
    score = sum(SCORE[c["status"]] for c in checks)
    result = {"scale": scale["scale"], "checks": checks, "score": score, "verdict": verdict(score)}
    result["caveats"] = sample_size_caveats(scale)
    return result


def sample_size_caveats(scale: dict) -> list[str]:
    """Warnings where the sample is too small for a rule to say anything about the codes.

    With B bigrams among U occurring codes, at most B of the U^2 transitions can occur, so the
    sparsity is at least 1 - B / U^2 and the bigram diversity at most B / V^2 whatever the
    structure: a small set always looks sparse."""
    bigrams, possible = scale["bigrams"]["total"], scale["transitions"]["possible"]
    if not possible or bigrams >= possible:
        return []
    floor, ceiling = 1 - bigrams / possible, bigrams / scale["bigrams"]["possible"]
    return [
        f"! Only {bigrams:,} bigrams for {possible:,} possible transitions: at this size the sparsity "
        f"cannot be below {floor:.3f} nor the bigram diversity above {100 * ceiling:.2f}%, so they say little"
    ]


def recommend(scales: list[dict]) -> dict:
    per_scale = [recommend_scale(s) for s in scales]
    scores = [r["score"] for r in per_scale if r["score"] is not None]
    mean = sum(scores) / len(scores) if scores else None
    return {"per_scale": per_scale, "mean_score": mean, "verdict": verdict(mean) if scores else "no tokens"}


def recommendation_lines(recommendation: dict) -> list[str]:
    """The recommendation as console/report lines, in the original script's form."""
    lines = []
    for scale in recommendation["per_scale"]:
        lines.append(f"Scale {scale['scale']}: {scale['verdict']}")
        for check in scale["checks"]:
            lines.extend([*check["lines"], ""])
        for caveat in scale.get("caveats", []):
            lines.extend([caveat, ""])
    score = recommendation["mean_score"]
    shown = f" (mean score {score:.2f} of 4)" if score is not None else ""
    lines.append(f"Overall: {recommendation['verdict']}{shown}")
    return lines
