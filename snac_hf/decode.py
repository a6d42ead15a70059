"""Token ids -> SNAC codes -> audio: the way back from a token set or an LM's output.

    from snac_hf.decode import decode_ids, write_audio
    audio = decode_ids(tokenizer, codec, ids, n_samples=None)   # float32 samples at codec rate
    write_audio("out.wav", audio, codec.layout.sampling_rate)

Steps, each exact:

1. ids -> codes per scale with `AudioTokenizer.decode` (the merge API: special tokens skipped,
   lossless for every BPE variant).
2. codes -> SNAC's `decode`. SNAC sums each scale's embeddings after repeating them `vq_strides[k]`
   times, so every scale must cover the same number of latent steps, and the decoder's local
   attention (32/44 kHz) wants a multiple of its window. A token set keeps only the codes whose
   span starts inside the real audio (`CodecLayout.n_codes`), so the last frame may be partial:
   `pad_codes` repeats each scale's last code up to `pad_multiple` worth of latent steps. Codes
   already at that length (any whole number of padding multiples) are passed through unchanged, so
   for them the audio is `codec.model.decode(codes)` bit for bit under the same torch seed (SNAC's
   decoder adds seeded Gaussian noise, see `codes_to_audio`; tests/test_decode.py checks it).
3. audio -> trimmed to `n_samples` (the original length, `round(duration * rate)`, when known)
   and written as 32-bit float WAV at the codec's rate (`snac_hf.wav`, standard library only,
   lossless; the untrained decoder of the offline models produces noise that may exceed [-1, 1]).

The offline models (`snac_hf.codebook_fit`) have untrained decoders: audio decoded with them is
noise, whatever the tokens. Only the pretrained SNAC decoder makes speech.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from snac_hf.bpe.tokenizer import AudioTokenizer
from snac_hf.codec import Codec
from snac_hf.layout import CodecLayout
from snac_hf.wav import write_float_wav


def latent_steps(layout: CodecLayout, codes_per_scale: Sequence[np.ndarray]) -> int:
    """Latent steps (hops) SNAC's decoder needs for these codes: enough for the longest scale,
    rounded up to the padding multiple."""
    covered = max(
        len(codes) * stride for codes, stride in zip(codes_per_scale, layout.vq_strides, strict=True)
    )
    multiple = layout.pad_multiple // layout.hop_length
    return -(-max(covered, 1) // multiple) * multiple


def pad_codes(layout: CodecLayout, codes_per_scale: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Each scale's codes (int64), repeating its last code to `latent_steps / vq_strides[k]` codes."""
    steps = latent_steps(layout, codes_per_scale)
    padded = []
    for k, codes in enumerate(codes_per_scale):
        codes = np.asarray(codes, dtype=np.int64)
        if codes.size == 0:
            raise ValueError(f"scale {k} has no codes: nothing to decode")
        target = steps // layout.vq_strides[k]
        padded.append(np.pad(codes, (0, target - codes.size), mode="edge"))
    return padded


def whole_frames(layout: CodecLayout, codes_per_scale: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The longest prefix of whole frames the codes hold (frames = complete coarse steps with all
    their children), for codes from a model that may stop anywhere or unbalance the scales."""
    frames = min(len(c) // n for c, n in zip(codes_per_scale, layout.codes_per_frame, strict=True))
    return [np.asarray(c)[: frames * n] for c, n in zip(codes_per_scale, layout.codes_per_frame, strict=True)]


def codes_to_audio(
    codec: Codec, codes_per_scale: Sequence[np.ndarray], n_samples: int | None = None, seed: int | None = 0
) -> np.ndarray:
    """SNAC's decode of one file's codes (padded by `pad_codes`), float32, trimmed to `n_samples`.

    SNAC's decoder adds Gaussian noise (its `NoiseBlock`s draw from torch's global generator); with
    `seed` set, the draw happens under `torch.manual_seed(seed)` inside `torch.random.fork_rng`,
    so the result is reproducible and the caller's random state is left alone. `seed=None` draws
    from the global generator as SNAC does.
    """
    padded = pad_codes(codec.layout, codes_per_scale)
    model = codec.model
    parameter = next(model.parameters())
    with torch.inference_mode(), torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        tensors = [torch.from_numpy(c).view(1, -1).to(parameter.device) for c in padded]
        audio = model.decode(tensors)[0, 0].float().cpu().numpy()
    return audio[:n_samples] if n_samples is not None else audio


def decode_ids(
    tokenizer: AudioTokenizer,
    codec: Codec,
    ids: Sequence[int] | np.ndarray,
    n_samples: int | None = None,
    strict: bool = True,
    seed: int | None = 0,
) -> np.ndarray:
    """Audio of one token-id sequence (special tokens are skipped). `strict=False` accepts codes
    cut mid-frame (an LM stopped anywhere): they are padded like any partial frame."""
    check_same_layout(tokenizer.layout, codec.layout)
    return codes_to_audio(codec, tokenizer.decode(ids, strict=strict), n_samples, seed)


def check_same_layout(tokenizer_layout: CodecLayout, codec_layout: CodecLayout) -> None:
    if tokenizer_layout.vq_strides != codec_layout.vq_strides or (
        tokenizer_layout.codebook_size != codec_layout.codebook_size
    ):
        raise ValueError(
            f"the tokenizer was trained on codes of another codec layout ({tokenizer_layout}) than the "
            f"model's ({codec_layout})"
        )


def write_audio(path: str | os.PathLike, audio: np.ndarray, sampling_rate: int) -> Path:
    """Write mono float32 samples as a 32-bit float WAV (lossless)."""
    return write_float_wav(path, audio, sampling_rate)


def safe_file_name(file_id: str) -> str:
    """A flat file name for a token-set id such as `speakers/a/001.flac`."""
    stem = os.path.splitext(file_id)[0]
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in stem).strip("._") or "audio"


def decode_rows(
    rows: Sequence[dict],
    codec: Codec,
    out_dir: str | os.PathLike,
    tokenizer: AudioTokenizer | None = None,
) -> list[Path]:
    """Decode token-set rows to `out_dir/<id>.wav`.

    A row holds `input_ids` (decoded with `tokenizer`) or `tokens_scale_k` columns (decoded as they
    are); `duration`, when present, trims the audio to `round(duration * rate)` samples; `id`
    names the file (else `row_<i>`).
    """
    paths = []
    rate = codec.layout.sampling_rate
    n_scales = codec.layout.n_scales
    for i, row in enumerate(rows):
        n_samples = round(float(row["duration"]) * rate) if row.get("duration") is not None else None
        if "input_ids" in row:
            if tokenizer is None:
                raise ValueError("rows hold input_ids: pass the tokenizer that made them (--tokenizer)")
            audio = decode_ids(tokenizer, codec, row["input_ids"], n_samples)
        else:
            codes = [np.asarray(row[f"tokens_scale_{k}"]) for k in range(n_scales)]
            audio = codes_to_audio(codec, codes, n_samples)
        name = safe_file_name(str(row.get("id") or f"row_{i}"))
        paths.append(write_audio(Path(out_dir) / f"{name}.wav", audio, rate))
    return paths
