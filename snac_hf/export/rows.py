"""Training rows of a TTS layout (`snac_hf.layout.tts_layouts`, Orpheus' by default) from one
Arrow batch of a token set: many files at once, flat numpy.

Per file: the transcript (the layout's template: for Orpheus `"{speaker}: {text}"` with a speaker
column, its multi-speaker convention, and the text alone where the speaker is empty or null, as
Orpheus' own inference prompt (`orpheus_tts` `_format_prompt`: `f"{voice}: {prompt}"` only `if
voice`) reads without a voice, counted as `text_alone`), its text ids (the text tokenizer's
`input_ids`, with its special tokens where the layout takes its BOS from the tokenizer, one batched
call per Arrow batch), and the speech ids of its frames under the frame rule
(`frames.select_frames`: upstream's ceil(n / 2048), or whole real frames only;
`orpheus.batch_speech_ids`); scale lengths no audio gives are refused (a damaged set). A file is
left out, and counted under the first reason that applies, when its transcript is missing or blank,
when the layout needs a speaker (or voice description) and the row has none, when its audio holds
no frame, or
when its row would be longer than `max_length` ids (never cut: a cut row would end mid-frame or
lose its end-of-speech). The kept rows are assembled by `concat_segments`: every row is the same
five segments (markers, text, markers, speech, markers), placed with one scatter per segment.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np
import pyarrow as pa
from transformers import PreTrainedTokenizerBase

from snac_hf.export.frames import select_frames
from snac_hf.export.orpheus import CODES_PER_FRAME, batch_speech_ids
from snac_hf.layout import layout_for
from snac_hf.layout.codes import check_length_rows
from snac_hf.layout.tts_layouts import ORPHEUS, TtsLayout
from snac_hf.tokenset.schema import tokens_column

SNAC_24KHZ = layout_for("snac_24khz")

#: Ids an Orpheus row holds besides its text and speech ids (`TtsLayout.marker_ids` for any layout).
MARKER_IDS = ORPHEUS.marker_ids


@dataclass
class ExportCounts:
    """What an export did with the files of a token set; counts add over batches and shards."""

    files: int = 0  # rows of the token set read
    rows_written: int = 0  # training rows (files) written, packed or not
    empty_transcript: int = 0  # left out: no transcript, or only white space
    empty_speaker: int = 0  # left out: the layout needs a speaker / voice description, and it is blank
    no_whole_frame: int = 0  # left out: audio shorter than one frame (85 ms)
    too_long: int = 0  # left out: the row would exceed max_length ids
    partial_frame_codes_dropped: int = 0  # codes of trailing partial frames of the rows written
    padding_codes_written: int = 0  # SNAC's codes over its zero padding in the last frames written
    frames_written: int = 0
    frames_upstream: int = 0  # frames of the rows written under each rule: ceil(n / 2048) ...
    frames_real_only: int = 0  # ... and whole frames of real audio only
    text_alone: int = 0  # rows written with the text alone: the speaker was empty or null (orpheus)
    ids_written: int = 0  # ids of the rows written (with pack: before the last partial block is dropped)

    def add(self, other: ExportCounts) -> ExportCounts:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))
        return self

    @property
    def left_out(self) -> int:
        return self.empty_transcript + self.empty_speaker + self.no_whole_frame + self.too_long

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RowSettings:
    text_column: str
    speaker_column: str | None = None
    max_length: int | None = None
    frames: str = "real"  # `frames.FRAME_RULES`; the export resolves it (`frames.frame_rule`)
    layout: TtsLayout = ORPHEUS


@dataclass(frozen=True)
class BuiltRows:
    """The training rows of one batch: flat ids, each row's offsets, and which input rows they are."""

    ids: np.ndarray  # int32, every kept row's ids one after another
    offsets: np.ndarray  # int64, len(rows) + 1
    kept: np.ndarray  # bool per input row
    counts: ExportCounts


