"""One split of an evidence run and its LM trainings: the tokenizations encoded on it, each one's
window per budget setting, and the run records that make every training resumable.

An `Arm` is the hash split (the run's folder) or the held-out-voices split (its own folder,
`VOICES_DIR`, with its own tokenizers, compression records and `runs/`: a tokenizer is trained on
the train side of its own split only). `train(jobs)` gives one result row per job, each loaded
from its record or trained now (`snac_hf.lm.experiment.measure_one`) and recorded: every process
first loads what is recorded, then all wait (so every process agrees on what is left, before any
record is written), then the rest is trained. The equal-audio window lasts `context / raw codes
per second` of the arm's train split: `max(8, round(window_seconds * tokens per second))` tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from datasets import Dataset

from snac_hf.bpe.corpus import file_code_counts
from snac_hf.evidence.costs import flops_per_token
from snac_hf.evidence.runs import Training, load_record, save_record
from snac_hf.evidence.settings import EvidenceSettings
from snac_hf.evidence.splits import durations_of
from snac_hf.lm.settings import equal_audio_window
from snac_hf.tokenset.schema import n_scales_of

logger = logging.getLogger(__name__)

VOICES_DIR = "held_out_voices"


@dataclass(frozen=True)
class Job:
    """One result row to produce: a tokenization's training in a budget setting, at a seed and steps."""

    tokenization: str
    setting: str
    seed: int
    steps: int
    phase: str  # "curve", "more_seeds", "longer" or "voices"


@dataclass
class Arm:
    folder: Path  # where its tokenizers/, compression/ and runs/ are
    train_set: Dataset
    held_out: Dataset
    settings: EvidenceSettings
    inputs: Callable[[Training], dict]  # what a training's record holds under `run`
    accelerator: object
    record_inputs: dict = field(
        default_factory=dict
    )  # codes, source, layout, split: under a compression record's `run`
    tokenizations: dict = field(default_factory=dict)  # name -> snac_hf.lm.sequences.Tokenization

    @cached_property
    def window_seconds(self) -> float:
        """Audio-seconds of the equal-audio window: `context` raw codes of this train split."""
        return self.settings.lm.context / raw_codes_per_second(self.train_set)

    def window(self, name: str, setting: str) -> int:
        if setting == "equal_steps":
            return self.settings.lm.context
        return equal_audio_window(self.window_seconds, self.tokenizations[name].train.tokens_per_second)

    def training(self, job: Job) -> Training:
        return Training(job.tokenization, self.window(job.tokenization, job.setting), job.steps, job.seed)

    def train(self, jobs: list[Job], what: str) -> list[dict]:
        """One result row per job (module docstring); logs how many trainings `what` had done before."""
        from snac_hf.lm.experiment import measure_one

        done = {}
        for training in dict.fromkeys(map(self.training, jobs)):
            record = load_record(self.folder, training, self.inputs(training))
            if record is not None:
                done[training] = record
        self.accelerator.wait_for_everyone()  # every process decided what is done before anything is written
        todo = len({self.training(job) for job in jobs} - done.keys())
        logger.info("LM trainings %s: %d done before, %d to run", what, len(done), todo)
        rows = []
        for job in jobs:
            training = self.training(job)
            if training not in done:
                lm = self.settings.lm_for_seed(job.seed, job.steps)
                done[training] = with_checkpoint_flops(
                    measure_one(self.tokenizations[job.tokenization], training.window, lm, self.accelerator),
                    lm.model,
                )
                if self.accelerator.is_main_process:
                    save_record(self.folder, training, done[training], self.inputs(training))
            rows.append(
                {**done[training], "tokenization": job.tokenization, "setting": job.setting, "seed": job.seed,
                 "phase": job.phase}
            )  # fmt: skip
        return rows


def with_checkpoint_flops(record: dict, model) -> dict:
    """`record` with each learning-curve checkpoint's training FLOPs so far (`costs.flops_per_token`
    x the tokens seen by then): what the equal-FLOPs comparison interpolates between."""
    per_token = flops_per_token(record, model.num_layers, model.hidden_size)
    for checkpoint in record.get("checkpoints", []):
        checkpoint["train_flops"] = per_token * checkpoint["tokens_seen"]
    return record


def raw_codes_per_second(train_set: Dataset) -> float:
    """Codes (all scales) per audio-second of a split: what one raw-code token stands for."""
    codes = file_code_counts(train_set, n_scales_of(train_set.column_names))
    return float(codes.sum() / durations_of(train_set).sum())
