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

import os
from pathlib import Path

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
    """The published architecture of `model` with weights drawn from `torch.manual_seed(seed)`."""
    key = model if "/" in model else f"hubertsiuzdak/{model}"
    config = dict(SNAC_CONFIGS[key])
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        snac = SNAC(**config).eval()
    finally:
        torch.random.set_rng_state(generator_state)
    return snac, config


def build_random_model(out: str | os.PathLike, model: str = DEFAULT_MODEL, seed: int = 0) -> Path:
    """Write a model folder with seeded-random weights; returns its path."""
    snac, config = seeded_snac(model, seed)
    marker = {"weights": "seeded-random", "architecture": model, "seed": seed, "notice": RANDOM_NOTICE}
    save_model_folder(snac, config, out, marker)
    return Path(out)
