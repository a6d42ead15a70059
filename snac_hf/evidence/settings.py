"""The sizes of an evidence run, and its presets (no torch: the command line reads them here).

A run is: the BPE variants trained on the train split at every merge budget of `budgets` and of
the curve (compression measured on the held-out split); then the merge curve, one small LM per
tokenization (each serialization's raw codes, every variant at every budget of `lm_merges` above
0, and `orpheus`) per budget setting (`equal_audio`, `equal_steps`, see `snac_hf.lm.experiment`)
per seed in `seeds`; then, at the curve's best budget and at 0, the `more_seeds`, a training of
`longer` x the steps per seed, and the seeds on held-out voices (`voices_by`, at least
`voices_share` of the audio). See `snac_hf.evidence.experiment`.

Presets (`PRESETS`), each a starting point that flags override (`batch_size` is per process: under
`accelerate launch --num_processes N` a step holds N x as many windows). `checkpoints` (in `lm`)
make each training a learning curve (`snac_hf.evidence.learning`); `windows` adds the raw codes in
windowed scale order (frames per window, `snac_hf.layout.windowed`). The held-out-voices split
(`voices_by`, `speaker`) is made only when the token set has that column; without it the run goes
on without that split and its report says so (`voices_optional`; naming the column with
`--voices_by` makes it required).

- `tiny`: for the tests, on the bundled speech: `plain` and `cross_scale` at 0/50 merges, orpheus
  and windows of 3 and 12 frames, 2 seeds (+1 at the best budget and at 0), 20 steps scored at
  10/20 (equal audio only), no longer training (the learning curve is one), held-out voices when
  the token set has a `speaker` column; its models stay at the unigram level, and its report says
  so. 14 curve trainings + 2 + 4 on held-out voices: about 45 s of CPU in all (measured under a
  load of ~10, where it took minutes of wall time; on an idle 2-core machine under a minute).
- `cpu-small`: v3's merge curve, 66 min on 4.76 h of audio on 2 cores (measured, EVIDENCE.md v3:
  2-core Intel Xeon, load ~2.2, nothing else running), `accelerate launch --num_processes 2
  --batch_size 4` with one thread each (8 windows of 256 tokens per step, 120 steps; equal audio
  only): `plain` and `cross_scale` at 0/32/128/512/4,000 merges and orpheus, 3 seeds, then 5 seeds,
  4x longer and held-out voices at the best budget and at 0.
- `cpu-v4` (`make evidence`, EVIDENCE.md v4): learning curves on 2 cores, the same LM and windows
  as cpu-small, one training of 480 steps per arm and seed scored at 120/240/480 (1x, 2x, 4x
  v3's steps; equal audio only), 3 seeds: all six variants at 32 merges, the raw codes of their
  five serializations, orpheus, and the raw codes in windowed scale order of 3/12/47 frames
  (0.26/1.02/4.01 s at 24 kHz); compression at 32 and 512 merges (so a finished run prices the
  `gpu` preset). 15 tokenizations x 3 seeds = 45 trainings; no more seeds, no longer training (the
  curve is the longer training) and no held-out voices, to fit about 3 hours. Measured on 2 idle
  AMD EPYC cores: 254-300 s per training (orpheus 557 s), ~3.4 h of trainings plus a few minutes
  of tokenizers, on top of tokenizing the corpus (~22 min); v3's times had suggested ~2.8 h.
- `gpu`: the same form for pretrained SNAC on one GPU: all six variants at 0/32/512 merges,
  orpheus and the three windows, 3 seeds, 6-layer 384-wide LMs, 4,000 steps of 32 windows of 1,024
  tokens scored at 500/1,000/2,000/4,000 (equal audio only), held-out voices at the best budget and
  at 0. Its training FLOPs, priced with the token rates of a finished run on the same corpus
  (`snac_hf.evidence.estimate`), are in that run's report (`cpu-v4` measures every rate it needs);
  hours follow only at an assumed sustained rate (no GPU was lent to this work).
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
    voices_optional: bool = (
        True  # a token set without that column runs without the split (the report says so)
    )
    voices_share: float = 0.15  # the least share of the audio the held-out voices hold
    holdout: float = 0.2
    split_by: str | None = None  # a column (e.g. "speaker") whose values are held out together
    split_salt: str = SPLIT_SALT
    windows: tuple[int, ...] = ()  # windowed scale order: raw codes per window of W frames (plan)
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


#: The six variants at 32 merges and their raw rows, orpheus and the windowed orders: v4's arms.
V4_WINDOWS = (3, 12, 47)  # frames: about 0.25 s, 1 s and 4 s at 24 kHz (85.3 ms per frame)

PRESETS: dict[str, EvidenceSettings] = {
    "tiny": EvidenceSettings(
        variants=("plain", "cross_scale"),
        budgets=(50,),
        lm_merges=(0, 50),
        seeds=(0, 1),
        more_seeds=(2,),
        longer=0,
        windows=(3, 12),
        lm=replace(
            _lm(1, 32, 2, 20, 4, 64, 3e-3),
            settings=("equal_audio",),
            checkpoints=(10, 20),
            generation_tokens=8,
        ),
    ),
    "cpu-small": EvidenceSettings(
        variants=("plain", "cross_scale"),
        budgets=(1000, 4000, 16000),
        lm_merges=(0, 32, 128, 512, 4000),
        lm=replace(_lm(2, 128, 4, 120, 8, 256, 3e-3), settings=("equal_audio",)),
    ),
    "cpu-v4": EvidenceSettings(
        budgets=(32, 512),
        lm_merges=(0, 32),
        more_seeds=(),
        longer=0,
        voices_by=None,
        windows=V4_WINDOWS,
        lm=replace(_lm(2, 128, 4, 480, 8, 256, 3e-3), settings=("equal_audio",), checkpoints=(120, 240, 480)),
    ),
    "gpu": EvidenceSettings(
        budgets=(32, 512),
        lm_merges=(0, 32, 512),
        more_seeds=(),
        longer=0,
        windows=V4_WINDOWS,
        lm=replace(
            _lm(6, 384, 6, 4000, 32, 1024, 1e-3),
            settings=("equal_audio",),
            checkpoints=(500, 1000, 2000, 4000),
        ),
    ),
}


def preset(name: str) -> EvidenceSettings:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[name]
