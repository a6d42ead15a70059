"""Token ids -> SNAC codes -> audio: the way back from a token set or an LM's output.

    from snac_hf.codec.decode import decode_ids, write_audio
    audio = decode_ids(tokenizer, codec, ids, n_samples=None)   # float32 samples at codec rate
    write_audio("out.wav", audio, codec.layout.sampling_rate)

Steps, each exact:

1. ids -> codes per scale with `AudioTokenizer.decode` (the merge API: special tokens skipped,
   lossless for every BPE variant).
2. codes -> SNAC's `decode`. SNAC sums each scale's embeddings after repeating them `vq_strides[k]`
   times, so every scale must cover the same number of latent steps, and the decoder's local
   attention (32/44 kHz) wants a multiple of its window. A token set keeps only the codes whose
   span starts inside the real audio (`CodecLayout.n_codes`), so the last frame may be partial:
   `pad_codes` repeats each scale's last code up to `pad_multiple` worth of latent steps. Codes
   already at that length (any whole number of padding multiples) are passed through unchanged, so
   for them the audio is `codec.model.decode(codes)` bit for bit under the same torch seed (SNAC's
   decoder adds seeded Gaussian noise, see `audio_pieces`; tests/test_decode.py checks it), up to
   `CHUNK_SECONDS` (5 s) of audio. Longer codes are decoded in chunks with the decoder's reach as
   context (`snac_hf.codec.chunked_decode`): memory flat in the length, the audio the whole
   decode's to float rounding (tests/test_decode_outputs.py).
3. audio -> trimmed to `n_samples` (the original length, `round(duration * rate)`, when known)
   and written, piece by piece, as 32-bit float WAV at the codec's rate (`snac_hf.codec.wav`,
   standard library only, lossless; the untrained decoder of the offline models produces noise
   that may exceed [-1, 1]).

`decode_rows` (the script) checks every row before it writes anything: ids (distinct ids always
get distinct files, see `output_names`), durations (positive, finite, and those of the codes) and
codes; it never overwrites a file that exists before the run unless asked (`overwrite=True`).

The offline models (`snac_hf.codec.codebook_fit`) have untrained decoders: audio decoded with them is
noise, whatever the tokens. Only the pretrained SNAC decoder makes speech.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from snac_hf.bpe.tokenizer import AudioTokenizer
from snac_hf.codec.chunked_decode import CHUNK_SECONDS, chunk_steps_for, decode_in_chunks, draw_noise
from snac_hf.codec.load import Codec
from snac_hf.codec.wav import FloatWavWriter, write_float_wav
from snac_hf.layout import CodecLayout
from snac_hf.layout.codes import validate_codes
from snac_hf.tokenset.json_files import DamagedInputError
from snac_hf.tokenset.row_checks import REMEDY, count_problem, duration_problem, samples_of
from snac_hf.tokenset.schema import count_column


def latent_steps(layout: CodecLayout, codes_per_scale: Sequence[np.ndarray]) -> int:
    """Latent steps (hops) SNAC's decoder needs for these codes: enough for the longest scale,
    rounded up to the padding multiple."""
    covered = max(
        len(codes) * stride for codes, stride in zip(codes_per_scale, layout.vq_strides, strict=True)
    )
    multiple = layout.pad_multiple // layout.hop_length
    return -(-max(covered, 1) // multiple) * multiple


def pad_codes(layout: CodecLayout, codes_per_scale: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Each scale's codes (int64), repeating its last code to `latent_steps / vq_strides[k]` codes."""
    steps = latent_steps(layout, codes_per_scale)
    padded = []
    for k, codes in enumerate(codes_per_scale):
        codes = np.asarray(codes, dtype=np.int64)
        if codes.size == 0:
            raise ValueError(f"scale {k} has no codes: nothing to decode")
        target = steps // layout.vq_strides[k]
        padded.append(np.pad(codes, (0, target - codes.size), mode="edge"))
    return padded


