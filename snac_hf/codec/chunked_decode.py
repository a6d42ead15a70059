"""SNAC's decode of a long file in chunks: memory flat in the file's length, the audio the whole
file's (to float rounding).

SNAC's decoder holds its activations for the whole file at once: measured on SNAC 24 kHz
(offline model, float32, one thread), the process's peak grew by 488 MB for 10 s of codes and
1,902 MB for 60 s. Each output sample depends only on the latent steps within a finite distance,
the decoder's *reach*: `decoder_reach` walks its layers in order (as the encoder's reach is
walked for tokenize): a `Conv1d` (kernel k, dilation d, padding p) at a layer with J output
samples per latent step adds `max(p, d * (k - 1) - p) / J` latent steps, a `ConvTranspose1d`
(kernel k, stride s) adds `ceil(k / s)` of its input samples (`/ J`) and then multiplies J by s,
a `LocalMHA` of window w adds w (a step sees at most its window). Pointwise layers (Snake, the
noise, the residual sums) add nothing. SNAC 24 kHz: 11.0 steps (measured by changing one code:
10.3 steps), so 12 latent steps (6,144 samples, 0.26 s) of context, a whole padding multiple.

`decode_in_chunks` cuts the (padded) codes into chunks of `chunk_steps` latent steps, decodes each
with `context` steps of the neighbouring codes on both sides (clipped at the file's ends, so the
ends are decoded exactly as in the whole file), and keeps the samples of its own steps. Chunk
edges sit on multiples of the padding multiple, so every scale's codes split at whole codes and
the 32/44 kHz decoders' attention windows stay where the whole file puts them.

The noise: SNAC's `NoiseBlock`s add `randn * linear(x)`, drawn for the whole length at each block,
one block after the other. Drawn per chunk, the noise would differ, so the noise of every block is
drawn first, in the whole decode's order, sizes and dtype (under the caller's seed), and each
chunk's blocks use their slice of it. That noise is the only state that grows with the length:
840 values per latent step at 24 kHz (0.16 MB per audio-second in float32).

Measured (SNAC 24 kHz offline model, float32, one thread, 2-core machine at load 10-14): peak over
the loaded model 516 MB for 10 s and 628 MB for 60 s of codes in 5 s chunks, against 488 MB and
1,902 MB whole. Most of a chunk's figure is glibc keeping freed memory: with
`MALLOC_MMAP_THRESHOLD_=1048576`, 10 s and 30 s of codes peaked 83 and 99 MB chunked, 221 MB whole
for 10 s.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from snac_hf.codec.load import Codec

#: Audio per chunk (seconds, rounded to whole padding multiples); the contexts add 10% of decoder
#: work at 24 kHz (2 x 0.26 s per 5 s).
CHUNK_SECONDS = 5.0


def decoder_reach(decoder: torch.nn.Module) -> float:
    """Latent steps on each side of a step that its output samples depend on (module docstring)."""
    reach = 0.0
    samples_per_step = 1
    skip: set[int] = set()
    for module in decoder.modules():
        if id(module) in skip:
            continue
        window = getattr(module, "window_size", None)
        if isinstance(window, int):  # snac.attention.LocalMHA: a step sees at most its window
            reach += window / samples_per_step
            skip.update(id(m) for m in module.modules())
        elif isinstance(module, torch.nn.ConvTranspose1d):
            kernel, stride = module.kernel_size[0], module.stride[0]
            reach += math.ceil(kernel / stride) / samples_per_step
            samples_per_step *= stride
        elif isinstance(module, torch.nn.Conv1d):
            if isinstance(module.padding, str):
                raise ValueError(f"{module}: padding {module.padding!r} is not a number of samples")
            kernel, dilation, padding = module.kernel_size[0], module.dilation[0], module.padding[0]
            reach += max(padding, dilation * (kernel - 1) - padding) / samples_per_step
    return reach


def context_steps(codec: Codec) -> int:
    """Latent steps of context on each side of a chunk: the decoder's reach, rounded up to whole
    padding multiples."""
    multiple = codec.layout.pad_multiple // codec.layout.hop_length
    return math.ceil(decoder_reach(codec.model.decoder) / multiple) * multiple


def chunk_steps_for(codec: Codec, seconds: float = CHUNK_SECONDS) -> int:
    """Latent steps per chunk for `seconds` of audio: a whole number of padding multiples (>= 1)."""
    layout = codec.layout
    multiple = layout.pad_multiple // layout.hop_length
    steps = seconds * layout.sampling_rate / layout.hop_length
    return max(1, round(steps / multiple)) * multiple


def _noise_blocks(model: torch.nn.Module) -> list[torch.nn.Module]:
    """SNAC's `NoiseBlock`s, in the order the decoder runs them."""
    return [m for m in model.decoder.modules() if type(m).__name__ == "NoiseBlock"]