def column_array(batch: pa.RecordBatch | pa.Table, name: str) -> pa.Array:
    """A column as one Arrow array (a Table's chunks combined)."""
    column = batch.column(name)
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def prompt_texts(batch: pa.RecordBatch | pa.Table, settings: RowSettings) -> tuple[list[str | None], int]:
    """Each row's transcript as the model reads it (`TtsLayout.prompt_text`), or None when it is
    missing or blank, or when the layout needs a speaker and the row's is blank; and how many rows
    were None for that second reason."""
    texts = column_array(batch, settings.text_column).to_pylist()
    speakers = (
        column_array(batch, settings.speaker_column).to_pylist()
        if settings.speaker_column
        else [None] * len(texts)
    )
    layout = settings.layout
    prompts: list[str | None] = []
    no_speaker = 0
    for text, speaker in zip(texts, speakers, strict=True):
        if text is None or not str(text).strip():
            prompts.append(None)
        elif layout.template is None and (speaker is None or not str(speaker).strip()):
            prompts.append(None)
            no_speaker += 1
        else:
            prompts.append(layout.prompt_text(str(text), None if speaker is None else str(speaker)))
    return prompts, no_speaker


def text_token_ids(
    tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], add_special_tokens: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(flat ids, ids per text) of `tokenizer(texts, add_special_tokens=...)`: one batched call."""
    if not texts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    encoded = tokenizer(
        list(texts),
        add_special_tokens=add_special_tokens,
        return_attention_mask=False,
        return_token_type_ids=False,
    )["input_ids"]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    flat = np.fromiter(itertools.chain.from_iterable(encoded), dtype=np.int64, count=int(lengths.sum()))
    return flat, lengths


def scale_buffers(batch: pa.RecordBatch | pa.Table) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Per scale: the flat code buffer and the start of each row's codes in it; and the codes per
    scale of each row (rows x 3). Numpy views of the Arrow buffers, no copy per row."""
    values, offsets = [], []
    for k in range(len(CODES_PER_FRAME)):
        array = column_array(batch, tokens_column(k))
        if array.null_count:
            raise ValueError(f"{tokens_column(k)}: {array.null_count} rows have no codes (null)")
        values.append(array.values.to_numpy(zero_copy_only=False))
        offsets.append(array.offsets.to_numpy().astype(np.int64))
    lengths = np.stack([np.diff(o) for o in offsets], axis=1)
    return values, offsets, lengths