def whole_frames(layout: CodecLayout, codes_per_scale: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The longest prefix of whole frames the codes hold (frames = complete coarse steps with all
    their children), for codes from a model that may stop anywhere or unbalance the scales."""
    frames = min(len(c) // n for c, n in zip(codes_per_scale, layout.codes_per_frame, strict=True))
    return [np.asarray(c)[: frames * n] for c, n in zip(codes_per_scale, layout.codes_per_frame, strict=True)]


def codes_to_audio(
    codec: Codec, codes_per_scale: Sequence[np.ndarray], n_samples: int | None = None, seed: int | None = 0
) -> np.ndarray:
    """SNAC's decode of one file's codes (padded by `pad_codes`), float32, trimmed to `n_samples`:
    `audio_pieces` joined."""
    pieces = list(audio_pieces(codec, codes_per_scale, n_samples, seed))
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


def audio_pieces(
    codec: Codec,
    codes_per_scale: Sequence[np.ndarray],
    n_samples: int | None = None,
    seed: int | None = 0,
    chunk_seconds: float = CHUNK_SECONDS,
) -> Iterator[np.ndarray]:
    """SNAC's decode of one file's codes (padded by `pad_codes`) as float32 pieces, trimmed to
    `n_samples` in all.

    SNAC's decoder adds Gaussian noise (its `NoiseBlock`s draw from torch's global generator); with
    `seed` set, the draw happens under `torch.manual_seed(seed)` inside `torch.random.fork_rng`,
    so the result is reproducible and the caller's random state is left alone. `seed=None` draws
    from the global generator as SNAC does.

    Codes of at most `chunk_seconds` of audio are decoded whole: one piece, `codec.model.decode`
    of the padded codes bit for bit. Longer codes are decoded in chunks of about `chunk_seconds`
    with the decoder's reach as context (`snac_hf.codec.chunked_decode`): the decoder's memory is
    that of one chunk whatever the length, and the audio equals the whole decode's to float
    rounding (the noise is drawn as the whole decode draws it).
    """
    padded = pad_codes(codec.layout, codes_per_scale)
    steps = len(padded[0]) * codec.layout.vq_strides[0]
    chunk_steps = chunk_steps_for(codec, chunk_seconds)
    model = codec.model
    parameter = next(model.parameters())
    with torch.inference_mode(), torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        if steps <= chunk_steps:
            tensors = [torch.from_numpy(c).view(1, -1).to(parameter.device) for c in padded]
            pieces: Iterator[np.ndarray] = iter([model.decode(tensors)[0, 0].float().cpu().numpy()])
        else:
            pieces = decode_in_chunks(codec, padded, draw_noise(codec, steps), chunk_steps)
    remaining = n_samples
    for piece in pieces:
        if remaining is not None:
            piece = piece[:remaining]
            remaining -= len(piece)
        if len(piece):
            yield piece
        if remaining == 0:
            return


def decode_ids(
    tokenizer: AudioTokenizer,
    codec: Codec,
    ids: Sequence[int] | np.ndarray,
    n_samples: int | None = None,
    strict: bool = True,
    seed: int | None = 0,
) -> np.ndarray:
    """Audio of one token-id sequence (special tokens are skipped). `strict=False` accepts codes
    cut mid-frame (an LM stopped anywhere): they are padded like any partial frame."""
    check_same_layout(tokenizer.layout, codec.layout)
    return codes_to_audio(codec, tokenizer.decode(ids, strict=strict), n_samples, seed)


def check_same_layout(tokenizer_layout: CodecLayout, codec_layout: CodecLayout) -> None:
    if tokenizer_layout.vq_strides != codec_layout.vq_strides or (
        tokenizer_layout.codebook_size != codec_layout.codebook_size
    ):
        raise ValueError(
            f"the tokenizer was trained on codes of another codec layout ({tokenizer_layout}) than the "
            f"model's ({codec_layout})"
        )


def write_audio(path: str | os.PathLike, audio: np.ndarray, sampling_rate: int) -> Path:
    """Write mono float32 samples as a 32-bit float WAV (lossless)."""
    return write_float_wav(path, audio, sampling_rate)


#: Longest output file name, in UTF-8 bytes: file systems allow 255, and the temporary sibling
#: (`.NAME.<32 hex>.partial`, `snac_hf.codec.wav.FloatWavWriter`) adds 42.
MAX_NAME_BYTES = 200
_HASH_SUFFIX = len("-12345678.wav")


def safe_file_name(file_id: str) -> str:
    """A flat file name for a token-set id such as `speakers/a/001.flac` (`speakers_a_001`)."""
    stem = os.path.splitext(file_id)[0]
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in stem).strip("._") or "audio"


def id_hash(file_id: str) -> str:
    """The first 8 hex digits of sha256(id): what tells apart names that collide or were shortened."""
    return hashlib.sha256(file_id.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _shortened(stem: str) -> str:
    """`stem` cut to leave room for the hash suffix within `MAX_NAME_BYTES` (at a character boundary)."""
    return stem.encode()[: MAX_NAME_BYTES - _HASH_SUFFIX].decode(errors="ignore")


def output_names(ids: Sequence[str]) -> list[str]:
    """One `.wav` file name per row id: distinct for distinct ids, and the same for any row order.

    An id becomes `safe_file_name(id) + ".wav"`. Ids whose names would collide - equal ignoring
    case, so that case-insensitive file systems are safe too: `a.wav` and `a.flac`, `sub/b.wav` and
    `sub_b.wav` - each get `-` and `id_hash(id)` (8 hex digits of sha256) appended
    (`a-<hash>.wav`), all of them, not "all but the first". A name longer than `MAX_NAME_BYTES`
    (200 UTF-8 bytes) is shortened: its first bytes, then `-<hash>.wav` (so every name can be
    written, and two long ids that share their start still differ). The same id twice is a
    ValueError, and so (it needs a hash collision or a crafted id) is a collision that remains.
    """
    first_row: dict[str, int] = {}
    for i, file_id in enumerate(ids):
        if file_id in first_row:
            raise ValueError(
                f"rows {first_row[file_id]} and {i} have the same id {file_id!r}: ids must differ"
            )
        first_row[file_id] = i
    stems = [safe_file_name(file_id) for file_id in ids]
    long = [len(stem.encode()) + len(".wav") > MAX_NAME_BYTES for stem in stems]
    stems = [_shortened(stem) if too_long else stem for stem, too_long in zip(stems, long, strict=True)]
    taken = Counter(stem.casefold() for stem in stems)
    names = [
        f"{stem}-{id_hash(file_id)}.wav" if too_long or taken[stem.casefold()] > 1 else f"{stem}.wav"
        for stem, file_id, too_long in zip(stems, ids, long, strict=True)
    ]
    clashes = [name for name, count in Counter(n.casefold() for n in names).items() if count > 1]
    if clashes:
        raise ValueError(f"ids give the same output file {clashes[0]!r}; rename the ids")
    return names


@dataclass(frozen=True)
class DecodeJob:
    """One row, checked and turned into codes: where it goes and how long it is."""

    name: str
    codes: list[np.ndarray]
    n_samples: int | None


def row_samples(row: dict, rate: int, what: str) -> int | None:
    """`round(duration * rate)`, or None without a duration; a duration that is not a positive
    finite number is a ValueError naming the row."""
    duration = row.get("duration")
    if duration is None:
        return None
    if isinstance(duration, bool) or not isinstance(duration, numbers.Real) or not math.isfinite(duration):
        raise ValueError(f"{what}: duration {duration!r} is not a finite number of seconds")
    if duration <= 0:
        raise ValueError(f"{what}: duration {duration} s is not positive: give the audio's length in seconds")
    return samples_of(duration, rate)


def row_codes(row: dict, codec: Codec, tokenizer: AudioTokenizer | None, what: str) -> list[np.ndarray]:
    """A row's codes per scale: its `input_ids` decoded, or its `tokens_scale_k` checked as BPE
    training checks codes (`bpe.codes.validate_codes`: range and scale lengths)."""
    if "input_ids" in row:
        if tokenizer is None:
            raise ValueError("rows hold input_ids: pass the tokenizer that made them (--tokenizer)")
        check_same_layout(tokenizer.layout, codec.layout)
        return tokenizer.decode_batch([row["input_ids"]], names=[what])[0]
    columns = [f"tokens_scale_{k}" for k in range(codec.layout.n_scales)]
    if not all(column in row for column in columns):
        raise ValueError(f"{what}: neither input_ids nor the columns {', '.join(columns)}")
    return validate_codes([np.asarray(row[column]) for column in columns], codec.layout, what)


def plan_decode(rows: Sequence[dict], codec: Codec, tokenizer: AudioTokenizer | None) -> list[DecodeJob]:
    """Every row checked and turned into codes before any audio is written: ids, durations (which
    must be those of the codes: `layout.n_codes(n_samples)` codes per scale), `n_tokens_scale_k`
    (the lengths of the lists), codes. The duration and count checks are those of every reader
    (`snac_hf.tokenset.row_checks`)."""
    layout = codec.layout
    ids = row_ids(rows)
    jobs = []
    for row, file_id, name in zip(rows, ids, output_names(ids), strict=True):
        what = f"row {file_id!r}"
        n_samples = row_samples(row, layout.sampling_rate, what)
        codes = row_codes(row, codec, tokenizer, what)
        lengths = tuple(len(c) for c in codes)
        for k, length in enumerate(lengths):
            count = row.get(count_column(k))
            if count is not None and count != length:
                raise DamagedInputError(f"{what}: {count_problem(k, count, length)}; {REMEDY}")
        problem = duration_problem(row["duration"], lengths, layout) if n_samples is not None else None
        if problem:
            raise DamagedInputError(f"{what}: {problem}; {REMEDY}")
        jobs.append(DecodeJob(name, codes, n_samples))
    return jobs


def row_ids(rows: Sequence[dict]) -> list[str]:
    """Each row's id as a string: its `id`, else (no `id`, null or "") `row_<i>`, i its 0-based
    position among the rows, whatever shape the input had (a token set, a JSON list of ids, of
    lists or of objects)."""
    return [
        f"row_{i}" if row.get("id") is None or row.get("id") == "" else str(row["id"])
        for i, row in enumerate(rows)
    ]


def check_outputs(rows: Sequence[dict], out_dir: str | os.PathLike, overwrite: bool = False) -> list[Path]:
    """The `.wav` path of each row in `out_dir` (`output_names`), checked without a codec: a
    `NotADirectoryError` when `out_dir` is a file, a `FileExistsError` (nothing written) when any of
    the files (or a link by its name) exists already, unless `overwrite`. Files are written through
    a fresh temporary name and renamed (`snac_hf.codec.wav.FloatWavWriter`): a link in the folder
    is replaced, never written through."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise NotADirectoryError(f"--output_dir {out_dir} is a file; give the path of a folder")
    paths = [Path(out_dir) / name for name in output_names(row_ids(rows))]
    existing = [path.name for path in paths if os.path.lexists(path)]  # a link counts, even a dangling one
    if existing and not overwrite:
        shown = ", ".join(existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
        raise FileExistsError(
            f"{out_dir}: {shown} exist already; nothing was written. Pass --overwrite (overwrite=True) "
            "to replace them, or choose another --output_dir"
        )
    return paths


def decode_rows(
    rows: Sequence[dict],
    codec: Codec,
    out_dir: str | os.PathLike,
    tokenizer: AudioTokenizer | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Decode token-set rows to `out_dir/<name>.wav` (names: `output_names` of the ids).

    A row holds `input_ids` (decoded with `tokenizer`) or `tokens_scale_k` columns (decoded as they
    are); `duration`, when present, trims the audio to `round(duration * rate)` samples; `id`
    names the file (else `row_<i>`). Every row is checked first (`plan_decode`), and an output
    file that exists already is a `FileExistsError` before anything is written, unless `overwrite`.
    """
    jobs = plan_decode(rows, codec, tokenizer)
    paths = check_outputs(rows, out_dir, overwrite)
    for job, path in zip(jobs, paths, strict=True):
        with FloatWavWriter(path, codec.layout.sampling_rate) as writer:
            for piece in audio_pieces(codec, job.codes, job.n_samples):
                writer.write(piece)
    return paths
