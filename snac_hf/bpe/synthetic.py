"""Synthetic SNAC-shaped codes with learnable structure, for tests and benchmarks (no audio needed).

Each file alternates "silence" (every scale holds one code: runs) and "speech" segments. In speech,
scale 0 follows a sparse Markov chain (the same for every file) over a Zipf-distributed subset of
the codebook (512 codes: the rest never occurs, as codes unseen in training do), and each
finer code is a deterministic function of its parent and position plus occasional Zipf noise, so
there are frequent pairs within a scale and across scales, as in real codec output. Lengths follow
`layout.n_codes(n_samples)` for a random number of samples, partial last frames included.
`write_synthetic_token_set` writes them as a token-set folder like `scripts/tokenize.py` does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from snac_hf.layout import CodecLayout
from snac_hf.tokenset.schema import METADATA_FILE, rows_to_table, shard_name, write_parquet


def synthetic_codes(
    layout: CodecLayout, n_samples: int, rng: np.random.Generator, vocabulary: int = 512
) -> list[np.ndarray]:
    """Codes per scale for `n_samples` samples of imaginary audio."""
    lengths = layout.n_codes(n_samples)
    n_frames = lengths[0]
    size = layout.codebook_size
    vocabulary = min(vocabulary, size)
    zipf = 1.0 / np.arange(1, vocabulary + 1) ** 1.1
    zipf /= zipf.sum()
    # Sparse transitions shared by every file (the "language"): each coarse code has 4 likely successors.
    successors = np.random.default_rng(vocabulary).integers(0, vocabulary, size=(vocabulary, 4))
    coarse = np.empty(n_frames, dtype=np.int64)
    silent = np.zeros(n_frames, dtype=bool)
    state = int(rng.choice(vocabulary, p=zipf))
    f = 0
    while f < n_frames:
        if rng.random() < (0.4 if f == 0 else 0.15):  # a silence segment: one code repeated per scale
            span = int(rng.integers(3, 30))
            coarse[f : f + span] = 0
            silent[f : f + span] = True
            f += span
            continue
        span = int(rng.integers(5, 40))
        for i in range(f, min(f + span, n_frames)):
            state = (
                int(successors[state, rng.integers(0, 4)])
                if rng.random() < 0.8
                else int(rng.choice(vocabulary, p=zipf))
            )
            coarse[i] = state
        f += span
    codes = [coarse[:n_frames] % size]
    for k in range(1, layout.n_scales):
        per_frame = layout.codes_per_frame[k]
        parent = np.repeat(coarse[:n_frames], per_frame)
        position = np.tile(np.arange(per_frame), n_frames)
        child = (parent * (7 + 2 * k) + position * 13 + k) % vocabulary
        noisy = rng.random(child.size) < 0.25
        child[noisy] = rng.choice(vocabulary, size=int(noisy.sum()), p=zipf)
        child[np.repeat(silent, per_frame)] = k  # silence: a constant code per scale
        codes.append(child[: lengths[k]] % size)
    return codes


def synthetic_rows(
    layout: CodecLayout, n_files: int, seconds: tuple[float, float] = (1.0, 6.0), seed: int = 0
) -> list[dict]:
    """Rows for `snac_hf.tokenset.schema.rows_to_table`: id, file_path, duration, codes."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_files):
        n_samples = int(rng.uniform(*seconds) * layout.sampling_rate)
        rows.append(
            {
                "id": f"synthetic/{i:06d}.wav",
                "file_path": f"synthetic/{i:06d}.wav",
                "duration": n_samples / layout.sampling_rate,
                "codes": synthetic_codes(layout, n_samples, rng),
            }
        )
    return rows


def write_synthetic_token_set(
    folder: str | os.PathLike,
    layout: CodecLayout,
    n_files: int,
    seconds: tuple[float, float] = (1.0, 6.0),
    seed: int = 0,
    shards: int = 2,
) -> Path:
    """A token-set folder (Parquet shards + metadata.json with the layout) of synthetic files."""
    folder = Path(folder)
    rows = synthetic_rows(layout, n_files, seconds, seed)
    shards = max(1, min(shards, n_files))
    for index, part in enumerate(np.array_split(np.arange(n_files), shards)):
        table = rows_to_table([rows[i] for i in part], layout.n_scales, layout.codebook_size)
        write_parquet(table, folder / shard_name(index, shards))
    metadata = {"files_processed": n_files, "synthetic": True, "codec": {"layout": layout.to_dict()}}
    (folder / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    return folder
