"""Which tokenizations an evidence run trains LMs on: the merge curve of every variant, its raw rows,
and the `orpheus` baseline. No torch.

- **Serializations.** A variant writes a file's codes in one order (`SERIALIZATIONS`): `plain` and
  `thresholded` scale by scale, `rl` scale by scale with run symbols, `cross_scale` frame by frame
  (each code before the codes it overlaps), `hierarchical` frame by frame with the scales in turn,
  `rl_cross_scale` frame by frame with run symbols. At 0 merges a variant's tokenizer is its
  serialization and nothing else (`plain` and `thresholded` at 0 merges give the same ids), so
  every serialization among the variants asked for gets ONE raw row, `raw-<serialization>`, made
  by the first of its variants at 0 merges, and variants that share it share that row.
- **The curve** of a variant: its raw row at 0 merges, then `<variant>-<m>` for every budget m > 0
  of `lm_merges` (`curve_lines`).
- **`orpheus`**: frame order, one id per frame position and code, no merges
  (`snac_hf.lm.orpheus_tokens`), when `settings.orpheus`; judged against the raw codes in frame
  order (`raw-frame`, the same order with one id per scale and code), which the plan then always
  holds.

- **Windowed scale order** (`settings.windows`, in frames W): the raw codes per window of W frames
  scale by scale (`snac_hf.layout.windowed`), `raw-window<W>`, made by `plain` with
  `window_frames=W` at 0 merges (variant name `plain_w<W>`, `windowed_variant`); judged against the
  raw codes in frame order, and set beside scale order (the plan then holds `raw-scale` and
  `raw-frame`). W = 1 is `hierarchical`'s raw order (`raw-frame_scales`).

`plan_tokenizations` names them all, in report order: raw rows, the variants' budgets, `orpheus`,
the windowed rows.
"""

from __future__ import annotations

import re

from snac_hf.evidence.settings import EvidenceSettings

ORPHEUS = "orpheus"  # the same name as snac_hf.lm.orpheus_tokens.ORPHEUS (that module needs torch's stack)
RAW_PREFIX = "raw-"
#: The order each variant writes codes in (module docstring).
SERIALIZATIONS = {
    "plain": "scale",
    "thresholded": "scale",
    "rl": "scale_runs",
    "cross_scale": "frame",
    "hierarchical": "frame_scales",
    "rl_cross_scale": "frame_runs",
}
#: A serialization in the report's words.
SERIALIZATION_TITLES = {
    "scale": "scale by scale",
    "scale_runs": "scale by scale, run symbols",
    "frame": "frame by frame",
    "frame_scales": "frame by frame, scales in turn",
    "frame_runs": "frame by frame, run symbols",
}

FRAME_RAW = RAW_PREFIX + SERIALIZATIONS["cross_scale"]
SCALE_RAW = RAW_PREFIX + SERIALIZATIONS["plain"]
WINDOW_PREFIX = RAW_PREFIX + "window"
_WINDOWED = re.compile(r"(plain|thresholded)_w(\d+)")


def windowed_variant(window_frames: int, base: str = "plain") -> str:
    """The plan's variant name of `base` in windowed scale order of `window_frames` frames."""
    return f"{base}_w{window_frames}"


def variant_options(variant: str) -> tuple[str, dict]:
    """(BPE variant, its options) of a plan's variant name: `plain_w12` is plain with window_frames=12."""
    match = _WINDOWED.fullmatch(variant)
    return (match[1], {"window_frames": int(match[2])}) if match else (variant, {})


def window_name(window_frames: int) -> str:
    return f"{WINDOW_PREFIX}{window_frames}"


def raw_name(variant: str) -> str:
    """The raw row (0 merges) of `variant`'s serialization."""
    return RAW_PREFIX + SERIALIZATIONS[variant]


def is_raw(name: str) -> bool:
    return name.startswith(RAW_PREFIX)


def curve_budgets(settings: EvidenceSettings) -> tuple[int, ...]:
    """The budgets above 0 on the curve, ascending (0, the raw row, is always on it)."""
    return tuple(sorted({m for m in settings.lm_merges if m > 0}))


def curve_lines(settings: EvidenceSettings) -> dict[str, list[tuple[int, str]]]:
    """Per variant: its curve as (merges, tokenization) points, 0 merges first."""
    return {
        v: [(0, raw_name(v))] + [(m, f"{v}-{m}") for m in curve_budgets(settings)] for v in settings.variants
    }


def plan_tokenizations(settings: EvidenceSettings) -> dict[str, tuple[str, int]]:
    """Tokenization name -> (variant whose tokenizer it is, merges), in report order."""
    plan: dict[str, tuple[str, int]] = {}
    for variant in settings.variants:
        plan.setdefault(raw_name(variant), (variant, 0))  # the first variant of each serialization
    for variant, points in curve_lines(settings).items():
        plan.update({name: (variant, merges) for merges, name in points if merges > 0})
    if settings.orpheus:
        plan.setdefault(FRAME_RAW, ("cross_scale", 0))  # what orpheus is judged against
        plan[ORPHEUS] = (ORPHEUS, 0)
    if settings.windows:
        plan.setdefault(SCALE_RAW, ("plain", 0))  # the two ends of the windowed orders
        plan.setdefault(FRAME_RAW, ("cross_scale", 0))
        plan.update({window_name(w): (windowed_variant(w), 0) for w in settings.windows})
    return plan


def raw_of(settings: EvidenceSettings) -> dict[str, str]:
    """Each tokenization's raw row, the one it is judged against: its serialization's (orpheus:
    frame order, the same order with one id per scale and code)."""
    plan = plan_tokenizations(settings)
    out = {name: raw_name(variant) for name, (variant, _) in plan.items() if variant in SERIALIZATIONS}
    if ORPHEUS in plan:
        out[ORPHEUS] = FRAME_RAW
    out.update({window_name(w): FRAME_RAW for w in settings.windows})
    return {name: raw for name, raw in out.items() if name != raw}
