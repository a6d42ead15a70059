"""Where `train-bpe` and `compare-bpe` may write a tokenizer folder: nothing is replaced by surprise.

A folder is refused with a `DestinationError` (before anything is read or written) when it holds

- a token set or another dataset (`snac_hf.tokenset.schema.token_set_marker`): tokenizer files would be
  mixed into the data;
- a tokenizer with other settings than the ones asked for: another variant, variant options, codec
  layout, merge budget, `min_frequency` or stage-1 budget (`tokenizer_settings`), or tokenizer files
  that are not a snac_hf tokenizer (or not readable as one).

The same settings again are fine: the tokenizer is trained again and replaces the old one. (Other
training data with the same settings is not told apart: a tokenizer folder does not record which
token set it was trained on.) `--overwrite` (`overwrite=True`) skips these checks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from snac_hf.bpe.corpus import open_source, resolve_layout
from snac_hf.bpe.variant import Variant
from snac_hf.bpe.variants import VARIANTS, make_variant
from snac_hf.layout import CodecLayout
from snac_hf.tokenset.schema import token_set_marker

#: What `train_tokenizer` writes beside the tokenizer files (the training run's figures).
TRAINING_FILE = "training.json"
#: Files that make a folder a tokenizer folder (`PreTrainedTokenizerFast.save_pretrained`).
TOKENIZER_MARKERS = ("tokenizer.json", "tokenizer_config.json")


class DestinationError(ValueError):
    """The output folder holds something this run must not replace; the message says what."""


def tokenizer_settings(
    variant: Variant,
    layout: CodecLayout,
    num_merges: int,
    min_frequency: int | None,
    stage1_merges: int | None = None,
) -> dict:
    """What defines a trained tokenizer (beside its data), as `saved_settings` reads it back.

    `min_frequency` is resolved to the variant's default; `stage1_merges` is the requested stage-1
    budget of the hierarchical variant (None: its default, half of `num_merges`).
    """
    settings = {
        "variant": variant.name,
        "options": variant.options(),
        "layout": layout.to_dict(),
        "num_merges": num_merges,
        "min_frequency": variant.check_min_frequency(min_frequency),
        "stage1_merges": stage1_merges,
    }
    return json.loads(json.dumps(settings))  # tuples as lists: comparable with what was saved


def saved_settings(folder: str | os.PathLike) -> dict | None:
    """`tokenizer_settings` of the snac_hf tokenizer saved in `folder`; None when it holds none of
    its files; a `DestinationError` when it holds tokenizer files that are not snac_hf's."""
    folder = Path(folder)
    if not any((folder / name).is_file() for name in TOKENIZER_MARKERS):
        return None
    try:
        meta = json.loads((folder / "tokenizer_config.json").read_text())["codec_meta"]
        training = meta["training"]
        return {
            "variant": meta["variant"],
            "options": meta["options"],
            "layout": meta["layout"],
            "num_merges": training["num_merges_requested"],
            "min_frequency": training["min_frequency"],
            "stage1_merges": training.get("stage1_merges_requested"),
        }
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DestinationError(
            f"{folder} holds tokenizer files that are not a snac_hf tokenizer ({type(error).__name__}: "
            f"{error}); give another --output_dir, or pass --overwrite to replace them"
        ) from None


def describe(settings: dict) -> str:
    """`plain, 8000 merges, min_frequency 2, max_run=16 ...`: settings in a few words."""
    words = [
        settings["variant"],
        f"{settings['num_merges']} merges",
        f"min_frequency {settings['min_frequency']}",
    ]
    words += [f"{key}={value}" for key, value in settings["options"].items()]
    if settings.get("stage1_merges") is not None:
        words.append(f"stage1_merges {settings['stage1_merges']}")
    return ", ".join(words)


def check_destination(folder: str | os.PathLike, wanted: dict, overwrite: bool = False) -> None:
    """Refuse (`DestinationError`) to write the tokenizer of settings `wanted` into `folder` when it
    holds a token set or a tokenizer with other settings, unless `overwrite`; see the module docstring."""
    if overwrite or not os.path.isdir(folder):
        return
    refuse_token_set(folder)
    saved = saved_settings(folder)
    if saved is None and (Path(folder) / TRAINING_FILE).exists():
        # snac_hf writes training.json only beside the tokenizer files: alone, it is someone else's
        raise DestinationError(
            f"{folder} holds {TRAINING_FILE} but no snac_hf tokenizer; nothing was written. Move the "
            "file, give another --output_dir, or pass --overwrite to replace it"
        )
    if saved is None or saved == wanted:
        return
    what = describe(saved) if saved["layout"] == wanted["layout"] else "another codec layout"
    raise DestinationError(
        f"{folder} holds another tokenizer ({what}; this run: {describe(wanted)}); nothing was written. "
        "Give another --output_dir, or pass --overwrite to replace it"
    )


def refuse_token_set(folder: str | os.PathLike) -> None:
    """A `DestinationError` when `folder` holds a token set or another dataset."""
    marker = token_set_marker(folder)
    if marker is not None:
        raise DestinationError(
            f"{folder} holds a token set or dataset ({marker}); tokenizer files would be mixed into it. "
            "Give another --output_dir (or pass --overwrite to write into it anyway)"
        )


def check_comparison_destination(
    output_dir: str | os.PathLike,
    source: str,
    variants: list[str],
    budgets: list[int],
    *,
    min_frequency: int | None = None,
    max_run: int | None = None,
    span_frames: bool | None = None,
    layout: str | None = None,
    overwrite: bool = False,
    split: str = "train",
) -> None:
    """What `compare-bpe` checks before it starts: `output_dir` holds no token set, and every
    `tokenizers/VARIANT-MERGES` folder it would replace holds the same settings (`check_destination`;
    the options go to the variants as `snac_hf.bpe.compare.compare` passes them). The token set is
    opened (for its codec layout) only when such folders exist."""
    if overwrite or not os.path.isdir(output_dir):
        return
    refuse_token_set(output_dir)
    trained = Path(output_dir) / "tokenizers"
    if not trained.is_dir():
        return
    dataset, folder = open_source(source, split)
    resolved = resolve_layout(dataset, folder, layout)
    for name in variants:
        kind = VARIANTS[name]
        variant = make_variant(
            name,
            resolved,
            max_run=max_run if kind.uses_runs else None,
            span_frames=span_frames if kind.frame_based else None,
        )
        frequency = min_frequency if name == "thresholded" else None
        for budget in budgets:
            wanted = tokenizer_settings(variant, resolved, budget, frequency)
            check_destination(trained / f"{name}-{budget}", wanted)
