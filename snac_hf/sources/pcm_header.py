"""The length a PCM container's header declares, read from the header itself (not through FFmpeg).

FFmpeg reports a WAV's, W64's or CAF's duration from the data chunk's size *clamped to the bytes
the file holds*, so a file cut short (or a header that claims more than the data) reads as a
shorter whole file and decodes short without a word. AIFF (COMM's frame count) and AU (the data
size) are reported as declared, so FFmpeg's header duration already catches them
(`snac_hf.sources.audio`). This module reads the declared sample frames of the other three:

- WAV (`RIFF`/`RF64`/`BW64` ... `WAVE`): `fmt ` gives the rate and the bytes per frame (block
  align); `data`'s 32-bit size, or for RF64/BW64 the 64-bit size in `ds64`, gives the bytes.
  A size that is a placeholder for "unknown" (a file written to a pipe: 0, 0xFFFFFFFF, or from
  0x7FFFF000 up, SoX's) declares nothing.
- W64 (Sony Wave64): the same `fmt ` payload and a `data` chunk, in GUID-named chunks whose 64-bit
  sizes count their own 24-byte header.
- CAF: `desc` gives the rate, bytes and frames per packet; `data`'s 64-bit size counts a 4-byte
  edit count before the audio. A size of -1 means "to the end of the file" and declares nothing.

The frame count is `audio bytes // bytes per frame` (CAF: packets times frames per packet); only
the header is read (a few seeks), never the audio.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import BinaryIO

from snac_hf.sources.path_text import fs_path_of_value

#: Chunks looked at before `data` at most (metadata chunks may come first; a bound for hostile files).
MAX_CHUNKS = 64
_W64_GUID_TAIL = bytes.fromhex("f3acd3118cd100c04f8edb8a")  # GUIDs of `fmt ` and `data` after the 4cc
_W64_RIFF = b"riff" + bytes.fromhex("2e91cf11a5d628db04c10000")
#: 32-bit data sizes that writers use for "length unknown" (streaming to a pipe).
_UNKNOWN_SIZE_FROM = 0x7FFFF000


@dataclass(frozen=True)
class DeclaredLength:
    """What a container's header declares: `frames` sample frames at `sampling_rate` Hz."""

    container: str
    frames: int
    sampling_rate: float

    @property
    def seconds(self) -> float:
        return self.frames / self.sampling_rate


def declared_length_of_value(value: dict) -> DeclaredLength | None:
    """The declared length of an undecoded `Audio` value's bytes or local file; None for another
    container, a header without a count, a damaged header, or a file that cannot be opened here."""
    data = value.get("bytes")
    if data is not None:
        return declared_length(io.BytesIO(data))
    path = value.get("path")
    if not path:
        return None
    try:
        with open(fs_path_of_value(path), "rb") as stream:
            return declared_length(stream)
    except OSError:  # a remote path (hf://, https://) or an unreadable file: FFmpeg reports that
        return None


def declared_length(stream: BinaryIO) -> DeclaredLength | None:
    """The declared length of the WAV, RF64/BW64, W64 or CAF file in `stream` (see the module
    docstring); None for other files and for headers that declare none."""
    start = stream.read(12)
    try:
        if start[:4] in (b"RIFF", b"RF64", b"BW64") and start[8:12] == b"WAVE":
            return _wav(stream, rf64=start[:4] != b"RIFF")
        if start[:4] == b"caff":
            return _caf(stream)
        if start + stream.read(4) == _W64_RIFF:
            return _w64(stream)
    except (struct.error, ZeroDivisionError, ValueError):  # a damaged header: FFmpeg reports that
        return None
    return None


def _chunks(stream: BinaryIO, header: str, pad_to: int, size_counts_header: bool = False):
    """(chunk id, payload size) of each chunk from the stream's position on, the stream left at the
    payload's start. `header` is the struct format of id + size; a payload is padded to a multiple
    of `pad_to` bytes; W64 sizes count the chunk's own header (`size_counts_header`)."""
    step = struct.calcsize(header)
    for _ in range(MAX_CHUNKS):
        raw = stream.read(step)
        if len(raw) < step:
            return
        chunk_id, size = struct.unpack(header, raw)
        size -= step if size_counts_header else 0
        offset = stream.tell()
        yield chunk_id, size
        if size < 0:
            return
        stream.seek(offset + size + (-size % pad_to))


def _fmt(stream: BinaryIO) -> tuple[int, int]:
    """(sampling rate, bytes per frame) from a WAVEFORMAT payload at the stream's position."""
    _, _, rate, _, block_align = struct.unpack("<HHIIH", stream.read(14))
    return rate, block_align


def _wav(stream: BinaryIO, rf64: bool) -> DeclaredLength | None:
    rate = block_align = None
    ds64_bytes = None
    for chunk_id, size in _chunks(stream, "<4sI", pad_to=2):
        if chunk_id == b"ds64":
            _, ds64_bytes = struct.unpack("<QQ", stream.read(16))
        elif chunk_id == b"fmt ":
            rate, block_align = _fmt(stream)
        elif chunk_id == b"data":
            if rf64 and size == 0xFFFFFFFF:
                size = ds64_bytes
            elif size == 0 or size >= _UNKNOWN_SIZE_FROM:
                return None
            if size is None or not rate or not block_align:
                return None
            return DeclaredLength("WAV", size // block_align, rate)
    return None


def _w64(stream: BinaryIO) -> DeclaredLength | None:
    stream.seek(40)  # riff GUID + 64-bit size + wave GUID
    rate = block_align = None
    for chunk_id, size in _chunks(stream, "<16sQ", pad_to=8, size_counts_header=True):
        if chunk_id[4:] != _W64_GUID_TAIL:
            continue
        if chunk_id[:4] == b"fmt ":
            rate, block_align = _fmt(stream)
        elif chunk_id[:4] == b"data":
            if size <= 0 or size >= 2**63 or not rate or not block_align:
                return None
            return DeclaredLength("W64", size // block_align, rate)
    return None


def _caf(stream: BinaryIO) -> DeclaredLength | None:
    stream.seek(8)  # 'caff', version, flags
    rate = bytes_per_packet = frames_per_packet = None
    for chunk_id, size in _chunks(stream, ">4sq", pad_to=1):
        if chunk_id == b"desc":
            rate, _, _, bytes_per_packet, frames_per_packet = struct.unpack(">d4sIII", stream.read(24))
        elif chunk_id == b"data":
            if size < 4 or not rate or not bytes_per_packet or not frames_per_packet:
                return None  # -1: the data runs to the end of the file (length not declared)
            return DeclaredLength("CAF", (size - 4) // bytes_per_packet * frames_per_packet, rate)
    return None