def _block_lengths(model: torch.nn.Module, steps: int) -> list[int]:
    """The length (samples at its rate) each NoiseBlock sees when the decoder runs `steps` steps."""
    lengths, samples_per_step = [], 1
    for module in model.decoder.modules():
        if isinstance(module, torch.nn.ConvTranspose1d):
            samples_per_step *= module.stride[0]
        elif type(module).__name__ == "NoiseBlock":
            lengths.append(steps * samples_per_step)
    return lengths


@contextlib.contextmanager
def _given_noise(blocks: Sequence[torch.nn.Module], noises: Sequence[torch.Tensor], steps: int, span: range):
    """Within the block, each NoiseBlock adds its slice of the pre-drawn noise (drawn for `steps`
    latent steps) for the latent steps `span`, instead of drawing its own; the same operations as
    SNAC's `NoiseBlock.forward`."""

    def forward_with(block: torch.nn.Module, noise: torch.Tensor):
        per_step = noise.shape[-1] // steps
        piece = noise[..., span.start * per_step : span.stop * per_step]

        def forward(x: torch.Tensor) -> torch.Tensor:
            return x + piece * block.linear(x)

        return forward

    for block, noise in zip(blocks, noises, strict=True):
        block.forward = forward_with(block, noise)
    try:
        yield
    finally:
        for block in blocks:
            del block.forward  # back to the class's forward


def draw_noise(codec: Codec, steps: int) -> list[torch.Tensor]:
    """The noise SNAC's NoiseBlocks draw when the decoder runs `steps` latent steps: the same
    sizes, order, device and dtype, from torch's current generator (the caller seeds it)."""
    parameter = next(codec.model.parameters())
    return [
        torch.randn((1, 1, length), device=parameter.device, dtype=parameter.dtype)
        for length in _block_lengths(codec.model, steps)
    ]


def decode_in_chunks(
    codec: Codec,
    padded: Sequence[np.ndarray],
    noises: Sequence[torch.Tensor],
    chunk_steps: int,
    context: int | None = None,
) -> Iterator[np.ndarray]:
    """The audio of `codec.model.decode(padded)` under the noise `noises` (`draw_noise`), chunk
    after chunk: float32 pieces whose concatenation is the whole decode's audio to float rounding
    (module docstring). `padded` are codes at a whole number of padding multiples (`pad_codes`);
    `chunk_steps` and `context` are whole padding multiples (`chunk_steps_for`, `context_steps`)."""
    model, layout = codec.model, codec.layout
    strides, hop = layout.vq_strides, layout.hop_length
    steps = len(padded[0]) * strides[0]
    context = context_steps(codec) if context is None else context
    blocks = _noise_blocks(model)
    device = next(model.parameters()).device
    tensors = [torch.from_numpy(np.asarray(c, dtype=np.int64)).view(1, -1).to(device) for c in padded]
    for start in range(0, steps, chunk_steps):
        end = min(steps, start + chunk_steps)
        left, right = max(0, start - context), min(steps, end + context)
        codes = [t[:, left // s : right // s] for t, s in zip(tensors, strides, strict=True)]
        with torch.inference_mode(), _given_noise(blocks, noises, steps, range(left, right)):
            audio = model.decode(codes)[0, 0]
        piece = audio[(start - left) * hop : (end - left) * hop].float().cpu().numpy()
        del audio, codes
        _return_freed_memory()
        yield piece


def _return_freed_memory() -> None:
    """Hand the memory a chunk freed back to the system (glibc's `malloc_trim`; elsewhere nothing).
    After its first large frees glibc raises its mmap threshold (up to 32 MB) and keeps the next
    chunks' activations on a heap it does not shrink: measured on SNAC 24 kHz, 10 s of codes in
    5 s chunks peaked 706 MB over the loaded model without this, like a whole 10 s decode (488 MB)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC = _glibc()
