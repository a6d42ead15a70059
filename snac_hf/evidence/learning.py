"""Learning curves: each pair (a tokenization and its raw row) compared at every checkpoint, at
equal training FLOPs, and where the sign of the difference changes; and how much of the scale
order's gain each windowed order keeps. No torch.

Input: the curve's result rows of the first budget setting, each with its `checkpoints` (one
training per tokenization and seed, scored on the held-out split after `steps`, with the
training FLOPs so far, `arm.with_checkpoint_flops`).

- **At each checkpoint** the pair's paired difference over seeds under `verdict`'s rule (same
  sign in every seed, |mean| > 2 standard errors), *comparable* only when neither model is at its
  own unigram level there (orpheus: its position-specific level, `lm.references`).
- **At equal training FLOPs.** A training's FLOPs grow linearly with its steps, at a rate fixed
  by its tokenization (window tokens, vocabulary), so two tokenizations' checkpoints sit at
  different FLOPs. The comparison points are every checkpoint FLOPs of either model inside the
  range both cover (no extrapolation); at each, each seed's bits per audio-second is
  interpolated **linearly in log(FLOPs) between that model's two neighbouring checkpoints** (exact
  at its own checkpoints); then the same paired rule.
- **Sign changes**: consecutive points (checkpoints, or equal-FLOPs points) where the mean paired
  difference changes sign, e.g. "+ at 240 steps, - at 480 steps": the crossing lies between them.
  None: it keeps its sign over the whole curve.
- **The order gain** (`learning_verdict(order=...)`): the raw codes scale by scale against frame
  by frame, as a pair like the others (negative: scale order lower, the gain a streaming order
  gives up).
- **Windowed scale order** (`window_rows`): at each checkpoint, the window against frame order
  (paired), the scale order against frame order (paired), and, where the scale order is lower than
  frame order in every seed, the share of that gain the window keeps, per seed (frame - window) /
  (frame - scale) in bits per audio-second (1 = all of it, 0 = none), with the window's streaming
  latency. Where the scale order is not lower in every seed there is no gain to keep: the share is
  not computed (a ratio of a loss would read as a gain kept).
"""

from __future__ import annotations

import math

import numpy as np

from snac_hf.evidence.verdict import paired_difference, seed_stats
from snac_hf.lm.references import at_unigram_level


def checkpoint_curves(rows: list[dict]) -> dict[str, dict[int, list[dict]]]:
    """tokenization -> seed -> its checkpoints in step order (rows without checkpoints: none)."""
    curves: dict[str, dict[int, list[dict]]] = {}
    for row in rows:
        if row.get("checkpoints"):
            curves.setdefault(row["tokenization"], {})[row["seed"]] = sorted(
                row["checkpoints"], key=lambda c: c["steps"]
            )
    return curves


def curve_stats(seeds: dict[int, list[dict]]) -> list[dict]:
    """Per checkpoint of one tokenization: steps, training FLOPs, audio seen and the seed statistics."""
    steps = sorted({c["steps"] for curve in seeds.values() for c in curve})
    out = []
    for n in steps:
        points = [c for curve in seeds.values() for c in curve if c["steps"] == n]
        out.append(
            {
                "steps": n,
                "train_flops": float(np.mean([c["train_flops"] for c in points])),
                "audio_seconds_seen": float(np.mean([c["audio_seconds_seen"] for c in points])),
                **seed_stats([c["bits_per_second"] for c in points]),
            }
        )
    return out


def at_flops(curve: list[dict], flops: float) -> float:
    """Bits per audio-second of one training at `flops`, linear in log(FLOPs) between checkpoints."""
    xs = [math.log(c["train_flops"]) for c in curve]
    return float(np.interp(math.log(flops), xs, [c["bits_per_second"] for c in curve]))


def _paired(a: dict[int, float], b: dict[int, float], learned: bool) -> dict:
    found = paired_difference(a, b)
    return {**found, "comparable": learned, "raw_mean": float(np.mean(list(b.values())))}


def _learned(values: dict[int, float], unigram: float) -> bool:
    return not any(at_unigram_level(v, unigram) for v in values.values())


