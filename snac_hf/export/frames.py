"""Which frames of each file a training row holds, and the codes they are gathered from.

Two rules (`--frames`):

- `upstream` (the default): `ceil(n_samples / 2048)` frames, as Orpheus' published prep writes
  them: it encodes each file whole and writes every frame of SNAC's code tensor, whose last frame
  reaches into SNAC's zero padding of the input. That last frame's codes past the real audio are
  the token set's padding codes (`padding_scale_k`, SNAC's codes over its own zero padding), so
  the frame is the one upstream writes. A token set made before padding codes were stored cannot
  give it: such a set is exported under `real`, and the card says so.
- `real`: whole frames of real audio only, `min(n0, n1 // 2, n2 // 4)`; a partial last frame's
  codes are dropped and counted (what every version before this one wrote).

`select_frames` returns, for one Arrow batch, per scale the flat code buffer and each row's start
in it (real codes followed by that row's padding codes under `upstream`) and the frames per row,
for `snac_hf.layout.orpheus.gather_frames` / `orpheus.batch_speech_ids`. Needs only numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from snac_hf.layout.orpheus import CODES_PER_FRAME, whole_frames
from snac_hf.tokenset.schema import has_padding_columns, padding_column

#: `--frames`: upstream's ceil(n / 2048) frames, or whole frames of real audio only.
FRAME_RULES = ("upstream", "real")


def frame_rule(requested: str | None, column_names: Sequence[str], source: str) -> str:
    """The rule an export uses: `requested`, or None for `upstream` where the token set carries
    padding codes and `real` where it does not (a set made before they were stored). Asking for
    `upstream` from such a set is a ValueError saying how to get it."""
    if requested is not None and requested not in FRAME_RULES:
        raise ValueError(f"--frames {requested}: choose one of {', '.join(FRAME_RULES)}")
    has_padding = has_padding_columns(column_names)
    if requested is None:
        return "upstream" if has_padding else "real"
    if requested == "upstream" and not has_padding:
        raise ValueError(
            f"--frames upstream: {source} holds no padding codes (padding_scale_k: it was made before "
            "snac_hf stored them), so the last frame Orpheus writes cannot be built; tokenize the audio "
            "again, or export whole real frames only with --frames real"
        )
    return requested


def rule_line(rule: str, padding_stored: bool) -> str:
    """The card's line saying which rule gave the frames, and why."""
    if rule == "upstream":
        return (
            "- frames: Orpheus' `ceil(n_samples / 2048)` per file (`--frames upstream`, the default): the "
            "last frame of a file is completed with SNAC's codes over its own zero padding, as the "
            "published prep's whole-file encode gives it"
        )
    why = (
        "asked for with `--frames real`"
        if padding_stored
        else "the token set was made before snac_hf stored padding codes, so upstream's last frame "
        "cannot be built; tokenize again for it"
    )
    return f"- frames: whole frames of real audio only (`--frames real`: {why})"


@dataclass(frozen=True)
class FrameSelection:
    """What the rows of one batch are gathered from (module docstring)."""

    values: list[np.ndarray]  # per scale: flat codes
    starts: list[np.ndarray]  # per scale: each row's first code in `values`
    frames: np.ndarray  # int64 per row: frames the row holds under the rule
    upstream_frames: np.ndarray  # int64 per row: ceil(n / 2048), whatever the rule
    real_frames: np.ndarray  # int64 per row: whole frames of real audio, whatever the rule


def select_frames(
    batch: pa.RecordBatch | pa.Table,
    values: Sequence[np.ndarray],
    offsets: Sequence[np.ndarray],
    lengths: np.ndarray,
    rule: str,
) -> FrameSelection:
    """Frames and code buffers of a batch whose real codes are `values`/`offsets` (per scale, an
    Arrow list array's buffers) with `lengths` (rows x 3, lengths real audio gives). Under
    `upstream` each row's padding codes are appended to its real codes; a row whose padding codes
    are not the ones its last frame lacks is a ValueError (a damaged set)."""
    upstream = lengths[:, 0].astype(np.int64)  # n0 = ceil(n / 2048) for the lengths of real audio
    real = whole_frames(lengths)
    if rule == "real":
        return FrameSelection(list(values), [o[:-1] for o in offsets], real, upstream, real)
    merged_values, merged_starts = [], []
    for k, per_frame in enumerate(CODES_PER_FRAME):
        column = batch.column(padding_column(k))
        pad = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        if pad.null_count:
            raise ValueError(f"{padding_column(k)}: {pad.null_count} rows have no padding codes (null)")
        pad_offsets = pad.offsets.to_numpy().astype(np.int64)
        missing = upstream * per_frame - lengths[:, k]
        wrong = np.flatnonzero(np.diff(pad_offsets) != missing)
        if wrong.size:
            row = int(wrong[0])
            raise ValueError(
                f"row {row}: {padding_column(k)} holds {int(np.diff(pad_offsets)[row])} codes, but its last "
                f"frame lacks {int(missing[row])}: a damaged token set; tokenize the audio again"
            )
        flat, starts = append_rows(
            values[k], offsets[k], pad.values.to_numpy(zero_copy_only=False), pad_offsets
        )
        merged_values.append(flat)
        merged_starts.append(starts)
    return FrameSelection(merged_values, merged_starts, upstream, upstream, real)


def append_rows(
    values: np.ndarray, offsets: np.ndarray, tail_values: np.ndarray, tail_offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One flat buffer in which row j is `values[offsets[j]:offsets[j + 1]]` followed by
    `tail_values[tail_offsets[j]:tail_offsets[j + 1]]`; and each row's start in it. Two scatters."""
    heads, tails = np.diff(offsets), np.diff(tail_offsets)
    starts = np.concatenate([[0], np.cumsum(heads + tails)])[:-1].astype(np.int64)
    out = np.empty(int(heads.sum() + tails.sum()), dtype=values.dtype)
    for source, source_offsets, n, shift in (
        (values, offsets, heads, 0),
        (tail_values, tail_offsets, tails, heads),
    ):
        first = np.cumsum(n) - n
        inside = np.arange(int(n.sum()), dtype=np.int64) - np.repeat(first, n)
        out[np.repeat(starts + shift, n) + inside] = source[np.repeat(source_offsets[:-1], n) + inside]
    return out, starts
