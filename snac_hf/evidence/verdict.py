"""What the spread over seeds supports, and nothing more. No torch.

Input: one LM result per (tokenization, setting, seed), in held-out bits per audio-second (lower is
better; every tokenization is lossless, so the numbers are comparable), and the unigram level
(`snac_hf.lm.references`).

Rules, per budget setting:

1. **Learning.** A model learned more than code frequencies when its bits/s is below
   `(1 - AT_UNIGRAM_MARGIN)` x the unigram level (5% below) in every seed. No difference involving
   a tokenization that did not is called supported (its pairs are not `comparable`); the pairs of
   the others still are judged. The setting is `comparable` when every model learned.
2. **Paired differences.** Seed s of tokenization A and seed s of B share the seed (model
   initialisation, window sampling), so they are compared pairwise: d_s = bits(A, s) - bits(B, s).
   A difference is **supported** when every d_s has the same sign and |mean d| > 2 x the standard
   error of d (sample standard deviation / sqrt(n)), with n >= 2 seeds. Otherwise A and B are
   **not distinguishable** at these seeds. With 3 seeds this is a weak test (a sign agreement of 3
   happens by chance 1 time in 4); the report says so next to the verdict.
3. Each tokenization is compared with its raw codes (better, worse, or not distinguishable): the
   raw row `raw_of` names for it (its serialization's, `plan.raw_of`; by default the one row
   `raw`), and with the best tokenization by mean (tied with it, or worse). Raw rows are the
   reference, never the best.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping

import numpy as np

from snac_hf.lm.references import AT_UNIGRAM_MARGIN

RAW = "raw"


def seed_stats(values: list[float]) -> dict:
    """mean, sample standard deviation (0 for one value), min, max and n of `values`."""
    array = np.asarray(values, np.float64)
    return {
        "mean": float(array.mean()),
        "std": float(array.std(ddof=1)) if len(array) > 1 else 0.0,
        "min": float(array.min()),
        "max": float(array.max()),
        "n": len(array),
    }


def paired_difference(a: dict[int, float], b: dict[int, float]) -> dict:
    """Statistics of a[s] - b[s] over the seeds both have, and whether it is supported (rule 2)."""
    seeds = sorted(set(a) & set(b))
    d = np.asarray([a[s] - b[s] for s in seeds], np.float64)
    n = len(d)
    mean = float(d.mean()) if n else math.nan
    std = float(d.std(ddof=1)) if n > 1 else math.nan
    same_sign = n > 0 and (bool((d < 0).all()) or bool((d > 0).all()))
    supported = n >= 2 and same_sign and abs(mean) > 2 * std / math.sqrt(n)
    return {
        "seeds": seeds,
        "differences": d.tolist(),
        "mean": mean,
        "std": std,
        "supported": supported,
    }


def _pair(table: dict[str, dict[int, float]], a: str, b: str, not_learning: list[str]) -> dict:
    """`paired_difference` of a and b, and whether both learned (rule 1)."""
    return {**paired_difference(table[a], table[b]), "comparable": not {a, b} & set(not_learning)}


def judge(
    results: list[dict],
    unigram_bits_per_second: float,
    raw_of: Mapping[str, str] | None = None,
    unigram_of: Mapping[str, float] | None = None,
) -> dict:
    """The verdict per setting. `results`: dicts with `tokenization`, `setting`, `seed`,
    `bits_per_second`; `raw_of`: tokenization -> its raw row (default: `RAW` for every other name);
    `unigram_of`: tokenization -> its own unigram level where it is not `unigram_bits_per_second`
    (orpheus: the position-specific level, `snac_hf.lm.references.position_unigram_levels`).
    Returns {setting: {...}}; see `sentences` for the words."""
    by_setting: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for r in results:
        by_setting[r["setting"]][r["tokenization"]][r["seed"]] = r["bits_per_second"]
    own = dict(unigram_of or {})

    def limit(name: str) -> float:
        return (1 - AT_UNIGRAM_MARGIN) * own.get(name, unigram_bits_per_second)

    verdicts = {}
    for setting, table in by_setting.items():
        stats = {name: seed_stats(list(values.values())) for name, values in table.items()}
        not_learning = sorted(n for n, values in table.items() if max(values.values()) >= limit(n))
        raws = dict(raw_of) if raw_of is not None else {n: RAW for n in table if n != RAW}
        variants = [n for n in table if n in raws]
        best = min(variants, key=lambda n: stats[n]["mean"]) if variants else None
        versus_raw = {n: _pair(table, n, raws[n], not_learning) for n in variants if raws[n] in table}
        versus_best = {n: _pair(table, n, best, not_learning) for n in variants if n != best}
        verdicts[setting] = {
            "stats": stats,
            "not_learning": not_learning,
            "comparable": not not_learning,
            "best_variant": best,
            "raw_of": {n: raws[n] for n in versus_raw},
            "versus_raw": versus_raw,
            "versus_best": versus_best,
            "unigram_bits_per_second": unigram_bits_per_second,
            "unigram_of": {n: own[n] for n in table if n in own},
        }
    return verdicts


def sentences(verdict: dict) -> list[str]:
    """The verdict of one setting in plain words: only what rule 2 supports."""
    out = learning_sentences(verdict)
    pairs = verdict["versus_raw"]
    if out and not any(d["comparable"] for d in [*pairs.values(), *verdict["versus_best"].values()]):
        return out
    if max(st["n"] for st in verdict["stats"].values()) < 2:
        return ["1 seed: no difference can be called supported (give 3 or more --seeds)."]
    better = [n for n, d in pairs.items() if d["comparable"] and d["supported"] and d["mean"] < 0]
    worse = [n for n, d in pairs.items() if d["comparable"] and d["supported"] and d["mean"] > 0]
    unclear = [n for n, d in pairs.items() if d["comparable"] and not d["supported"]]
    raw_words = "the raw codes" if set(verdict["raw_of"].values()) <= {RAW} else "their raw codes"

    def pct(name: str) -> str:
        d = verdict["versus_raw"][name]["mean"]
        return f"{name} ({100 * d / verdict['stats'][verdict['raw_of'][name]]['mean']:+.1f}%)"

    if better:
        listed = ", ".join(map(pct, better))
        out.append(f"Lower bits/s than {raw_words} in every seed, beyond 2 standard errors: {listed}.")
    if worse:
        out.append(f"Higher bits/s than {raw_words} (worse), supported: {', '.join(map(pct, worse))}.")
    if unclear:
        out.append(f"Not distinguishable from {raw_words} at these seeds: {', '.join(map(pct, unclear))}.")
    best = verdict["best_variant"]
    if best:
        tied = [n for n, d in verdict["versus_best"].items() if not (d["supported"] and d["comparable"])]
        if tied:
            out.append(f"Best by mean: {best}; not distinguishable from it: {', '.join(tied)}.")
        else:
            out.append(f"Best by mean: {best}, ahead of every other tokenization in every seed.")
    return out


def learning_sentences(verdict: dict) -> list[str]:
    """The models that stayed near the unigram level, in words (none: [])."""
    if not verdict["not_learning"]:
        return []
    own = verdict.get("unigram_of", {})
    shared = [n for n in verdict["not_learning"] if n not in own]
    out = []
    if shared:
        out.append(
            f"Not supported: {', '.join(shared)} did not get 5% below the unigram level "
            f"({verdict['unigram_bits_per_second']:.0f} bits/s) in every seed, so differences involving "
            f"{'them' if len(shared) > 1 else 'it'} say little about how a tokenization serves a trained LM."
        )
    out += [
        f"Not supported: {name} did not get 5% below its own unigram level ({own[name]:.0f} bits/s) in "
        "every seed, so differences involving it say little about how that layout serves a trained LM."
        for name in verdict["not_learning"]
        if name in own
    ]
    return out
