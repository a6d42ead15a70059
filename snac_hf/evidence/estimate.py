"""What another preset would cost on the same corpus, priced with the token rates a run measured.
No torch.

A training's FLOPs are fixed by its settings and by its tokenization's tokens per audio-second and
vocabulary (`costs.flops_per_token`); a finished run has measured both on its corpus.
`preset_cost(report, target)` prices every training `target` would run (its curve, then the
confirmations at the best budget and at 0):

- **Token rate and vocabulary** of each tokenization of `target`'s plan: the run's LM records when
  the run trained it (train-split tokens per second, as `arm` uses them), else the run's
  compression row of the same variant and merges (held-out split). A budget the run did not
  measure for that variant, but lies between two it did, is interpolated linearly in log(merges)
  (tokens per second and vocabulary); any other is an `EstimateError` naming it.
- **Model**: the non-embedding parameters `snac_hf.lm.model.build_model` makes (Llama, untied
  embeddings): per layer 4 h^2 (attention) + 3 h f (MLP) + 2 h (norms), and a final norm.
- **Windows** as `arm` chooses them: equal audio = `target.lm.context` raw codes of the run's train
  split (the run's window seconds, scaled by context), equal steps = `target.lm.context` tokens.
- **Trainings**: the curve (seeds x budget settings x plan); at the best budget and at 0, which
  only the run itself can find, the best is priced as the most expensive budget above 0 (so that
  part is an upper bound): `more_seeds`, `longer` x the steps per seed, and held-out voices.
  Scoring the held-out split (a forward pass, 2 N per token) is ignored: for the run's corpus it
  is under 1% of a training; generation (64 tokens) likewise.
"""

from __future__ import annotations

import math

from snac_hf.evidence.costs import flops_per_token
from snac_hf.evidence.plan import ORPHEUS, is_raw, plan_tokenizations, raw_of
from snac_hf.evidence.settings import EvidenceSettings
from snac_hf.lm.settings import ModelSettings, equal_audio_window


class EstimateError(ValueError):
    """The run did not measure what the estimate needs; the message says which."""


def non_embedding_parameters(model: ModelSettings) -> int:
    """Parameters of `build_model` besides the two embeddings (module docstring)."""
    hidden = model.hidden_size
    intermediate = model.intermediate_size or 4 * hidden
    per_layer = 4 * hidden * hidden + 3 * hidden * intermediate + 2 * hidden
    return model.num_layers * per_layer + hidden


def _measured(report: dict) -> dict[tuple[str, int], tuple[float, float]]:
    """(variant, merges) -> (tokens per second, vocab size): compression rows, then LM records."""
    out = {
        (r["variant"], r["num_merges"]): (r["tokens_per_second"], r["vocab_size"])
        for r in report["compression"]
    }
    for record in report["results"]:
        plan = report["plan"][record["tokenization"]]
        out[(plan["variant"], plan["merges"])] = (record["tokens_per_second_train"], record["vocab_size"])
    return out


def _rate(measured: dict, variant: str, merges: int) -> tuple[float, float]:
    """Tokens per second and vocab size of `variant` at `merges` (measured, or interpolated)."""
    if (variant, merges) in measured:
        return measured[(variant, merges)]
    known = sorted(m for v, m in measured if v == variant and m > 0)
    below, above = [m for m in known if m < merges], [m for m in known if m > merges]
    if not known and merges == 0:
        raise EstimateError(
            f"{variant}'s raw codes: the run trained no model on them; price a target without it"
        )
    if not below or not above:
        raise EstimateError(
            f"{variant} at {merges:,} merges: the run measured {variant} at "
            f"{', '.join(f'{m:,}' for m in known) or 'no budget'} merges; price budgets between those"
        )
    lo, hi = below[-1], above[0]
    t = (math.log(merges) - math.log(lo)) / (math.log(hi) - math.log(lo))
    (tps_lo, vocab_lo), (tps_hi, vocab_hi) = measured[(variant, lo)], measured[(variant, hi)]
    return tps_lo + t * (tps_hi - tps_lo), vocab_lo + t * (vocab_hi - vocab_lo)


def training_flops(report: dict, target: EvidenceSettings, processes: int = 1) -> dict[str, dict]:
    """Per tokenization of `target`'s plan and budget setting: FLOPs per token and per training."""
    measured = _measured(report)
    lm = target.lm
    run = report["settings"]
    seconds_per_raw_token = run["window_seconds_equal_audio"] / run["lm"]["context"]
    non_embedding = non_embedding_parameters(lm.model)
    out = {}
    for name, (variant, merges) in plan_tokenizations(target).items():
        if variant == ORPHEUS:
            record = next((r for r in report["results"] if r["tokenization"] == ORPHEUS), None)
            if record is None:
                raise EstimateError("orpheus: the run trained no orpheus model; price a target without it")
            tps, vocab = record["tokens_per_second_train"], record["vocab_size"]
        else:
            tps, vocab = _rate(measured, variant, merges)
        for setting in lm.settings:
            window = (
                lm.context
                if setting == "equal_steps"
                else equal_audio_window(seconds_per_raw_token * lm.context, tps)
            )
            per_token = flops_per_token(
                {"vocab_size": vocab, "window_tokens": window, "parameters_non_embedding": non_embedding},
                lm.model.num_layers,
                lm.model.hidden_size,
            )
            tokens = lm.steps * lm.batch_size * processes * window
            out[f"{name}/{setting}"] = {
                "tokenization": name,
                "setting": setting,
                "tokens_per_second": tps,
                "vocab_size": vocab,
                "window_tokens": window,
                "flops_per_token": per_token,
                "flops_per_training": per_token * tokens,
            }
    return out


def preset_cost(report: dict, target: EvidenceSettings, processes: int = 1) -> dict:
    """FLOPs of every training `target` would run (module docstring): per row, and in sum."""
    rows = training_flops(report, target, processes)
    first = target.lm.settings[0]
    curve = sum(row["flops_per_training"] for row in rows.values()) * len(target.seeds)
    of_first = {
        row["tokenization"]: row["flops_per_training"] for row in rows.values() if row["setting"] == first
    }
    above_zero = [flops for name, flops in of_first.items() if not is_raw(name) and name != ORPHEUS]
    raws = set(raw_of(target).values())
    pair = (max(above_zero) if above_zero else 0.0) + (max(of_first[n] for n in raws) if raws else 0.0)
    confirmations = pair * (
        len(target.more_seeds)
        + target.longer * len(target.seeds)
        + (len(target.seeds) if target.voices_by else 0)
    )
    return {
        "rows": list(rows.values()),
        "processes": processes,
        "trainings": len(rows) * len(target.seeds),
        "curve_flops": curve,
        "confirmation_flops_at_most": confirmations,
        "total_flops_at_most": curve + confirmations,
    }
