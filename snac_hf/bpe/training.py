"""Train a BPE variant on a token set and save it as a Hugging Face tokenizer folder.

    snac-hf train-bpe --tokens TOKEN_SET --variant rl --num_merges 8000 --output_dir tok/
    python scripts/train_bpe.py ...   # the same

The command refuses, before training, to write into a token-set folder or over a tokenizer with
other settings (`snac_hf.bpe.destination`) unless --overwrite; the same settings again are fine.

The token set (a folder written by `scripts/tokenize.py`, a `datasets.Dataset`, or a name that
`load_dataset` accepts) is streamed in Arrow batches; each file is validated, serialized by the
variant into one symbol string and handed to `tokenizers`' BPE trainer. Corpora above
`max_train_chars` are subsampled by file (see `corpus.py`) and the summary says so.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from datasets import Dataset

from snac_hf.bpe.alphabet import SPECIAL_TOKENS
from snac_hf.bpe.corpus import DEFAULT_MAX_TRAIN_CHARS, iter_batches, open_source, resolve_layout, subsample
from snac_hf.bpe.destination import TRAINING_FILE, check_destination, tokenizer_settings
from snac_hf.bpe.tokenizer import META_FORMAT, build_hf_tokenizer
from snac_hf.bpe.variants import make_variant
from snac_hf.layout import CodecLayout

logger = logging.getLogger(__name__)

#: Written next to the tokenizer files: what training read and learned (also in codec_meta).


def train_tokenizer(
    source: str | os.PathLike | Dataset,
    variant: str = "plain",
    num_merges: int = 8000,
    min_frequency: int | None = None,
    output_dir: str | os.PathLike = "tokenizer",
    *,
    max_train_chars: int | None = DEFAULT_MAX_TRAIN_CHARS,
    layout: CodecLayout | str | None = None,
    max_run: int | None = None,
    span_frames: bool | None = None,
    window_frames: int | None = None,
    stage1_merges: int | None = None,
    batch_size: int = 256,
    overwrite: bool = True,
    split: str = "train",
) -> Path:
    """Train `variant` with up to `num_merges` merges on `source`; save it to `output_dir`.

    `min_frequency` defaults to the variant's (100 for `thresholded`, else 2); `max_run` (run-length
    variants, default 16), `span_frames` (frame-based variants, default False), `window_frames`
    (plain and thresholded: windowed scale order, `snac_hf.layout.windowed`) and `stage1_merges`
    (hierarchical, default num_merges // 2) are errors for variants they do not apply to.
    `max_train_chars=None` trains on everything; `split` is the token set's split trained on.
    `overwrite=False` (the command's default) refuses, before training, a token-set folder or a
    tokenizer with other settings in `output_dir` (`snac_hf.bpe.destination`). Returns `output_dir`.
    """
    dataset, folder = open_source(source, split)
    layout = resolve_layout(dataset, folder, layout)
    serializer = make_variant(
        variant, layout, max_run=max_run, span_frames=span_frames, window_frames=window_frames
    )
    train_options = {}
    if stage1_merges is not None:
        if "stage1_merges" not in serializer.train_options:
            raise ValueError(f"stage1_merges applies to the hierarchical variant only, not {variant!r}")
        train_options["stage1_merges"] = stage1_merges
    wanted = tokenizer_settings(serializer, layout, num_merges, min_frequency, stage1_merges)
    check_destination(output_dir, wanted, overwrite)
    n_scales = layout.n_scales

    started = time.perf_counter()
    train_set, summary = subsample(dataset, n_scales, max_train_chars)
    if num_merges > 0:
        logger.info("training %s BPE (%d merges) on %s", serializer, num_merges, summary.describe())
    symbols_read = 0

    def corpus() -> Iterator[str]:
        nonlocal symbols_read
        symbols_read = 0
        for ids, files in iter_batches(train_set, n_scales, batch_size):
            texts = serializer.serialize_texts(files, [f"file {file_id!r}" for file_id in ids])
            symbols_read += sum(map(len, texts))
            yield from texts

    backend = serializer.train(corpus, num_merges, min_frequency, **train_options)
    seconds = time.perf_counter() - started

    learned = backend.get_vocab_size() - len(SPECIAL_TOKENS) - serializer.alphabet.size
    training = {
        "num_merges_requested": num_merges,
        "stage1_merges_requested": stage1_merges,
        "merges_learned": learned,
        "min_frequency": serializer.check_min_frequency(min_frequency),
        "corpus": summary.to_dict() if num_merges > 0 else None,
        "symbols": symbols_read if num_merges > 0 else 0,
        "seconds": round(seconds, 3),
        **serializer.training_info,
    }
    meta = {
        "format": META_FORMAT,
        "variant": serializer.name,
        "options": serializer.options(),
        "layout": layout.to_dict(),
        "alphabet": serializer.alphabet.to_dict(),
        "training": training,
    }
    hf_tokenizer = build_hf_tokenizer(backend, serializer, meta)
    output_dir = Path(output_dir)
    hf_tokenizer.save_pretrained(str(output_dir))
    (output_dir / TRAINING_FILE).write_text(json.dumps(training, indent=2) + "\n")
    if num_merges > 0:
        note = (
            "" if learned == num_merges else f" (min_frequency {training['min_frequency']} stopped it early)"
        )
        logger.info(
            "learned %d merges%s in %.1f s over %d symbols; vocabulary %d; saved to %s",
            learned,
            note,
            seconds,
            symbols_read,
            backend.get_vocab_size(),
            output_dir,
        )
    return output_dir
