"""The cost side of a tokenization, per audio-hour, from its LM records. No torch.

- tokens per audio-second: held-out audio tokens / held-out seconds (specials excluded).
- training FLOPs per audio-hour: the usual estimate C = 6 N D + attention (Kaplan et al. 2020,
  section 2.1), per token `6 * (non-embedding parameters + vocab x hidden) + 6 * layers * window *
  hidden`: the input embedding is a lookup (no multiply), the output projection is a GEMM; D =
  tokens per audio-hour = tokens per audio-second x 3600. Fewer tokens per second mean fewer FLOPs,
  a larger vocabulary more.
- training wall seconds per audio-hour: measured train seconds / audio-seconds seen x 3600 (on the
  machine the run used; mean over seeds).
- generation audio-seconds per second: sampling with the KV cache at batch 1 (mean over seeds).
"""

from __future__ import annotations

import numpy as np


def flops_per_token(record: dict, num_layers: int, hidden_size: int) -> float:
    output_projection = record["vocab_size"] * hidden_size
    attention = num_layers * record["window_tokens"] * hidden_size
    return 6.0 * (record["parameters_non_embedding"] + output_projection + attention)


def cost_rows(results: list[dict], setting: str, num_layers: int, hidden_size: int) -> list[dict]:
    """One row per tokenization of `setting` (means over its seeds), in result order."""
    names = list(dict.fromkeys(r["tokenization"] for r in results if r["setting"] == setting))
    rows = []
    for name in names:
        runs = [r for r in results if r["setting"] == setting and r["tokenization"] == name]
        first = runs[0]
        per_token = flops_per_token(first, num_layers, hidden_size)
        rows.append(
            {
                "tokenization": name,
                "vocab_size": first["vocab_size"],
                "tokens_per_second": first["tokens_per_second"],
                "window_tokens": first["window_tokens"],
                "flops_per_audio_hour": per_token * first["tokens_per_second_train"] * 3600,
                "train_seconds_per_audio_hour": float(
                    np.mean([r["train_seconds"] / r["audio_seconds_seen"] * 3600 for r in runs])
                ),
                "generation_audio_seconds_per_second": float(
                    np.mean([r["generation_audio_seconds_per_second"] for r in runs])
                ),
                "bits_per_second": float(np.mean([r["bits_per_second"] for r in runs])),
            }
        )
    return rows
