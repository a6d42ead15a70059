"""At the best budget and at 0: does the curve's best hold with more seeds, longer training and
unseen voices? Three paired comparisons of the run's best tokenization with its raw row. No torch.

Each is `verdict.judge` over just those rows (so its unigram rule looks at just those models):

- `more_seeds`: the first budget setting's rows of the curve and of `more_seeds`, i.e. every seed
  (5 in the presets) of the two tokenizations.
- `longer`: the rows trained `longer` x the steps (seeds of the curve), next to the same seeds at
  the curve's steps.
- `voices`: the rows on the held-out-voices split, next to the same seeds on the hash split; its
  unigram level is that split's own.
"""

from __future__ import annotations

from snac_hf.evidence.curve import comparison
from snac_hf.evidence.verdict import judge


def _pair(rows: list[dict], names: list[str], unigram: float) -> dict | None:
    """The verdict of `names[0]` against `names[1]` over `rows` (None unless both have rows)."""
    chosen = [r for r in rows if r["tokenization"] in names]
    if {r["tokenization"] for r in chosen} != set(names):
        return None
    return next(iter(judge(chosen, unigram, {names[0]: names[1]}).values()))


def confirmations(report: dict) -> dict:
    """{"more_seeds", "longer", "longer_base", "voices", "voices_hash"}: a one-setting verdict each
    (None where the run has no such rows), with `best` and `raw` naming the two tokenizations and
    `ran` saying whether the run trained anything beyond the curve for them (without, every row
    only repeats the curve)."""
    best = report.get("best")
    if best is None:
        return {}
    raw = report["plan"][best]["raw"]
    names, first = [best, raw], report["settings"]["lm"]["settings"][0]
    unigram = report["references"]["unigram_bits_per_second"]
    rows = [r for r in report["results"] if r["setting"] == first]
    curve = [r for r in rows if r["phase"] == "curve"]
    longer = [r for r in rows if r["phase"] == "longer"]
    voices = report.get("voices")
    out = {
        "best": best,
        "raw": raw,
        "ran": any(r["phase"] != "curve" for r in rows) or bool(voices and voices["results"]),
        "more_seeds": _pair([r for r in rows if r["phase"] in ("curve", "more_seeds")], names, unigram),
        "longer": _pair(longer, names, unigram),
        "longer_base": _pair(curve, names, unigram),
        "voices": None,
        "voices_hash": _pair(curve, names, unigram),
    }
    if voices:
        out["voices"] = _pair(voices["results"], names, voices["references"]["unigram_bits_per_second"])
    return out


def confirmation_sentences(found: dict, settings: dict) -> list[str]:
    """The three comparisons in words (only what the rule supports)."""
    if not found:
        return ["No budget above 0 on the curve: nothing to confirm."]
    best, raw = found["best"], found["raw"]

    def stands(verdict: dict | None) -> str:
        if verdict is None:
            return "not run"
        if not verdict["comparable"]:
            return "not comparable (a model stayed within 5% of the unigram level)"
        n = verdict["stats"][best]["n"]
        return f"{comparison(verdict, best)}, {n} seeds"

    out = [f"{best} against {raw}, every seed: {stands(found['more_seeds'])}."]
    if found["longer"] is not None:
        steps = settings["longer"] * settings["lm"]["steps"]
        out.append(
            f"Trained {settings['longer']}x longer ({steps:,} steps): {stands(found['longer'])}; at "
            f"{settings['lm']['steps']:,} steps, the same seeds: {stands(found['longer_base'])}."
        )
    if found["voices"] is not None:
        out.append(
            f"On held-out voices: {stands(found['voices'])}; on the hash split, the same seeds: "
            f"{stands(found['voices_hash'])}."
        )
    return out
