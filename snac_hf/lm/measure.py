"""Held-out negative log-likelihood (bits per audio-second) and generation speed.

**What is scored.** A held-out file's sequence is `<bos> <audio_start> a_1 ... a_n <audio_end>
<eos>`. The model is conditioned on `<bos> <audio_start>` and scored on `a_1 ... a_n <audio_end>`
(the end marker counts: it says where the audio stops; `<eos>` after it is certain and left out).
Every tokenization is lossless, so the same audio costs the same information whatever the
tokens: bits per audio-second = sum of -log2 p(token) over every scored token of every held-out
file / sum of held-out durations.

**Windows.** A sequence longer than the window is scored in windows of `window` tokens that start
every `window - 1` tokens (each overlaps the previous one by the single token it is conditioned
on), so every token is predicted exactly once, from the tokens of its own window before it: no
context crosses a window start. Windows of one file are independent; nothing crosses files.

**Generation speed.** Sampling (`do_sample=True`, KV cache) of `new_tokens` tokens after `<bos>
<audio_start>`, batch 1, after one short warm-up call; audio-seconds per second = new tokens /
tokens per audio-second / wall seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
import torch


def scoring_windows(length: int, window: int) -> list[tuple[int, int]]:
    """(start, stop) of the windows covering a sequence of `length` tokens (see module docstring)."""
    if window < 2:
        raise ValueError("window must hold at least 2 tokens")
    spans, start = [], 0
    while start < length - 1:
        spans.append((start, min(length, start + window)))
        start += window - 1
    return spans


def held_out_nll(
    model: torch.nn.Module,
    sequences: Sequence[np.ndarray],
    window: int,
    pad_id: int,
    batch_size: int = 16,
    first_scored: int = 2,
    last_unscored: int = 1,
    part: tuple[int, int] = (0, 1),
) -> dict:
    """{"nats", "bits", "tokens"}: NLL of positions `first_scored .. len - 1 - last_unscored` of
    every sequence (by default everything after `<bos> <audio_start>` up to `<audio_end>`).

    `part=(i, n)` scores only windows i, i + n, i + 2n, ... (process i of n; the n parts sum to
    the whole, see `experiment.measure_one`)."""
    rows, masks = [], []
    for sequence in sequences:
        scored_from, scored_to = first_scored, len(sequence) - last_unscored  # [from, to)
        for start, stop in scoring_windows(len(sequence), window):
            row = np.full(window, pad_id, dtype=np.int64)
            row[: stop - start] = sequence[start:stop]
            positions = np.arange(start + 1, start + window)  # the token each logit predicts
            mask = (positions >= max(scored_from, start + 1)) & (positions < min(scored_to, stop))
            rows.append(row)
            masks.append(mask)
    index, count_parts = part
    rows, masks = rows[index::count_parts], masks[index::count_parts]
    device = next(model.parameters()).device
    total, count = 0.0, 0
    with torch.inference_mode():
        for i in range(0, len(rows), batch_size):
            ids = torch.from_numpy(np.stack(rows[i : i + batch_size])).to(device)
            mask = torch.from_numpy(np.stack(masks[i : i + batch_size])).to(device)
            logits = model(input_ids=ids).logits[:, :-1].float()
            log_probs = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:, None])[..., 0]
            total -= float(log_probs[mask].double().sum())
            count += int(mask.sum())
    return {"nats": total, "bits": total / math.log(2), "tokens": count}


def generation_speed(
    model: torch.nn.Module, prompt: Sequence[int], new_tokens: int, tokens_per_second: float, seed: int = 0
) -> dict:
    """{"tokens_per_second", "audio_seconds_per_second", "new_tokens", "seconds"} of sampling."""
    device = next(model.parameters()).device
    ids = torch.tensor([list(prompt)], device=device)
    options = {"do_sample": True, "top_k": 0, "use_cache": True, "pad_token_id": model.config.pad_token_id}
    torch.manual_seed(seed)
    with torch.inference_mode():
        model.generate(ids, max_new_tokens=4, min_new_tokens=4, **options)  # warm-up
        started = time.perf_counter()
        out = model.generate(ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, **options)
        seconds = time.perf_counter() - started
    generated = out.shape[1] - ids.shape[1]
    return {
        "new_tokens": int(generated),
        "seconds": seconds,
        "tokens_per_second": generated / seconds,
        "audio_seconds_per_second": generated / tokens_per_second / seconds,
    }
