"""`torch.compile` of SNAC's encoder, built so that on CPU it gives eager's latents bit for bit.

A plain `torch.compile(model.encoder)` is ~1.5x faster on CPU but changes codes (measured: 96.8%
agreement with eager on the bundled speech). Two things differ, both found by comparing layer by
layer (BENCHMARKS.md, "Encoder options"):

1. **Weight norm.** SNAC's convolutions recompute `g * v / ||v||` on every call; compiled, the
   norm is an inductor reduction that sums in another order. Here the weights are computed once,
   eagerly, and the parametrization is removed (`folded_model`: a fresh model, since
   `remove_parametrizations` on a deep copy would delete the property from the class it shares
   with the original). They are folded after the model is moved to its device and dtype, by the
   kernel an eager call would use there, so they are the weights an eager call computes, bit for
   bit (folded in float32 and then converted, float64 weights differed from eager's by up to
   2.6e-7). The eager encoder of `snac_hf.codec.encode` uses the folded model too: the same bits,
   36 fewer operations per bucket.
2. **sin.** Eager `torch.sin` on CPU and inductor's generated sin are different implementations
   (21% of values differ in the last bit on speech-sized tensors). The Snake activation
   `x + sin(alpha x)^2 / (alpha + 1e-9)` is rebuilt with `eager_sin`, an opaque custom op that
   inductor calls instead of generating; the multiplications and additions around it are single
   IEEE operations, so their fused code rounds as eager does (inductor's C++ is compiled without
   floating-point contraction, so no FMA).

Convolutions stay aten calls (extern kernels) in the compiled graph, with the same arguments as
eager. What remains faster is the fusion of the activations and residual additions. On CUDA
none of this is proven: inductor generates Triton kernels there, and whether their codes equal
eager's is what `bench/gpu_check.py` measures.
"""

from __future__ import annotations

import torch
from snac import SNAC
from snac.layers import Snake1d
from torch.nn.utils import parametrize

from snac_hf.codec.load import Codec


@torch.library.custom_op("snac_hf::eager_sin", mutates_args=())
def eager_sin(x: torch.Tensor) -> torch.Tensor:
    """`torch.sin`, opaque to inductor (so it runs eager's kernel, not a generated one)."""
    return torch.sin(x)


@eager_sin.register_fake
def _eager_sin_shape(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


class EagerSinSnake(torch.nn.Module):
    """`snac.layers.Snake1d` with the same operations in the same order, sin through `eager_sin`."""

    def __init__(self, alpha: torch.Tensor):
        super().__init__()
        self.alpha = torch.nn.Parameter(alpha.detach().clone(), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.reshape(shape[0], shape[1], -1)
        x = x + (self.alpha + 1e-9).reciprocal() * eager_sin(self.alpha * x).pow(2)
        return x.reshape(shape)


def folded_model(codec: Codec, device: torch.device, dtype: torch.dtype) -> SNAC:
    """A fresh copy of the codec's model on `device` in `dtype`, its weight norm folded into plain
    weights there (after the move: each weight is what an eager call computes on that device in
    that dtype). The codec's own model is untouched."""
    fresh = SNAC(**codec.config)
    fresh.load_state_dict(codec.model.state_dict())
    fresh = fresh.to(device=device, dtype=dtype).eval()
    with torch.no_grad():
        for module in [m for m in fresh.modules() if parametrize.is_parametrized(m)]:
            for name in list(module.parametrizations):
                parametrize.remove_parametrizations(module, name, leave_parametrized=True)
    return fresh


def plain_encoder(codec: Codec, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """`folded_model`'s encoder with every Snake activation an `EagerSinSnake`; eager, it gives
    the original's outputs bit for bit."""
    encoder = folded_model(codec, device, dtype).encoder
    for parent in list(encoder.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, Snake1d):
                setattr(parent, name, EagerSinSnake(child.alpha))
    return encoder.to(device=device, dtype=dtype).eval()


def compiled_encoder(codec: Codec, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """`torch.compile` of `plain_encoder` (compiled lazily, on its first call of each shape).

    Shapes are static at first; dynamo's automatic dynamic shapes recompile once with a symbolic
    length when a second length arrives, so a job pays two compilations, not one per length.
    """
    return torch.compile(plain_encoder(codec, device, dtype))
