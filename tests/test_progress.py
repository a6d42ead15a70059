"""Progress you can see (issue 31, item 5): files and audio seconds counted as the encoder finishes
them (not per shard), and the whole job's figures on the main process from every process's counts."""

from __future__ import annotations

import pytest

from snac_hf.codec.encode import SnacEncoder
from snac_hf.codec.load import load_codec
from snac_hf.job.progress import JobProgress, clear, progress_file
from snac_hf.sources.audio import decode_audio
from snac_hf.tokenset.ownership import STATE_DIR
from tests.conftest import SHORT_SPEECH, SPEECH


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_encoder_reports_files_and_samples_as_buckets_finish(fitted_model):
    codec = load_codec(str(fitted_model))
    rate = codec.layout.sampling_rate
    files = [decode_audio({"path": str(SPEECH / name), "bytes": None}, rate) for name in SHORT_SPEECH[:3]]
    reports = []
    segment = codec.layout.segment_samples(0.5)
    SnacEncoder(codec).encode_files(files, segment, 2, progress=lambda f, s: reports.append((f, s)))
    assert len(reports) > 3  # moves many times within one call (one unit, one shard)
    assert sum(f for f, _ in reports) == 3 and sum(s for _, s in reports) == sum(len(x) for x in files)
    assert reports[0][0] == 0  # the first bucket holds the first segment of each file: none is done


def test_the_main_process_shows_the_whole_job(tmp_path):
    (tmp_path / STATE_DIR).mkdir()
    clock = Clock()
    main = JobProgress(tmp_path, 0, 2, total_files=10, sampling_rate=24000, clock=clock)
    other = JobProgress(tmp_path, 1, 2, total_files=4, sampling_rate=24000, clock=clock)
    assert main.snapshot().eta_seconds is None  # nothing yet
    other.encoded(3, 48000)  # published at once (first report)
    other.encoded(1, 24000)  # within PUBLISH_SECONDS: not yet
    clock.now += 4.0
    main.encoded(1, 24000)
    job = main.snapshot()
    assert (job.files, job.total_files, job.audio_seconds, job.elapsed) == (4, 10, 3.0, 4.0)
    assert job.files_per_second == 1.0 and job.real_time == 0.75 and job.eta_seconds == 6.0
    assert job.line() == "4/10 files, 0.001 h of audio, 1.00 files/s, 0.8x real time, ETA 6 s"
    other.encoded(0, 0)  # a second later than its last publication: published
    assert main.snapshot().files == 5 and main.snapshot().audio_seconds == 4.0
    single = JobProgress(tmp_path / "alone", 0, 1, total_files=2, sampling_rate=24000, clock=clock)
    single.encoded(2, 24000)  # one process publishes nothing
    assert not (tmp_path / "alone").exists() and single.snapshot().files == 2
    clear(tmp_path)
    assert not progress_file(tmp_path, 1).exists() and main.snapshot().files == 1


@pytest.mark.parametrize("name", ["progress-0.json", "progress-12.json"])
def test_progress_files_are_snac_hf_state(name):
    from snac_hf.tokenset.ownership import STATE_FILE

    assert STATE_FILE.match(f"{STATE_DIR}/{name}") and STATE_FILE.match(f"{STATE_DIR}/.{name}.partial")


def test_an_out_of_memory_retry_counts_each_file_once(fitted_model, monkeypatch):
    """The window encoded again after an out-of-memory (injected on the third bucket, after two
    have reported) counts its files and samples once: the retry reports only what is new."""
    import torch

    from snac_hf.job.out_of_memory import SplittingEncoder

    codec = load_codec(str(fitted_model))
    files = [decode_audio({"path": str(SPEECH / name), "bytes": None}, 24000) for name in SHORT_SPEECH[:3]]
    launch, launches = SnacEncoder._launch, []

    def third_launch_runs_out_of_memory(self, inputs, keep, *rest):
        launches.append(len(inputs))
        if len(launches) == 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected)")
        return launch(self, inputs, keep, *rest)

    monkeypatch.setattr(SnacEncoder, "_launch", third_launch_runs_out_of_memory)
    reports = []
    segment = codec.layout.segment_samples(0.5)
    splitting = SplittingEncoder(
        SnacEncoder(codec), segment, 0, 4, progress=lambda f, s: reports.append((f, s))
    )
    codes, _, splits = splitting.encode(files)
    assert splits == [{"batch_size": 4, "to": 2}] and len(codes) == 3
    assert sum(s for _, s in reports[:2]) > 0  # the first attempt had reported before it failed
    assert sum(f for f, _ in reports) == 3 and sum(s for _, s in reports) == sum(len(x) for x in files)