def concat_segments(segments: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Rows made of the same segments in order: segment s gives row j `lengths_s[j]` values, taken
    in turn from its flat `values_s`. Returns (flat rows, row offsets).

    Each segment's values go to `row start + length of the earlier segments of the row + index
    inside the segment`, one scatter per segment.
    """
    lengths = np.stack([np.asarray(n, dtype=np.int64) for _, n in segments], axis=1)
    row_offsets = np.concatenate([[0], np.cumsum(lengths.sum(axis=1))])
    out = np.empty(int(row_offsets[-1]), dtype=np.int32)
    before = np.cumsum(lengths, axis=1) - lengths  # where each segment starts inside its row
    for s, (values, _) in enumerate(segments):
        n = lengths[:, s]
        first = np.cumsum(n) - n
        index = np.arange(int(n.sum()), dtype=np.int64) - np.repeat(first, n)
        out[np.repeat(row_offsets[:-1] + before[:, s], n) + index] = values
    return out, row_offsets


def check_scale_lengths(batch: pa.RecordBatch | pa.Table, lengths: np.ndarray) -> None:
    """A ValueError naming the first row whose scale lengths no audio gives (a damaged set: whole
    frames of it would be silently fewer), via `snac_hf.layout.codes.check_length_rows`."""
    names = (
        [str(i) for i in column_array(batch, "id").to_pylist()]
        if "id" in batch.column_names
        else [f"row {i}" for i in range(batch.num_rows)]
    )
    check_length_rows(SNAC_24KHZ, lengths, names)


def check_text_ids(
    batch: pa.RecordBatch | pa.Table,
    rows: np.ndarray,
    flat: np.ndarray,
    lengths: np.ndarray,
    layout: TtsLayout = ORPHEUS,
) -> None:
    """A ValueError naming the first row whose text ids reach the layout's own ids (Orpheus: from
    128256): the text tokenizer is not the base model's, and its ids would be read as markers or
    speech."""
    end = layout.text_vocab_size
    if not flat.size or flat.max() < end:
        return
    row = int(rows[np.repeat(np.arange(rows.size), lengths)[np.argmax(flat >= end)]])
    name = column_array(batch, "id")[row].as_py() if "id" in batch.column_names else f"row {row}"
    raise ValueError(
        f"{name}: the text tokenizer gave id {int(flat.max())} for its transcript, but ids from "
        f"{end} are {layout.name}'s markers and speech ids: use the text tokenizer of its base model"
    )


def build_rows(
    batch: pa.RecordBatch | pa.Table, tokenizer: PreTrainedTokenizerBase, settings: RowSettings
) -> BuiltRows:
    """The training rows of `batch` (module docstring), with its counts."""
    n = batch.num_rows
    layout = settings.layout
    counts = ExportCounts(files=n)
    prompts, counts.empty_speaker = prompt_texts(batch, settings)
    values, offsets, lengths = scale_buffers(batch)
    check_scale_lengths(batch, lengths)
    selection = select_frames(batch, values, offsets, lengths, settings.frames)
    values, frames = selection.values, selection.frames
    has_text = np.fromiter((p is not None for p in prompts), dtype=bool, count=n)
    counts.empty_transcript = int((~has_text).sum()) - counts.empty_speaker
    has_audio = has_text & (frames > 0)
    counts.no_whole_frame = int((has_text & ~has_audio).sum())
    candidates = np.flatnonzero(has_audio)
    texts = [prompts[i] for i in candidates]
    text_flat, text_lengths = text_token_ids(tokenizer, texts, layout.bos_from_tokenizer)
    check_text_ids(batch, candidates, text_flat, text_lengths, layout)
    row_lengths = layout.marker_ids + text_lengths + 7 * frames[candidates]
    fits = row_lengths <= settings.max_length if settings.max_length else np.ones(candidates.size, bool)
    counts.too_long = int((~fits).sum())
    kept = np.zeros(n, dtype=bool)
    kept[candidates[fits]] = True
    text_keep = np.repeat(fits, text_lengths)
    text_flat, text_lengths = text_flat[text_keep], text_lengths[fits]
    kept_frames = frames[kept]
    speech = batch_speech_ids(values, [starts[kept] for starts in selection.starts], kept_frames, layout)
    m = int(kept.sum())
    start, end, row_end = layout.prompt_start, layout.prompt_end, layout.row_end
    ids, row_offsets = concat_segments(
        [
            (np.tile(start, m), np.full(m, len(start))),
            (text_flat, text_lengths),
            (np.tile(end, m), np.full(m, len(end))),
            (speech, 7 * kept_frames),
            (np.tile(row_end, m), np.full(m, len(row_end))),
        ]
    )
    counts.rows_written = m
    counts.frames_written = int(kept_frames.sum())
    counts.ids_written = int(ids.size)
    unwritten = int(lengths[kept].sum() - 7 * counts.frames_written)  # < 0: padding codes written
    counts.partial_frame_codes_dropped = max(unwritten, 0)
    counts.padding_codes_written = max(-unwritten, 0)
    counts.frames_upstream = int(selection.upstream_frames[kept].sum())
    counts.frames_real_only = int(selection.real_frames[kept].sum())
    if settings.speaker_column and layout.template is not None:
        speakers = column_array(batch, settings.speaker_column).to_pylist()
        counts.text_alone = sum(
            1 for j in np.flatnonzero(kept) if speakers[j] is None or not str(speakers[j]).strip()
        )
    return BuiltRows(ids, row_offsets, kept, counts)
