"""A SNAC model folder on disk: its file names, how snac_hf writes one, and where the offline
stand-in models are cached. The lowest layer of the torch side (`load`, `offline` and
`codebook_fit` import it; it imports nothing of theirs).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from snac import SNAC

DEFAULT_MODEL = "hubertsiuzdak/snac_24khz"
#: Short `--model` names of the offline stand-in models (`cached_model_dir` kinds): typed instead of
#: their cache path in every command. A path that exists is always a path (a folder named `offline`).
OFFLINE_NAMES = {"offline": "fitted", "offline-random": "random"}
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
MARKER_FILE = "snac_hf.json"


def save_model_folder(snac: SNAC, config: dict, folder: str | os.PathLike, marker: dict) -> None:
    """Write a model folder `load_codec` (and `SNAC.from_pretrained`) reads."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    torch.save(snac.state_dict(), folder / "pytorch_model.bin")
    (folder / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n")


#: Bump when the fit algorithm or its inputs change: cached folders carry it in their name.
FIT_VERSION = 2  # 2: portable seeded encoder + committed codebooks


def cached_model_dir(kind: str = "fitted", model: str = DEFAULT_MODEL, seed: int = 0) -> Path:
    """Where the offline model of `kind` ("fitted" or "random") is cached for this torch version."""
    home = Path(os.environ.get("SNAC_HF_HOME", Path.home() / ".cache" / "snac_hf"))
    short = model.rsplit("/", 1)[-1]
    return (
        home / "models" / f"{short}-{kind}-v{FIT_VERSION}-seed{seed}-torch{torch.__version__.split('+')[0]}"
    )


def resolve_model(model: str) -> str:
    """`model` with a short offline name (`OFFLINE_NAMES`) replaced by its cached folder; a
    CodecLoadError-free ValueError when that folder was never built (it says how to build it)."""
    if model not in OFFLINE_NAMES or os.path.exists(model):
        return model
    kind = OFFLINE_NAMES[model]
    folder = cached_model_dir(kind)
    if not (folder / "config.json").is_file():
        build = "snac-hf offline-model" + (" --random" if kind == "random" else "")
        raise ValueError(f"--model {model}: the offline model is not built here ({folder}); run `{build}`")
    return str(folder)
