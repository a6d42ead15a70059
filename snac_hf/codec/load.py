"""Loading a SNAC codec: a Hub id, a local model folder, or a fine-tuned checkpoint.

Three sources, one result (`Codec`: the model in eval mode, its config, its `CodecLayout`):

- a local folder with `config.json` and `model.safetensors` or `pytorch_model.bin`;
- a Hub id (`hubertsiuzdak/snac_24khz`, default), downloaded with huggingface_hub;
- `checkpoint=...pt` on top of the `model` architecture: a plain state dict or one nested under
  a key such as `model`/`state_dict` (a `module.`-style prefix is stripped). The published
  architectures are known to `snac_hf.layout.SNAC_CONFIGS`, so this needs no download.

Weights are read with `torch.load(weights_only=True)` or safetensors: a checkpoint that would
run code when unpickled is refused, never executed.

A model folder may carry `snac_hf.json` ({"weights": ..., "notice": ...}); its notice (for
example "random weights: tokens are not meaningful") travels into every output made with it.

What cannot be a working codec is a `CodecLoadError` naming the file: a config.json or snac_hf.json
that is not a JSON object, a config with keys SNAC does not take or without `sampling_rate`,
`encoder_rates`, `vq_strides` (SNAC's defaults would silently build another model), one SNAC
cannot be built from, and weights holding NaN or infinite values (they encode everything to one code).
"""

from __future__ import annotations

import inspect
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch
from snac import SNAC

from snac_hf.codec.model_folder import (
    DEFAULT_MODEL,
    MARKER_FILE,
    WEIGHT_FILES,
    cached_model_dir,
    resolve_model,
)
from snac_hf.layout import SNAC_CONFIGS, CodecLayout
from snac_hf.tokenset.json_files import DamagedInputError, read_json_object

NESTING_KEYS = ("model", "state_dict", "model_state_dict", "generator", "snac", "module")
#: Config keys a model folder must have: without them SNAC's defaults would build another model.
REQUIRED_CONFIG_KEYS = ("sampling_rate", "encoder_rates", "vq_strides")
REFETCH = "re-download the model folder, or rebuild it with `snac-hf offline-model`"


class CodecLoadError(RuntimeError):
    """A codec could not be loaded; the message says what to pass instead."""


@dataclass
class Codec:
    model: SNAC
    name: str
    config: dict
    checkpoint: str | None = None
    marker: dict = field(default_factory=dict)

    @property
    def layout(self) -> CodecLayout:
        return CodecLayout.from_snac_config(self.config)

    @property
    def notice(self) -> str | None:
        """A warning every output made with this codec must carry (None for real weights)."""
        return self.marker.get("notice")

    def describe(self) -> dict:
        """What metadata.json records about the codec."""
        return {
            "name": self.name,
            "checkpoint": self.checkpoint,
            "config": self.config,
            "layout": self.layout.to_dict(),
            "weights": self.marker.get("weights", "pretrained"),
            "notice": self.notice,
        }


def load_codec(model: str = DEFAULT_MODEL, checkpoint: str | None = None) -> Codec:
    """Load SNAC from a folder, a Hub id, a short offline name (`offline`, `offline-random`:
    `model_folder.resolve_model`), or a checkpoint on a known architecture (on CPU)."""
    model = resolve_model(model)
    if os.path.isdir(model):
        config, weights_path, marker = _read_folder(Path(model))
        config_source = str(Path(model) / "config.json")
    elif checkpoint is not None and _known_config(model) is not None:
        config, weights_path, marker = _known_config(model), None, {}
        config_source = f"the published config of {model}"
    else:
        config, weights_path, marker = _download(model)
        config_source = f"config.json of {model}"
    snac = build_snac(config, config_source)
    if checkpoint is not None:
        state, marker = load_checkpoint_state(checkpoint), {"weights": "checkpoint"}
    else:
        state = load_weights(weights_path)
    _load_state(snac, state, checkpoint or str(weights_path))
    return Codec(snac.eval(), name=model, config=config, checkpoint=checkpoint, marker=marker)


