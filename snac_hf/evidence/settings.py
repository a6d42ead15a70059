"""The sizes of an evidence run, and its presets (no torch: the command line reads them here).

A run is: the BPE variants trained on the train split at every merge budget of `budgets` and of
the curve (compression measured on the held-out split); then the merge curve, one small LM per
tokenization (each serialization's raw codes, every variant at every budget of `lm_merges` above
0, and `orpheus`) per budget setting (`equal_audio`, `equal_steps`, see `snac_hf.lm.experiment`)
per seed in `seeds`; then, at the curve's best budget and at 0, the `more_seeds`, a training of
`longer` x the steps per seed, and the seeds on held-out voices (`voices_by`, at least
`voices_share` of the audio). See `snac_hf.evidence.experiment`.

Presets (`PRESETS`), each a starting point that flags override (`batch_size` is per process: under
`accelerate launch --num_processes N` a step holds N x as many windows):

- `tiny`: seconds, for the tests (the bundled speech, with a `speaker` column): the curve at 0/50/
  200 merges and orpheus, 2 seeds + 1, 20 steps, 4x longer, held-out voices; its models stay at
  the unigram level, and its report says so.
- `cpu-small`: 66 min on 4.76 h of audio on 2 cores (measured, EVIDENCE.md v3: 2-core Intel
  Xeon, load ~2.2, nothing else running), `accelerate launch --num_processes 2 --batch_size 4`
  with one thread each (8 windows of 256 tokens per step, 120 steps; equal audio only): `plain`
  and `cross_scale` (scale and frame order) at 0/32/128/512/4,000 merges and orpheus, 3 seeds (33
  trainings, 57-73 s each with scoring and generation, orpheus 132-137 s), then 5 seeds, 4x
  longer and held-out voices at the best budget and at 0 (16 more; the 6 of 480 steps 150-183 s);
  the tokenizers ~2 min. Tokenizing the corpus first (`make evidence`) took 22 min more.
- `gpu`: the curve for pretrained SNAC on one GPU: `plain` and `cross_scale` at 0/32/128/512/
  4,000/16,000 merges (the budgets cpu-small measured, so a cpu-small report prices it without
  interpolation) and orpheus, 3 seeds (39 trainings), 6-layer 384-wide LMs, 4,000 steps of 32
  windows of 1,024 tokens (equal audio only), then 5 seeds, 4x longer and held-out voices at the
  best budget and at 0. Its training FLOPs, priced with the token rates of a finished run on the
  same corpus (`snac_hf.evidence.estimate`), are in that run's report (for the 4.76 h corpus:
  EVIDENCE.md); hours follow only at an assumed sustained rate (no GPU was lent to this work).
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
    lm_merges: tuple[int, ...] = (0, 1000, 4000)  # the curve: merges the LMs train at (0 = raw codes)
    orpheus: bool = True  # the Orpheus layout as a baseline row
    seeds: tuple[int, ...] = (0, 1, 2)  # every point of the curve
    more_seeds: tuple[int, ...] = (3, 4)  # added at the best budget and at 0
    longer: int = 4  # at the best budget and at 0, one training of `longer` x the steps per seed (0: none)
    voices_by: str | None = "speaker"  # the column of the held-out-voices split (None: no such split)
    voices_share: float = 0.15  # the least share of the audio the held-out voices hold
    holdout: float = 0.2
    split_by: str | None = None  # a column (e.g. "speaker") whose values are held out together
    split_salt: str = SPLIT_SALT
    lm: EvaluationSettings = field(default_factory=EvaluationSettings)

    def to_dict(self) -> dict:
        return asdict(self)

    def lm_for_seed(self, seed: int, steps: int | None = None) -> EvaluationSettings:
        return replace(self.lm, seed=seed, steps=self.lm.steps if steps is None else steps)

    @property
    def longer_steps(self) -> int:
        return self.longer * self.lm.steps


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
        budgets=(50, 200),
        lm_merges=(0, 50, 200),
        seeds=(0, 1),
        more_seeds=(2,),
        lm=_lm(1, 32, 2, 20, 4, 64, 3e-3),
    ),
    "cpu-small": EvidenceSettings(
        variants=("plain", "cross_scale"),
        budgets=(1000, 4000, 16000),
        lm_merges=(0, 32, 128, 512, 4000),
        lm=replace(_lm(2, 128, 4, 120, 8, 256, 3e-3), settings=("equal_audio",)),
    ),
    "gpu": EvidenceSettings(
        variants=("plain", "cross_scale"),
        budgets=(1000, 4000, 16000, 32000),
        lm_merges=(0, 32, 128, 512, 4000, 16000),
        lm=replace(_lm(6, 384, 6, 4000, 32, 1024, 1e-3), settings=("equal_audio",)),
    ),
}


def preset(name: str) -> EvidenceSettings:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[name]
