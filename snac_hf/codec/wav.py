"""32-bit float WAV files with the standard library alone (no torch, no soundfile).

A WAVE file is a RIFF container: `RIFF <size> WAVE`, then chunks of `<id> <size> <payload>`.
Float samples need format tag 3 (WAVE_FORMAT_IEEE_FLOAT) in the `fmt ` chunk; the format's
specification also asks non-PCM files for a `fact` chunk holding the frame count. Samples are
little-endian float32, interleaved by channel (snac_hf writes mono). Python's `wave` module
writes integer PCM only, hence this module: float keeps the decoder's output bit for bit, also
where an untrained decoder produces values outside [-1, 1].
"""

from __future__ import annotations

import os
import struct
import uuid
from pathlib import Path

import numpy as np

IEEE_FLOAT = 3
#: The largest data chunk a WAV's 32-bit size field can declare (12.4 hours of mono float at 24 kHz).
MAX_DATA_BYTES = 0xFFFFFFFF - 50
_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _header(n_frames: int, sampling_rate: int) -> bytes:
    """RIFF header, `fmt ` and `fact` chunks and the `data` chunk's header for `n_frames` samples."""
    n_bytes = 4 * n_frames
    fmt = struct.pack("<HHIIHHH", IEEE_FLOAT, 1, sampling_rate, sampling_rate * 4, 4, 32, 0)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"fact" + struct.pack("<II", 4, n_frames)
    return (
        b"RIFF"
        + struct.pack("<I", 4 + len(chunks) + 8 + n_bytes)
        + b"WAVE"
        + chunks
        + (b"data" + struct.pack("<I", n_bytes))
    )


class FloatWavWriter:
    """A mono float WAV written piece by piece, atomically: `write` appends samples, `commit` sets
    the sizes in the header and renames the file into place; leaving the `with` block by an
    exception removes the temporary file instead (the target is left as it was).

    The temporary file is a fresh name in the target's folder (`.NAME.<random>.partial`) created
    with `O_CREAT | O_EXCL | O_NOFOLLOW`: it never opens an existing file or a planted link, so
    nothing outside the folder is written through a symlink; the rename replaces a link at the
    target's name rather than following it."""

    def __init__(self, path: str | os.PathLike, sampling_rate: int):
        self.path = Path(path)
        self.sampling_rate = sampling_rate
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.partial")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NO_FOLLOW
        self.file = os.fdopen(os.open(self.tmp, flags, 0o666), "wb")
        self.n_frames = 0
        self.file.write(_header(0, sampling_rate))

    def write(self, samples: np.ndarray) -> None:
        data = np.ascontiguousarray(np.asarray(samples, dtype="<f4").reshape(-1)).tobytes()
        if 4 * self.n_frames + len(data) > MAX_DATA_BYTES:
            raise ValueError(f"{self.path}: more audio than a WAV file can hold (4 GiB of samples)")
        self.file.write(data)
        self.n_frames += len(data) // 4

    def commit(self) -> Path:
        self.file.seek(0)
        self.file.write(_header(self.n_frames, self.sampling_rate))
        self.file.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        self.file.close()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> FloatWavWriter:
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


def float_wav_bytes(samples: np.ndarray, sampling_rate: int) -> bytes:
    """The bytes of the float WAV file `write_float_wav` writes (for a dataset's `Audio` column)."""
    data = np.ascontiguousarray(np.asarray(samples, dtype="<f4").reshape(-1)).tobytes()
    if len(data) > MAX_DATA_BYTES:
        raise ValueError("more audio than a WAV file can hold (4 GiB of samples)")
    return _header(len(data) // 4, sampling_rate) + data


def write_float_wav(path: str | os.PathLike, samples: np.ndarray, sampling_rate: int) -> Path:
    """Write mono float32 `samples` atomically as a float WAV (`FloatWavWriter`)."""
    with FloatWavWriter(path, sampling_rate) as writer:
        writer.write(samples)
    return writer.path


def read_float_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """(mono float32 samples, sampling rate) of a file `write_float_wav` wrote; other WAVs refused."""
    raw = Path(path).read_bytes()
    if raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a RIFF/WAVE file")
    position, fmt, data = 12, None, None
    while position + 8 <= len(raw):
        chunk_id, size = (
            raw[position : position + 4],
            struct.unpack("<I", raw[position + 4 : position + 8])[0],
        )
        payload = raw[position + 8 : position + 8 + size]
        if chunk_id == b"fmt ":
            fmt = struct.unpack("<HHIIHH", payload[:16])
        elif chunk_id == b"data":
            data = payload
        position += 8 + size + (size & 1)  # chunks are padded to an even size
    if fmt is None or data is None:
        raise ValueError(f"{path}: no fmt or data chunk")
    tag, channels, rate, _, _, bits = fmt
    if (tag, channels, bits) != (IEEE_FLOAT, 1, 32):
        raise ValueError(f"{path}: not mono 32-bit float (format {tag}, {channels} channels, {bits} bits)")
    return np.frombuffer(data, dtype="<f4").astype(np.float32), rate