def _known_config(model: str) -> dict | None:
    key = model if "/" in model else f"hubertsiuzdak/{model}"
    return SNAC_CONFIGS.get(key)


def _read_folder(folder: Path) -> tuple[dict, Path | None, dict]:
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise CodecLoadError(f"{folder}: not a SNAC model folder (no config.json)")
    weights = next((folder / f for f in WEIGHT_FILES if (folder / f).is_file()), None)
    if weights is None:
        raise CodecLoadError(f"{folder}: no weights ({' or '.join(WEIGHT_FILES)})")
    marker_path = folder / MARKER_FILE
    marker = read_model_json(marker_path) if marker_path.is_file() else {}
    return read_model_json(config_path), weights, marker


def read_model_json(path: str | os.PathLike) -> dict:
    """A model folder's JSON object (config.json, snac_hf.json), or a CodecLoadError naming it."""
    try:
        return read_json_object(path, REFETCH)
    except DamagedInputError as error:
        raise CodecLoadError(str(error)) from None


def build_snac(config: dict, source: str) -> SNAC:
    """`SNAC(**config)` after checking the keys; any failure is a CodecLoadError naming `source`."""
    accepted = set(inspect.signature(SNAC.__init__).parameters) - {"self"}
    unknown = sorted(set(config) - accepted)
    missing = [key for key in REQUIRED_CONFIG_KEYS if key not in config]
    if unknown or missing:
        raise CodecLoadError(
            f"{source}: not a SNAC config ({f'unknown keys {unknown}' if unknown else f'missing {missing}'}; "
            f"SNAC takes {sorted(accepted)}); {REFETCH}"
        )
    try:
        CodecLayout.from_snac_config(config)
        return SNAC(**config)
    except Exception as error:  # whatever SNAC's constructor raises on bad values: one line
        raise CodecLoadError(
            f"{source}: SNAC cannot be built from it ({type(error).__name__}: {error})"
        ) from None


def _download(repo_id: str) -> tuple[dict, Path, dict]:
    """config.json and weights of a Hub model; the Hub is asked once first (`snac_hf.tokenset.hub`), and when
    it cannot be reached only huggingface_hub's local cache is read: an error in seconds, not ~23 s."""
    from huggingface_hub import hf_hub_download

    from snac_hf.tokenset.hub import unreachable_reason

    reason = unreachable_reason(repo_id, "model", "config.json")
    try:
        config_path = hf_hub_download(repo_id, "config.json", local_files_only=reason is not None)
        weights = hf_hub_download(repo_id, "pytorch_model.bin", local_files_only=reason is not None)
    except Exception as error:  # offline, unknown repo, gated: all end the same way for the user
        if reason is not None:
            reason += "; not in the local Hub cache either"
        raise CodecLoadError(fetch_failed(repo_id, reason or type(error).__name__)) from error
    return read_model_json(config_path), Path(weights), {}


def fetch_failed(repo_id: str, reason: str) -> str:
    """What to do when Hub model `repo_id` cannot be fetched: a local folder, and where to get one."""
    return (
        f"could not fetch SNAC model {repo_id!r} from the Hugging Face Hub ({reason}). "
        "Pass a local model folder instead: --model DIR with config.json and "
        f"pytorch_model.bin (or model.safetensors): {offline_model_hint()}, or a snapshot downloaded where "
        f"the Hub is reachable (`hf download {repo_id} --local-dir DIR`)."
    )


def offline_model_hint() -> str:
    """Where the offline stand-in model is (when set-up built it), or how to build it."""
    folder = cached_model_dir()
    if (folder / "config.json").is_file():
        return (
            f"the offline stand-in model set-up built is --model {folder} (`snac-hf offline-model` prints "
            "its path; its tokens are not pretrained SNAC's)"
        )
    return "`snac-hf offline-model` builds an offline stand-in model (seconds) and prints its folder"


