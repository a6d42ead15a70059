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
from pathlib import Path

import numpy as np

IEEE_FLOAT = 3


def write_float_wav(path: str | os.PathLike, samples: np.ndarray, sampling_rate: int) -> Path:
    """Write mono float32 `samples` atomically (temporary file, then rename) as a float WAV."""
    data = np.ascontiguousarray(np.asarray(samples, dtype="<f4").reshape(-1)).tobytes()
    n_frames = len(data) // 4
    fmt = struct.pack("<HHIIHH", IEEE_FLOAT, 1, sampling_rate, sampling_rate * 4, 4, 32) + struct.pack(
        "<H", 0
    )
    chunks = [
        b"fmt " + struct.pack("<I", len(fmt)) + fmt,
        b"fact" + struct.pack("<I", 4) + struct.pack("<I", n_frames),
        b"data" + struct.pack("<I", len(data)) + data,
    ]
    body = b"WAVE" + b"".join(chunks)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    os.replace(tmp, path)
    return path


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