def pair_curve(curves: dict, name: str, raw: str, unigram_of: dict[str, float]) -> dict:
    """The comparisons of the module docstring for `name` against `raw`."""
    mine, theirs = curves[name], curves[raw]
    seeds = sorted(set(mine) & set(theirs))
    if not seeds:
        return {"name": name, "raw": raw, "at_steps": [], "at_flops": [], "sign_changes_steps": [],
                "sign_changes_flops": []}  # fmt: skip
    at_steps = []
    steps = sorted(
        {c["steps"] for s in seeds for c in mine[s]} & {c["steps"] for s in seeds for c in theirs[s]}
    )
    for n in steps:
        a = {s: next(c["bits_per_second"] for c in mine[s] if c["steps"] == n) for s in seeds}
        b = {s: next(c["bits_per_second"] for c in theirs[s] if c["steps"] == n) for s in seeds}
        learned = _learned(a, unigram_of[name]) and _learned(b, unigram_of[raw])
        at_steps.append({"steps": n, **_paired(a, b, learned)})
    flops_a = sorted({c["train_flops"] for s in seeds for c in mine[s]})
    flops_b = sorted({c["train_flops"] for s in seeds for c in theirs[s]})
    low, high = max(flops_a[0], flops_b[0]), min(flops_a[-1], flops_b[-1])
    grid = sorted(f for f in {*flops_a, *flops_b} if low <= f <= high)
    equal_flops = []
    for f in grid:
        a = {s: at_flops(mine[s], f) for s in seeds}
        b = {s: at_flops(theirs[s], f) for s in seeds}
        learned = _learned(a, unigram_of[name]) and _learned(b, unigram_of[raw])
        equal_flops.append({"train_flops": f, **_paired(a, b, learned)})
    return {
        "name": name,
        "raw": raw,
        "at_steps": at_steps,
        "at_flops": equal_flops,
        "sign_changes_steps": sign_changes(at_steps, "steps"),
        "sign_changes_flops": sign_changes(equal_flops, "train_flops"),
    }


def sign_changes(points: list[dict], key: str) -> list[dict]:
    """Consecutive points whose mean differences have opposite signs (module docstring)."""
    out = []
    for before, after in zip(points, points[1:], strict=False):
        if before["mean"] * after["mean"] < 0:
            out.append(
                {"from": before[key], "to": after[key], "before": before["mean"], "after": after["mean"]}
            )
    return out


def learning_verdict(
    rows: list[dict],
    raw_of: dict[str, str],
    unigram_of: dict[str, float],
    order: tuple[str, str] | None = None,
) -> dict:
    """{"curves": tokenization -> `curve_stats`, "pairs": tokenization -> `pair_curve`, "order":
    the `pair_curve` of `order` = (scale order, frame order) or None} over the rows with
    checkpoints ({} when none has)."""
    curves = checkpoint_curves(rows)
    if not curves:
        return {}
    scale, frame = order or (None, None)
    return {
        "curves": {name: curve_stats(seeds) for name, seeds in curves.items()},
        "pairs": {
            name: pair_curve(curves, name, raw, unigram_of)
            for name, raw in raw_of.items()
            if name in curves and raw in curves
        },
        "order": pair_curve(curves, scale, frame, unigram_of) if {scale, frame} <= curves.keys() else None,
    }


def paired_pct(point: dict) -> str:
    """A paired difference as % of its reference's mean, signed: '+0.4%'."""
    return f"{100 * point['mean'] / point['raw_mean']:+.1f}%"


def share_range(kept: dict) -> str:
    """A share over seeds, min to max in %: '27% to 57%' ('to': a bound may be negative)."""
    return f"{100 * kept['min']:.0f}% to {100 * kept['max']:.0f}%"


def _judged(point: dict) -> str:
    if not point["comparable"]:
        return "at the unigram level"
    return "supported" if point["supported"] else "not distinguishable"


def _flops(value: float) -> str:
    return f"{value:.3g}"


def _where(value: float, unit: str) -> str:
    return f"{_flops(value)} FLOPs" if unit == "FLOPs" else f"{value:,} steps"


