"""What the encoder is fed (issue 27): windows bounded by audio, not by files, so host memory does
not grow with file length; the next window decoded while the encoder runs; bench/feed_ceiling.py
in a tiny form (its stub that sleeps as a GPU would, and a folder that fits in one unit)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
import threading
import time
import wave
import weakref
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, SPEECH
from datasets import Audio, Dataset

import snac_hf.job.pipeline as pipeline
import snac_hf.sources.decoding as decoding
from snac_hf.codec.encode import SnacEncoder
from snac_hf.codec.load import load_codec

RATE = 24000


def audio_dataset(paths: list[Path]) -> Dataset:
    audio = Dataset.from_dict(
        {
            "id": [p.name for p in paths],
            "file_path": [str(p) for p in paths],
            "audio": [str(p) for p in paths],
        }
    )
    return audio.cast_column("audio", Audio(decode=False))


def write_tone(path: Path, seconds: float) -> Path:
    """A 24 kHz mono 16-bit WAV of a quiet tone with noise (synthetic long audio)."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    samples = 0.1 * np.sin(2 * np.pi * 220 * t) + 0.01 * np.random.default_rng(0).standard_normal(n)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(RATE)
        f.writeframes((samples * 32767).astype("<i2").tobytes())
    return path


class StubEncoder(SnacEncoder):
    """Zero codes of the right lengths after `sleep` seconds per call (a device at work)."""

    sleep = 0.0
    calls: list[dict] = []

    def encode_counted(
        self, files, segment_samples, batch_size, context_samples=0, whole_frames=False, progress=None
    ):  # what the job calls
        time.sleep(self.sleep)
        StubEncoder.calls.append({"files": len(files), "decoded": DecodeWatch.count})
        lengths = self.layout.frame_codes if whole_frames else self.layout.n_codes
        return [[np.zeros(n, np.int16) for n in lengths(len(f))] for f in files], [0] * len(files)


class DecodeWatch:
    """Counts decoded files, and the samples of decoded arrays still alive (and their peak)."""

    count = 0
    alive = 0
    peak = 0
    lock = threading.Lock()

    @classmethod
    def reset(cls):
        cls.count = cls.alive = cls.peak = 0

    @classmethod
    def released(cls, size: int):
        with cls.lock:
            cls.alive -= size

    @classmethod
    def wrap(cls, decode):
        def counted(value, sampling_rate):
            samples = decode(value, sampling_rate)
            with cls.lock:
                cls.count += 1
                cls.alive += samples.size
                cls.peak = max(cls.peak, cls.alive)
            weakref.finalize(samples, cls.released, samples.size)
            return samples

        return counted


@pytest.fixture
def stubbed(monkeypatch):
    """The job with the stub encoder and watched decoding (in a thread of this process)."""
    monkeypatch.setattr(pipeline, "SnacEncoder", StubEncoder)
    monkeypatch.setattr(decoding, "decode_audio", DecodeWatch.wrap(decoding.decode_audio))
    monkeypatch.setattr(StubEncoder, "calls", [])
    monkeypatch.setattr(StubEncoder, "sleep", 0.0)  # a sleep set by a test must not outlive it
    DecodeWatch.reset()
    return StubEncoder


def run_job(paths, model, out, files_per_shard, window_seconds):
    settings = pipeline.TokenizeSettings(files_per_shard=files_per_shard, num_workers=0)
    settings.window_seconds = window_seconds
    codec = load_codec(str(model))
    return pipeline.tokenize_dataset(
        audio_dataset(paths), codec, str(out), settings, overwrite=True, progress=False
    )


def test_the_next_window_is_decoded_while_the_encoder_runs(tmp_path, stubbed, random_model):
    """30 files of 2.99 s, windows of 10 files, the encoder 3 s per window: by the end of the
    first window's encode the next window is decoded (and more), not just a few files ahead."""
    source = SPEECH / "en_001_sense_and_sensibility_01_austen_64kb-0880.flac"
    paths = [shutil.copy(source, tmp_path / f"clip_{i:02d}.flac") for i in range(30)]
    stubbed.sleep = 3.0
    meta = run_job([Path(p) for p in paths], random_model, tmp_path / "out", 10, 9.5 * 2.99)
    assert meta["files_processed"] == 30
    assert [c["files"] for c in stubbed.calls] == [10, 10, 10]
    assert stubbed.calls[0]["decoded"] >= 20, stubbed.calls


def test_host_memory_follows_the_window_not_the_file_length(tmp_path, stubbed, random_model):
    """12 files of 40 s in one unit, windows of 10 s: decoded samples alive at once stay a few
    files' worth (the unit is written once its last file is encoded, without samples), not the
    unit's 12 files (the stub encoder: no encoding cost)."""
    paths = [write_tone(tmp_path / f"long_{i:02d}.wav", 40) for i in range(12)]
    meta = run_job(paths, random_model, tmp_path / "out", 12, 10)
    assert meta["files_processed"] == 12
    assert DecodeWatch.peak <= 6 * 40 * RATE, DecodeWatch.peak / (40 * RATE)


def load_bench():
    spec = importlib.util.spec_from_file_location("feed_ceiling", REPO / "bench" / "feed_ceiling.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["feed_ceiling"] = module
    spec.loader.exec_module(module)
    return module


def test_feed_ceiling_tiny_stub_busy_and_one_unit(tmp_path, monkeypatch, short_speech_dir):
    """The bench's pipeline run with its sleeping stub on a folder that fits in one unit: the
    stub's busy fraction is reported, and the steady rate says why it is the whole job's (it
    divided by zero there)."""
    bench = load_bench()
    monkeypatch.setattr(pipeline, "SnacEncoder", pipeline.SnacEncoder)  # the bench replaces it
    files = sorted(short_speech_dir.iterdir())
    result = bench.pipeline(files, 0, tmp_path / "out", 256, stub_rate=50.0)
    assert "steady_wall_seconds" not in result
    assert result["steady_note"] == "1 unit record(s): the steady rate is the whole job's"
    assert 0 < result["stub_busy"] <= 1 and result["stub_busy_seconds"] > 0
