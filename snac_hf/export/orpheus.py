"""The Orpheus-TTS token layout: SNAC 24 kHz codes <-> the ids a Llama + SNAC TTS model reads.

Orpheus (canopylabs) and the models built on its recipe extend Llama 3's 128,256 text ids with
10 markers and 7 x 4096 speech ids. One *frame* of SNAC 24 kHz codes (c0, c1, c2 = scales 0, 1, 2;
strides 4, 2, 1) is 7 codes, written in this order:

    position p:  0      1        2        3          4          5          6
    code:        c0[i]  c1[2i]   c2[4i]   c2[4i+1]   c1[2i+1]   c2[4i+2]   c2[4i+3]

and position p's code becomes the id `code + CODE_OFFSET + p * CODEBOOK_SIZE` (128266 + p * 4096),
so every position has its own 4096 ids and an id says where in the frame it sits.

A training row is `[START_OF_HUMAN] + text ids + [END_OF_TEXT, END_OF_HUMAN, START_OF_AI,
START_OF_SPEECH] + speech ids + [END_OF_SPEECH, END_OF_AI]` (`PROMPT_END`, `ROW_END`), the text ids
being the text tokenizer's `input_ids` with its special tokens (Llama 3: BOS 128000 first).

Frames: Orpheus' ceil(n / 2048) per file by default, the last one completed with the token set's
padding codes (SNAC's codes over its zero padding), or whole frames of real audio only
(`snac_hf.export.frames`). No frame is ever dropped for any other reason: the
public Orpheus prep drops every frame whose first code repeats the previous frame's (Orpheus issue
#122), which removes real audio (held vowels, silence); this module keeps them all.

Everything is vectorized: `batch_speech_ids` maps the codes of many files (flat Arrow buffers) to
ids with a handful of numpy gathers, no Python loop per code or per frame. `orpheus_ids_to_codes`
is the way back, for training rows and for raw LM output. Needs only numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from snac_hf.layout import CodecLayout

# The frame order itself lives in snac_hf.layout.orpheus (shared with the evidence run's `orpheus`
# baseline); its names stay importable from here, as before.
from snac_hf.layout.orpheus import CODES_PER_FRAME as CODES_PER_FRAME
from snac_hf.layout.orpheus import FRAME_CODES, ORPHEUS_STRIDES, POSITION_SCALE, gather_frames, whole_frames
from snac_hf.layout.orpheus import POSITION_INDEX as POSITION_INDEX
from snac_hf.layout.tts_layouts import ORPHEUS, TtsLayout

#: Llama 3's text ids end here; Orpheus' markers and speech ids start at this id.
TEXT_VOCAB_END = 128_256
START_OF_TEXT = 128_000  # Llama 3's <|begin_of_text|>, which its tokenizer puts first
END_OF_TEXT = 128_009  # Llama 3's <|eot_id|>
START_OF_SPEECH = 128_257
END_OF_SPEECH = 128_258
START_OF_HUMAN = 128_259
END_OF_HUMAN = 128_260
START_OF_AI = 128_261
END_OF_AI = 128_262
PAD = 128_263
#: The id of code 0 at frame position 0.
CODE_OFFSET = 128_266
CODEBOOK_SIZE = 4096
#: One past the largest speech id (156,938).
SPEECH_ID_END = CODE_OFFSET + FRAME_CODES * CODEBOOK_SIZE
#: `vocab_size` of Orpheus' Llama config (a little above SPEECH_ID_END, as Orpheus ships it).
MODEL_VOCAB_SIZE = 156_940

#: Ids before the text, between the text and the speech, and after the speech of a training row.
PROMPT_START = (START_OF_HUMAN,)
PROMPT_END = (END_OF_TEXT, END_OF_HUMAN, START_OF_AI, START_OF_SPEECH)
ROW_END = (END_OF_SPEECH, END_OF_AI)

#: The id offset of each frame position.
POSITION_OFFSET = CODE_OFFSET + CODEBOOK_SIZE * np.arange(FRAME_CODES, dtype=np.int64)


def check_orpheus_layout(layout: CodecLayout, what: str = "the token set") -> None:
    """A ValueError unless `layout` is SNAC 24 kHz's (3 scales, strides 4/2/1, 4096 codes, 24 kHz):
    the only codec whose frames have Orpheus' 7 positions."""
    if (
        tuple(layout.vq_strides) == ORPHEUS_STRIDES
        and layout.codebook_size == CODEBOOK_SIZE
        and layout.sampling_rate == 24_000
    ):
        return
    raise ValueError(
        f"{what} holds codes of a {layout.sampling_rate} Hz SNAC codec with {layout.n_scales} scales "
        f"(vq_strides {list(layout.vq_strides)}, {layout.codebook_size} codes); the Orpheus layout exists "
        "only for SNAC 24 kHz (3 scales, vq_strides [4, 2, 1], 4096 codes): tokenize the audio with "
        "--model hubertsiuzdak/snac_24khz"
    )


