"""The sizes of an evidence run, and its presets (no torch: the command line reads them here).

A run is: the six BPE variants trained on the train split at every merge budget of `budgets`
(compression measured on the held-out split), then one small LM per tokenization (the raw codes,
and every variant at `lm_merges`) per budget setting (`equal_audio`, `equal_steps`, see
`snac_hf.lm.experiment`) per seed in `seeds`.

Presets (`PRESETS`), each a starting point that flags override:

- `tiny`: about a minute, for tests and a first look (the bundled speech): 2 seeds, 20 steps;
  its models stay at the unigram level, and its report says so.
- `cpu-small`: a 2-core machine in ~1.5 h on 4.76 h of audio (measured, EVIDENCE.md); budgets up
  to 16k merges, LMs at 4k merges, 3 seeds, 2-layer 128-wide LMs, 120 steps of 16 windows of 256 tokens.
- `gpu`: what a researcher runs on one GPU in a few hours: budgets up to 32k, LMs at 16k merges,
  3 seeds, 6-layer 384-wide LMs, 4,000 steps of 32 windows of 1,024 tokens.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from snac_hf.bpe.variants import VARIANTS
from snac_hf.lm.settings import EvaluationSettings, ModelSettings

#: Salt of the split's hash: the same files are held out on every machine, for every run.
SPLIT_SALT = "snac_hf.evidence.split"


@dataclass(frozen=True)
class EvidenceSettings:
    variants: tuple[str, ...] = tuple(VARIANTS)
    budgets: tuple[int, ...] = (1000, 4000, 16000)  # merges, for the compression table
    lm_merges: int = 4000  # merges of the tokenizations the LMs are trained on
    seeds: tuple[int, ...] = (0, 1, 2)
    holdout: float = 0.2
    split_by: str | None = None  # a column (e.g. "speaker") whose values are held out together
    split_salt: str = SPLIT_SALT
    lm: EvaluationSettings = field(default_factory=EvaluationSettings)

    def to_dict(self) -> dict:
        return asdict(self)

    def lm_for_seed(self, seed: int) -> EvaluationSettings:
        return replace(self.lm, seed=seed)


def _lm(
    layers: int, hidden: int, heads: int, steps: int, batch: int, context: int, lr: float
) -> EvaluationSettings:
    return EvaluationSettings(
        model=ModelSettings(num_layers=layers, hidden_size=hidden, num_heads=heads),
        steps=steps,
        batch_size=batch,
        context=context,
        learning_rate=lr,
        generation_tokens=64,
    )


PRESETS: dict[str, EvidenceSettings] = {
    "tiny": EvidenceSettings(
        budgets=(50, 200), lm_merges=200, seeds=(0, 1), lm=_lm(1, 32, 2, 20, 4, 64, 3e-3)
    ),
    "cpu-small": EvidenceSettings(
        budgets=(1000, 4000, 16000), lm_merges=4000, seeds=(0, 1, 2), lm=_lm(2, 128, 4, 120, 16, 256, 3e-3)
    ),
    "gpu": EvidenceSettings(
        budgets=(1000, 4000, 16000, 32000),
        lm_merges=16000,
        seeds=(0, 1, 2),
        lm=_lm(6, 384, 6, 4000, 32, 1024, 1e-3),
    ),
}


def preset(name: str) -> EvidenceSettings:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[name]
