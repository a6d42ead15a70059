"""Settings of the LM evaluation (no torch import: the command line reads its defaults here)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

#: The budget settings (see `snac_hf.lm.experiment`).
SETTINGS = ("equal_audio", "equal_steps")
#: The shortest window a tokenization trains on, in tokens.
MIN_WINDOW_TOKENS = 8


def equal_audio_window(window_seconds: float, tokens_per_second: float) -> int:
    """Tokens of a window that lasts `window_seconds` of audio at `tokens_per_second` (at least
    `MIN_WINDOW_TOKENS`): the equal-audio budget's window."""
    return max(MIN_WINDOW_TOKENS, round(window_seconds * tokens_per_second))


@dataclass(frozen=True)
class ModelSettings:
    """Architecture of the evaluation LM (a few Llama layers)."""

    num_layers: int = 2
    hidden_size: int = 64
    num_heads: int = 4
    intermediate_size: int | None = None  # default 4 x hidden_size
    max_positions: int = 4096

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class EvaluationSettings:
    model: ModelSettings = field(default_factory=ModelSettings)
    steps: int = 200
    batch_size: int = 8
    context: int = 256  # tokens per window: the raw-codes baseline's window and the equal_steps window
    learning_rate: float = 3e-3
    holdout: float = 0.2
    baseline: str | None = "cross_scale"  # serialization order of the raw-codes baseline (0 merges)
    settings: tuple[str, ...] = SETTINGS
    generation_tokens: int = 128
    seed: int = 0
    #: Learning curve: steps (ascending, the last = `steps`) after which the held-out split is scored
    #: during the one training (empty: only at the end). `snac_hf.lm.experiment.measure_one`.
    checkpoints: tuple[int, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)