def batch_speech_ids(
    values: Sequence[np.ndarray],
    offsets: Sequence[np.ndarray],
    frames: np.ndarray,
    layout: TtsLayout = ORPHEUS,
) -> np.ndarray:
    """The speech ids of many files, flat (file after file, 7 ids per frame), int32.

    `values[k]` is scale k's flat code buffer and `offsets[k]` the start of each file's codes in it
    (an Arrow list array's values and offsets); `frames[j]` is how many frames of file j to take
    (at most the frames its codes fill: `whole_frames`, or with its padding codes appended,
    `snac_hf.export.frames`). The frames' codes in position order
    (`snac_hf.layout.orpheus.gather_frames`: a handful of numpy gathers), plus each position's id
    offset (`layout.position_offsets`: Orpheus' by default). A code outside 0..4095 is a ValueError.
    """
    ids = gather_frames(values, offsets, frames)
    if ids.size and (ids.min() < 0 or ids.max() >= CODEBOOK_SIZE):
        bad = ids[(ids < 0) | (ids >= CODEBOOK_SIZE)][0]
        raise ValueError(f"code {bad} outside the codebook 0..{CODEBOOK_SIZE - 1}: not SNAC 24 kHz codes")
    ids += layout.position_offsets.astype(np.int32)
    return ids.reshape(-1)


def codes_to_orpheus_ids(
    codes: Sequence[Sequence[int] | np.ndarray], layout: TtsLayout = ORPHEUS
) -> np.ndarray:
    """The speech ids of one file's codes per scale (whole frames only), int32, in `layout`'s ids."""
    if len(codes) != 3:
        raise ValueError(f"the Orpheus layout takes 3 scales of SNAC 24 kHz codes, got {len(codes)}")
    arrays = [np.asarray(c, dtype=np.int64).reshape(-1) for c in codes]
    frames = whole_frames(np.array([[a.size for a in arrays]]))
    return batch_speech_ids(arrays, [np.zeros(1, np.int64)] * 3, frames, layout)


class OrpheusCodes(NamedTuple):
    """What `orpheus_ids_to_codes` found: codes per scale (whole frames), and what it left out."""

    codes: list[np.ndarray]  # int64: F, 2F and 4F codes of scales 0, 1, 2
    skipped_frames: int  # frames with an id outside its position's range (skip_invalid_frames)
    trailing_ids: int  # ids after the last whole frame (0..6), left out


def speech_span(ids: np.ndarray, layout: TtsLayout = ORPHEUS) -> tuple[int, int]:
    """(start, end) of the speech ids in a sequence: after the last start-of-speech (from the start
    when there is none, as for generated ids without their prompt), up to the first end-of-speech
    after it (the end of the sequence when there is none); `layout`'s markers."""
    starts = np.flatnonzero(ids == layout.start_of_speech)
    begin = int(starts[-1]) + 1 if starts.size else 0
    ends = np.flatnonzero(ids[begin:] == layout.end_of_speech)
    return begin, begin + int(ends[0]) if ends.size else ids.size


