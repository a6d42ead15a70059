"""One audio value -> mono float32 samples at the codec's rate.

`decode_audio` turns one undecoded `datasets.Audio` value (a path or bytes) into samples through
the `datasets.Audio` feature (torchcodec/FFmpeg resample and downmix). Decoding row by row is what
lets one unreadable file fail alone instead of the whole batch.
"""

from __future__ import annotations

import numpy as np
from datasets import Audio


class AudioDecodeError(ValueError):
    """One file could not be turned into samples; the message names the reason."""


def decode_audio(value: dict, sampling_rate: int) -> np.ndarray:
    """Mono float32 samples at `sampling_rate` from one undecoded `Audio` value."""
    feature = Audio(sampling_rate=sampling_rate, num_channels=1)
    try:
        samples = feature.decode_example(value).get_all_samples().data
    except Exception as error:  # torchcodec raises RuntimeError/ValueError with C++ context
        reason = str(error).strip().splitlines()[0][:200]
        raise AudioDecodeError(f"cannot decode audio ({type(error).__name__}: {reason})") from error
    samples = samples.numpy().reshape(-1).astype(np.float32, copy=False)
    if samples.size == 0:
        raise AudioDecodeError("empty audio (0 samples)")
    if not np.isfinite(samples).all():
        raise AudioDecodeError("audio contains NaN or infinite samples")
    return samples
