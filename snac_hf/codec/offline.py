"""Model folders snac_hf can build without the Hub: the real SNAC architecture, seeded weights.

The pretrained SNAC weights cannot be downloaded everywhere (CI, air-gapped clusters). For the
demo and the tests snac_hf builds a folder `load_codec` reads like a downloaded snapshot:

- `build_random_model`: every weight seeded-random. Its tokens collapse to a few dozen codes per
  scale on real speech: fine for testing plumbing, meaningless as statistics.
- `snac_hf.codec.codebook_fit.build_fitted_model`: the same seeded encoder with quantizer codebooks fit
  to real speech, whose tokens spread over thousands of codes like a real codec's.

Both write `snac_hf.json` with a notice that every output made with the model repeats.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

import numpy as np
import torch
from snac import SNAC

from snac_hf.codec.model_folder import DEFAULT_MODEL, save_model_folder
from snac_hf.layout import SNAC_CONFIGS

RANDOM_NOTICE = (
    "Encoded with a SNAC model whose weights are seeded-random (no pretrained weights available "
    "offline): these tokens are NOT meaningful audio tokens, and their statistics say nothing "
    "about pretrained SNAC."
)


def seeded_snac(model: str = DEFAULT_MODEL, seed: int = 0) -> tuple[SNAC, dict]:
    """The published architecture of `model` with seeded weights that are bit-identical on every machine.

    torch's own initialisation is not: its vectorized kernels (and the weight-norm reduction) may
    round differently on another CPU. So every parameter is drawn with numpy's PCG64 generator
    (`numpy.random.default_rng(seed)`, the same bits on every platform), in state-dict order, with
    torch's default scales: a convolution or linear weight `v` and its bias uniform in +-1/sqrt(fan_in)
    (kaiming-uniform with a = sqrt(5)), a codebook standard normal (`nn.Embedding`), Snake's alpha
    and a norm's weight 1, a norm's bias 0. Weight norm's magnitude `g` is the exact L2 norm of each
    output row of `v` (`math.fsum` of the float64 squares, then one rounding to float32). Buffers
    (rotary frequencies) keep the values SNAC computes.
    """
    key = model if "/" in model else f"hubertsiuzdak/{model}"
    config = dict(SNAC_CONFIGS[key])
    snac = SNAC(**config).eval()
    state = snac.state_dict()
    parameters = dict(snac.named_parameters())
    rng = np.random.default_rng(seed)
    values: dict[str, np.ndarray] = {}
    for name, tensor in state.items():
        if name in parameters and not name.endswith(".original0"):  # g is derived below
            values[name] = _draw(name, tuple(tensor.shape), state, rng)
    for name in state:
        if name.endswith(".original0"):
            values[name] = _row_norms(values[name.removesuffix("original0") + "original1"])
    snac.load_state_dict({**state, **{n: torch.from_numpy(v) for n, v in values.items()}})
    return snac, config


def _draw(
    name: str, shape: tuple[int, ...], state: dict[str, torch.Tensor], rng: np.random.Generator
) -> np.ndarray:
    """One parameter's seeded values (see `seeded_snac`)."""
    last = name.rsplit(".", 1)[-1]
    if last == "alpha" or (last == "weight" and len(shape) == 1):  # Snake alpha, norm weight
        return np.ones(shape, np.float32)
    if "codebook" in name:
        return rng.standard_normal(shape).astype(np.float32)
    if last == "bias":
        weight = _weight_of(name.removesuffix(".bias"), state)
        if weight is None:  # a norm's bias
            return np.zeros(shape, np.float32)
        return _uniform(rng, shape, weight[0].numel())
    if last in ("original1", "weight"):
        return _uniform(rng, shape, math.prod(shape[1:]))
    raise ValueError(f"seeded_snac: no initialisation rule for parameter {name} {shape}")


def _weight_of(module: str, state: dict[str, torch.Tensor]) -> torch.Tensor | None:
    for key in (f"{module}.parametrizations.weight.original1", f"{module}.weight"):
        if key in state and state[key].dim() > 1:
            return state[key]
    return None


def _uniform(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    bound = 1.0 / math.sqrt(fan_in)
    return (rng.uniform(-1.0, 1.0, shape) * bound).astype(np.float32)


def _row_norms(v: np.ndarray) -> np.ndarray:
    """Exact per-output-row L2 norms of `v`, shaped like weight norm's `g` (out, 1, 1, ...)."""
    rows = v.reshape(v.shape[0], -1).astype(np.float64)
    norms = [math.sqrt(math.fsum((row * row).tolist())) for row in rows]  # float32^2 is exact in float64
    return np.asarray(norms, np.float64).astype(np.float32).reshape(v.shape[0], *([1] * (v.ndim - 1)))


def weights_digest(snac: SNAC) -> str:
    """SHA-256 of every tensor of the state dict (name, dtype, shape, bytes): equal weights, equal digest."""
    digest = hashlib.sha256()
    for name, tensor in snac.state_dict().items():
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(f"{name}:{array.dtype}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def build_random_model(out: str | os.PathLike, model: str = DEFAULT_MODEL, seed: int = 0) -> Path:
    """Write a model folder with seeded-random weights; returns its path."""
    snac, config = seeded_snac(model, seed)
    marker = {
        "weights": "seeded-random",
        "architecture": model,
        "seed": seed,
        "weights_sha256": weights_digest(snac),
        "notice": RANDOM_NOTICE,
    }
    save_model_folder(snac, config, out, marker)
    return Path(out)