def orpheus_ids_to_codes(
    ids: Sequence[int] | np.ndarray, skip_invalid_frames: bool = False, layout: TtsLayout = ORPHEUS
) -> OrpheusCodes:
    """SNAC 24 kHz codes per scale from the ids of `layout` (Orpheus' by default): a training row,
    or raw LM output.

    The speech ids are those of `speech_span` (after the last start-of-speech, up to end-of-speech);
    they are cut into whole frames of 7 (a trailing partial frame is left out and counted), each id
    has its position's offset removed, and positions go back to their scales (the inverse of the
    table in the module docstring). An id outside its position's 4096 ids (another position's id,
    a marker, text) is a ValueError naming the frame, the position, the index in `ids` and the
    value. With `skip_invalid_frames` the frames are found by their positions instead
    (`resynchronised_frames`): one stray, missing or wrong id costs only the frame it sits in.
    """
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    begin, end = speech_span(ids, layout)
    offsets = layout.position_offsets
    if skip_invalid_frames:
        frames, skipped, trailing = resynchronised_frames(ids[begin:end], layout)
    else:
        n_frames = (end - begin) // FRAME_CODES
        trailing = (end - begin) - n_frames * FRAME_CODES
        frames = ids[begin : begin + n_frames * FRAME_CODES].reshape(n_frames, FRAME_CODES) - offsets
        valid = (frames >= 0) & (frames < CODEBOOK_SIZE)
        if not valid.all():
            frame, position = (int(i) for i in np.argwhere(~valid)[0])
            index = begin + frame * FRAME_CODES + position
            low = int(offsets[position])
            raise ValueError(
                f"id {int(ids[index])} at index {index} (frame {frame}, position {position}) is outside "
                f"position {position}'s ids {low}..{low + CODEBOOK_SIZE - 1}: not {layout.name} speech ids "
                "in frame order (use --skip_invalid_frames / skip_invalid_frames=True to drop such frames)"
            )
        skipped = 0
    codes = [
        frames[:, [p for p in range(FRAME_CODES) if POSITION_SCALE[p] == k]].reshape(-1) for k in range(3)
    ]
    return OrpheusCodes(codes, skipped, trailing)


def resynchronised_frames(speech: np.ndarray, layout: TtsLayout = ORPHEUS) -> tuple[np.ndarray, int, int]:
    """(frames x 7 codes, skipped frames, trailing ids) of a speech span, found by position.

    Each frame position has its own 4096 ids, so an id names its position (or none: a marker,
    text). A frame is any 7 consecutive ids at positions 0, 1, ..., 6; two such runs cannot overlap
    (a run holds one position-0 id), so every one of them is kept, wherever it starts. A clean start
    of a frame after the last one (positions 0..k-1, k < 7) is the trailing ids; every other stretch
    of ids between kept frames counts as the frames its length makes (length / 7 rounded, at least
    one). One inserted, missing or replaced id therefore skips only the frame it touches, and every
    later frame is kept."""
    n = speech.size
    rel = speech - layout.speech_base
    position = np.where((rel >= 0) & (rel < FRAME_CODES * CODEBOOK_SIZE), rel // CODEBOOK_SIZE, -1)
    if n < FRAME_CODES:
        starts = np.zeros(0, np.int64)
    else:
        windows = np.lib.stride_tricks.sliding_window_view(position, FRAME_CODES)
        starts = np.flatnonzero((windows == np.arange(FRAME_CODES)).all(axis=1))
    in_frame = np.zeros(n, dtype=bool)
    if starts.size:
        in_frame[(starts[:, None] + np.arange(FRAME_CODES)).reshape(-1)] = True
    frames = speech[(starts[:, None] + np.arange(FRAME_CODES)).reshape(-1)].reshape(-1, FRAME_CODES)
    frames = frames - layout.position_offsets
    after_last = int(starts[-1]) + FRAME_CODES if starts.size else 0
    tail = position[after_last:]
    trailing = tail.size if np.array_equal(tail, np.arange(tail.size)) and tail.size < FRAME_CODES else 0
    gap = ~in_frame
    gap[n - trailing :] = False  # the trailing ids are no skipped frame
    edges = np.diff(np.concatenate([[0], gap.astype(np.int8), [0]]))
    stretches = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    skipped = np.maximum(1, np.floor(stretches / FRAME_CODES + 0.5)).astype(np.int64)
    return frames, int(skipped.sum()), trailing