def load_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state dict from `.safetensors` or a torch file, without unpickling arbitrary objects."""
    path = str(path)
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        try:
            return load_file(path)
        except Exception as error:  # SafetensorError, OSError: a damaged or truncated file
            raise CodecLoadError(
                f"cannot read weights {path} ({type(error).__name__}: {error}); {REFETCH}"
            ) from None
    return _torch_load(path)


def _torch_load(path: str) -> object:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise CodecLoadError(
            f"refused to load {path}: it holds Python objects beyond tensors and plain containers, "
            "and unpickling them could run code. Re-save it as a plain state dict "
            "(torch.save(model.state_dict(), path)) or as safetensors."
        ) from error
    except (OSError, RuntimeError, EOFError) as error:
        raise CodecLoadError(f"cannot read checkpoint {path}: {error}") from error


def load_checkpoint_state(path: str) -> dict[str, torch.Tensor]:
    """The state dict inside a fine-tuned checkpoint: plain, or nested under a known key."""
    if not os.path.isfile(path):
        raise CodecLoadError(f"checkpoint {path} does not exist")
    state = _torch_load(path)
    while isinstance(state, dict) and not _is_state_dict(state):
        nested = next((state[k] for k in NESTING_KEYS if isinstance(state.get(k), dict)), None)
        if nested is None:
            raise CodecLoadError(
                f"{path}: no state dict found (top-level keys: {sorted(state)[:10]}; "
                f"expected tensors, or a dict under one of {NESTING_KEYS})"
            )
        state = nested
    if not isinstance(state, dict):
        raise CodecLoadError(f"{path}: expected a state dict, found {type(state).__name__}")
    return state


def _is_state_dict(d: dict) -> bool:
    return bool(d) and all(isinstance(v, torch.Tensor) for v in d.values())


def _load_state(snac: SNAC, state: dict[str, torch.Tensor], source: str) -> None:
    expected = snac.state_dict()
    state = _modern_weight_norm(_strip_prefix(state, set(expected)))
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    reshaped = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or reshaped:
        raise CodecLoadError(
            f"{source} does not match the SNAC architecture of this config: "
            f"{len(missing)} missing keys (e.g. {missing[:3]}), {len(unexpected)} unexpected "
            f"(e.g. {unexpected[:3]}), {len(reshaped)} of another shape (e.g. {reshaped[:3]}). "
            "Is --model the architecture the checkpoint was trained from?"
        )
    check_floating(state, expected, source)
    check_finite(state, source)
    snac.load_state_dict(state)


def check_floating(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], source: str) -> None:
    """Refuse integer (or bool) weights: `load_state_dict` would cast them silently (int64 weights
    gave one code per scale), and no trained SNAC has any."""
    wrong = [k for k in expected if expected[k].is_floating_point() and not state[k].is_floating_point()]
    if wrong:
        raise CodecLoadError(
            f"{source}: {len(wrong)} weights are not floating point (e.g. {wrong[0]!r} is "
            f"{state[wrong[0]].dtype}): not SNAC weights; save the model's float state dict "
            "(torch.save(model.state_dict(), path))"
        )


def check_finite(state: dict[str, torch.Tensor], source: str) -> None:
    """Refuse weights with NaN or infinite values (a damaged or diverged checkpoint), naming one."""
    for key, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise CodecLoadError(
                f"{source}: weight {key!r} holds {bad} NaN or infinite values (of {tensor.numel()}): the "
                "weights are damaged or diverged; use another checkpoint"
            )


def _strip_prefix(state: dict, expected: set[str]) -> dict:
    """Drop a wrapper prefix such as `module.` or `model.` when that makes the keys match."""
    if set(state) & expected:
        return state
    for prefix in ("module.", "model.", "snac.", "generator."):
        stripped = {k.removeprefix(prefix): v for k, v in state.items()}
        if set(stripped) & expected:
            return stripped
    return state


def _modern_weight_norm(state: dict) -> dict:
    """Rename old `torch.nn.utils.weight_norm` keys (`weight_g`/`weight_v`) to the
    parametrization keys current SNAC uses, as torch's own compatibility hook would."""
    renames = {
        ".weight_g": ".parametrizations.weight.original0",
        ".weight_v": ".parametrizations.weight.original1",
    }
    renamed = {}
    for key, value in state.items():
        suffix = next((s for s in renames if key.endswith(s)), None)
        renamed[key.removesuffix(suffix) + renames[suffix] if suffix else key] = value
    return renamed
