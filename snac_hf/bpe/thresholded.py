"""Thresholded BPE: plain BPE that only merges pairs seen at least `min_frequency` times.

Definition. The serialization, pre-tokenization and merge order of `plain` (scale by scale, merges
inside one scale), but training stops as soon as the most frequent remaining pair occurs fewer
than `min_frequency` times in the training corpus (default 100, as in the original README's
`thresholded_bpe(tokens, min_freq=100)`). `num_merges` is then an upper bound: the vocabulary can
end smaller, and the saved metadata records how many merges were learned. This is exactly the
README's loop (drop pairs below the threshold; stop when none is left), done by `BpeTrainer`'s
`min_frequency`, which ends training at the first pair below it.

A frequency threshold is relative to the corpus size: 100 is strict on a few minutes of audio and
loose on thousands of hours. Subsampling (see `training.py`) lowers every count proportionally.
"""

from __future__ import annotations

from snac_hf.bpe.plain import PlainBPE


class ThresholdedBPE(PlainBPE):
    name = "thresholded"
    default_min_frequency = 100

    def check_min_frequency(self, min_frequency: int | None) -> int:
        value = super().check_min_frequency(min_frequency)
        if value < 2:
            raise ValueError(
                f"thresholded BPE needs min_frequency >= 2 (below that it is plain BPE), got {value}"
            )
        return value
