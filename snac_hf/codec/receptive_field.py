"""How much audio on each side of a segment makes its codes the whole file's: the encoder's reach.

SNAC's encoder is convolutions (and, in the 32/44 kHz models, local attention over windows that
start at the input's first frame); its quantizer pools whole frames. So the codes of samples
`a:b` depend only on samples `a - left:b - hop + right`, where `left` and `right` are the
encoder's *reach*, found by walking its layers in order: a `Conv1d` (kernel k, dilation d,
stride s, padding p) at a point where one frame spans J samples adds `p * J` on the left and
`(d * (k - 1) - p) * J` on the right, then a frame spans `s * J`; a `LocalMHA` of window w adds
`(w - 1) * J` on both sides (a frame sees at most its window). Pointwise layers (Snake, 1x1
convolutions, the residual sums, which add a branch of the same reach) add nothing.

A segment widened by `context_samples` on both sides (a multiple of the padding multiple, so
every layer's frame grid and every attention window stays where the whole file puts it) then
gives the whole-file codes of its core: `context_for(codec)` is the smallest such context,
`ceil(max(left, right - hop + 1) / pad_multiple) * pad_multiple` (SNAC 24 kHz: reach 4,757
samples left and 5,268 right, context 6,144 samples = 0.256 s; 32 and 44 kHz: 15,503 and 15,884,
context 24,576 samples). The reach is an upper bound: in float64 on the bundled 7.1 s file with
1 s segments, 4,096 samples of context already gave the whole-file codes, 2,048 gave 87.5% of them.
"""

from __future__ import annotations

import torch

from snac_hf.codec.load import Codec


def encoder_reach(encoder: torch.nn.Module) -> tuple[int, int, int]:
    """(left, right, hop): the samples before and after a latent frame's first sample that it
    depends on, and the samples per latent frame (module docstring)."""
    left = right = 0
    span = 1
    skip: set[int] = set()
    for module in encoder.modules():
        if id(module) in skip:
            continue
        window = getattr(module, "window_size", None)
        if isinstance(window, int):  # snac.attention.LocalMHA: its own layers are inside the window
            left += (window - 1) * span
            right += (window - 1) * span
            skip.update(id(m) for m in module.modules())
        elif isinstance(module, torch.nn.Conv1d):
            if isinstance(module.padding, str):
                raise ValueError(f"{module}: padding {module.padding!r} is not a number of frames")
            kernel, dilation = module.kernel_size[0], module.dilation[0]
            stride, padding = module.stride[0], module.padding[0]
            left += padding * span
            right += (dilation * (kernel - 1) - padding) * span
            span *= stride
    return left, right, span


def context_for(codec: Codec) -> int:
    """The smallest context (samples, a multiple of the padding multiple) with which a segment's
    codes equal the whole file's."""
    left, right, hop = encoder_reach(codec.model.encoder)
    if hop != codec.layout.hop_length:
        raise ValueError(
            f"the encoder's layers give a hop of {hop} samples, the codec says {codec.layout.hop_length}"
        )
    pad = codec.layout.pad_multiple
    return -(-max(left, right - hop + 1, 0) // pad) * pad