def pair_sentence(pair: dict) -> str:
    """One pair's learning curve in words: every checkpoint, equal FLOPs, sign changes."""
    steps = "; ".join(f"{p['steps']:,} steps {paired_pct(p)} ({_judged(p)})" for p in pair["at_steps"])
    flops = "; ".join(
        f"{_flops(p['train_flops'])} FLOPs {paired_pct(p)} ({_judged(p)})" for p in pair["at_flops"]
    )
    said = f"{pair['name']} vs {pair['raw']}: at {steps}."
    said += f" At equal training FLOPs: {flops}." if flops else " At equal training FLOPs: no common range."
    for unit, changes, points in (
        ("steps", pair["sign_changes_steps"], pair["at_steps"]),
        ("FLOPs", pair["sign_changes_flops"], pair["at_flops"]),
    ):
        if len(points) < 2:
            continue  # no curve to change sign along
        if changes:
            where = ", ".join(
                f"between {_where(c['from'], unit)} and {_where(c['to'], unit)} "
                f"({c['before']:+.1f} to {c['after']:+.1f} bits/s)"
                for c in changes
            )
            said += f" The mean difference changes sign along {unit}: {where}."
        else:
            said += f" Along {unit} the mean difference keeps its sign."
    return said


def window_rows(
    rows: list[dict], windows: dict[str, float], scale: str, frame: str, unigram: float
) -> list[dict]:
    """Per windowed row (name -> latency seconds) and checkpoint (module docstring): `vs_frame` (the
    window - frame order, paired), `scale_vs_frame` (scale - frame order, paired), `kept` (the share
    of the scale order's gain it keeps, mean ± sd and min-max over seeds; None where the scale order
    is not lower than frame order in every seed); `comparable` only when none of the three models is
    at the `unigram` level in any seed."""
    curves = checkpoint_curves(rows)
    if scale not in curves or frame not in curves:
        return []
    out = []
    for name, latency in windows.items():
        if name not in curves:
            continue
        seeds = sorted(set(curves[name]) & set(curves[scale]) & set(curves[frame]))
        for point in curve_stats({s: curves[name][s] for s in seeds}):
            n = point["steps"]

            def bits(of: str, seed: int, n: int = n) -> float:
                return next(c["bits_per_second"] for c in curves[of][seed] if c["steps"] == n)

            at = {of: {s: bits(of, s) for s in seeds} for of in (name, scale, frame)}
            gain = all(at[frame][s] > at[scale][s] for s in seeds)  # scale order lower in every seed
            window_gain = {s: at[frame][s] - at[name][s] for s in seeds}  # on frame order, per seed
            # only where there is a gain: the denominator is then positive in every seed
            kept = [window_gain[s] / (at[frame][s] - at[scale][s]) for s in seeds] if gain else []
            learned = all(_learned(at[of], unigram) for of in (name, scale, frame))
            out.append(
                {"tokenization": name, "latency_seconds": latency, "steps": n, "comparable": learned,
                 "bits_per_second": point["mean"], "vs_frame": _paired(at[name], at[frame], learned),
                 "scale_vs_frame": _paired(at[scale], at[frame], learned),
                 "kept": seed_stats(kept) if kept else None}
            )  # fmt: skip
    return out


def _signs(differences: list[float]) -> str:
    """Why a difference is no gain: higher in every seed, mixed signs, or equal in some seed."""
    if min(differences) > 0:
        return "higher in every seed"
    return "mixed signs over seeds" if max(differences) > 0 else "not lower in every seed"


def window_sentence(rows: list[dict], frame: str) -> str:
    """One windowed order over its checkpoints in words: against frame order, and the share of the
    scale order's gain it keeps where there is one (`window_rows` rows of one tokenization)."""
    rows = sorted(rows, key=lambda r: r["steps"])
    parts = []
    for r in rows:
        part = f"{r['steps']:,} steps {paired_pct(r['vs_frame'])} against {frame} ({_judged(r['vs_frame'])})"
        order, kept = r["scale_vs_frame"], r["kept"]
        # no share of anything where a model learned no more than code frequencies
        if r["comparable"] and kept:
            share = f"{100 * kept['mean']:.0f}% [{share_range(kept)}]"
            part += f", keeps {share} of the scale order's gain ({paired_pct(order)})"
        elif r["comparable"]:
            part += f", no gain to keep (the scale order {paired_pct(order)}, {_signs(order['differences'])})"
        parts.append(part)
    first = rows[0]
    return f"{first['tokenization']} (windows of {first['latency_seconds']:.2f} s): " + "; ".join(parts) + "."
