"""One audio value -> mono float32 samples at the codec's rate, or the reason why not.

`decode_audio` turns one undecoded `datasets.Audio` value (a path or bytes) into samples through
the `datasets.Audio` feature (torchcodec/FFmpeg resample and downmix); a `file://` path (a file
whose name is not valid UTF-8, `snac_hf.sources.path_text`) is opened by its bytes path and decoded the
same way. Decoding row by row is what lets one bad file fail alone instead of the whole batch.

A file fails (`AudioDecodeError`, one error line) when FFmpeg cannot decode it, or when it gives:

- no samples, or a NaN/infinite sample;
- a sample beyond `MAX_ABS_SAMPLE` (100, i.e. +40 dB over full scale) in magnitude: integer PCM
  decodes into [-1, 1), and float files above 1 by clipping headroom or resampling overshoot stay
  far below it; beyond it the "audio" is unscaled or garbage and every code would saturate;
- fewer seconds than the file's header announces, by more than `max(0.25 s, 2%)`: a file cut short
  (an interrupted copy or download), or a header that claims more than the data holds. Checked
  only where the header's duration is a count, not an estimate: PCM codecs (WAV, AIFF, AU, CAF,
  W64, ...), and MP3 with a Xing/Info/VBRI frame (which LAME and FFmpeg write). FFmpeg's header
  duration is the declared one for AIFF and AU, but for WAV (also RF64/BW64), W64 and CAF it is
  clamped to the bytes present, so their declared frame count is read from the header itself
  (`snac_hf.sources.pcm_header`). Elsewhere (a VBR MP3 without one, ADTS AAC: FFmpeg estimates from the
  bit rate; Ogg/Matroska: the header follows the data) a cut is not detectable cheaply. Most other
  cut files (FLAC, WAV, AIFF, M4A mid-stream) already fail to decode.
"""

from __future__ import annotations

import re

import numpy as np
from datasets import Audio

from snac_hf.sources.path_text import FILE_URI, fs_path_of_value
from snac_hf.sources.pcm_header import declared_length_of_value

#: Largest sample magnitude accepted (see the module docstring).
MAX_ABS_SAMPLE = 100.0
#: A decode this much shorter than a trusted header duration is a truncated file.
TRUNCATION_SECONDS, TRUNCATION_FRACTION = 0.25, 0.02
_FRAME_COUNT_TAGS = (b"Xing", b"Info", b"VBRI")
_CPP_LOCATION = re.compile(r"^\w+, \S+\.(?:cpp|h|hpp):\d+, ")
_FRAME_SYNC = re.compile(rb"\xff[\xe0-\xff]")


class AudioDecodeError(ValueError):
    """One file could not be turned into samples; the message names the reason."""


def decode_audio(value: dict, sampling_rate: int) -> np.ndarray:
    """Mono float32 samples at `sampling_rate` from one undecoded `Audio` value, checked as the
    module docstring says."""
    try:
        samples, codec, header_seconds = _decode(value, sampling_rate)
    except Exception as error:  # torchcodec raises RuntimeError/ValueError with C++ context
        raise AudioDecodeError(f"cannot decode audio ({type(error).__name__}: {reason(error)})") from error
    if samples.size == 0:
        raise AudioDecodeError("empty audio (0 samples)")
    if not np.isfinite(samples).all():
        raise AudioDecodeError("audio contains NaN or infinite samples")
    peak = float(np.abs(samples).max())
    if peak > MAX_ABS_SAMPLE:
        raise AudioDecodeError(
            f"samples reach {peak:.3g}, far outside [-1, 1] (limit {MAX_ABS_SAMPLE:g}): float audio must "
            "be scaled to [-1, 1] (integer PCM stored as float unscaled? divide by 32768)"
        )
    decoded_seconds = len(samples) / sampling_rate
    if header_seconds is not None and _header_is_a_count(codec, value):
        _check_complete(decoded_seconds, header_seconds)
    if codec is not None and codec.startswith("pcm_"):
        declared = declared_length_of_value(value)
        if declared is not None:
            _check_complete(decoded_seconds, declared.seconds)
    return samples


def reason(error: Exception) -> str:
    """The first line of an error, without torchcodec's C++ location (`Function, /path.cpp:52, `)."""
    line = (str(error).strip().splitlines() or [""])[0]
    return _CPP_LOCATION.sub("", line)[:200]


def _decode(value: dict, sampling_rate: int) -> tuple[np.ndarray, str | None, float | None]:
    """(samples, codec name, the stream header's duration in seconds or None)."""
    path = value.get("path")
    if value.get("bytes") is None and path and path.startswith(FILE_URI):
        from torchcodec.decoders import AudioDecoder

        with open(fs_path_of_value(path), "rb") as f:
            return _samples(AudioDecoder(f, sample_rate=sampling_rate, num_channels=1))
    return _samples(Audio(sampling_rate=sampling_rate, num_channels=1).decode_example(value))


def _samples(decoder) -> tuple[np.ndarray, str | None, float | None]:
    data = decoder.get_all_samples().data.numpy().reshape(-1).astype(np.float32, copy=False)
    metadata = decoder.metadata
    return data, metadata.codec, metadata.duration_seconds_from_header


def _check_complete(decoded: float, header: float) -> None:
    if decoded < header - max(TRUNCATION_SECONDS, TRUNCATION_FRACTION * header):
        raise AudioDecodeError(
            f"truncated: the file's header says {header:.2f} s, only {decoded:.2f} s decode "
            "(an interrupted copy or download?)"
        )


def _header_is_a_count(codec: str | None, value: dict) -> bool:
    """PCM headers count samples; an MP3 header counts frames only with a Xing/Info/VBRI frame."""
    if codec is None:
        return False
    if codec.startswith("pcm_"):
        return True
    return codec == "mp3" and has_frame_count_tag(_head(value))


def _head(value: dict, size: int = 4096) -> bytes:
    """The first bytes after an ID3v2 tag, of the value's bytes or local file ('' if neither)."""
    data = value.get("bytes")
    if data is not None:
        return data[_id3_size(data[:10]) :][:size]
    path = value.get("path")
    try:
        with open(fs_path_of_value(path), "rb") as f:
            f.seek(_id3_size(f.read(10)))
            return f.read(size)
    except (OSError, TypeError):
        return b""


def _id3_size(header: bytes) -> int:
    """Length of an ID3v2 tag starting with `header` (10 bytes), 0 without one."""
    if len(header) < 10 or header[:3] != b"ID3":
        return 0
    size = (header[6] & 0x7F) << 21 | (header[7] & 0x7F) << 14 | (header[8] & 0x7F) << 7 | header[9] & 0x7F
    return 10 + size + (10 if header[5] & 0x10 else 0)


def has_frame_count_tag(head: bytes) -> bool:
    """Whether the first MPEG audio frame in `head` is a Xing/Info/VBRI frame (it holds the frame
    count; the tag sits within the first 40 bytes of that frame)."""
    sync = _FRAME_SYNC.search(head)  # 11 set bits start an MPEG audio frame
    return sync is not None and any(
        tag in head[sync.start() : sync.start() + 48] for tag in _FRAME_COUNT_TAGS
    )
