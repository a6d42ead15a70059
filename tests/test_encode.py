"""Batched encoding equals SNAC's own per-file encode (the reference), code for code."""

import numpy as np
import pytest

from snac_hf.audio import decode_audio
from snac_hf.codec import load_codec
from snac_hf.encode import SnacEncoder, code_agreement, encode_alone, length_buckets, plan_segments
from snac_hf.folder import folder_dataset


@pytest.fixture(scope="module")
def codec(fitted_model):
    return load_codec(str(fitted_model))


@pytest.fixture(scope="module")
def recordings(speech_dir):
    """Real recordings: one of 7.1 s, then five of 1.1 to 2.0 s."""
    ds = folder_dataset(str(speech_dir)).select([0, 5, 6, 7, 8, 16])
    return [decode_audio(value, 24000) for value in ds["audio"]]


def test_length_buckets_share_one_padded_length():
    lengths = [100, 5000, 2048, 4096, 4097, 1, 6000]
    batches = list(length_buckets(lengths, 2048, batch_size=2))
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 2
        assert len({-(-lengths[i] // 2048) for i in batch}) == 1


def test_plan_segments_cover_the_file_once():
    segments = plan_segments(0, 10_000, 4096, context_samples=2048)
    assert [(s.core_start, s.core_stop) for s in segments] == [(0, 4096), (4096, 8192), (8192, 10_000)]
    assert [(s.start, s.stop) for s in segments] == [(0, 6144), (2048, 10_000), (6144, 10_000)]


def test_default_settings_equal_per_file_reference_for_short_files(codec, recordings):
    """Files shorter than one segment: 100% code agreement with SNAC's encode of each file alone."""
    short = [r for r in recordings if len(r) < codec.layout.segment_samples(4.0)]
    assert len(short) == 5
    got = SnacEncoder(codec).encode_files(short, codec.layout.segment_samples(4.0), batch_size=16)
    reference = [encode_alone(codec, r) for r in short]
    assert code_agreement(got, reference) == 1.0
    for codes, samples in zip(got, short):
        assert tuple(len(c) for c in codes) == codec.layout.n_codes(len(samples))


def test_batch_size_does_not_change_a_code(codec, recordings):
    encoder = SnacEncoder(codec)
    segment = codec.layout.segment_samples(1.0)  # the long file is cut too
    one = encoder.encode_files(recordings[:4], segment, batch_size=1)
    many = encoder.encode_files(recordings[:4], segment, batch_size=8)
    for a, b in zip(one, many):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("exact", [False, True], ids=["float32", "exact"])
def test_cuts_change_codes_and_context_restores_them(codec, recordings, exact):
    long = recordings[:1]  # 7.1 s
    reference = [encode_alone(codec, r, exact=exact) for r in long]
    encoder = SnacEncoder(codec, exact=exact)
    segment = codec.layout.segment_samples(1.0)
    cut = code_agreement(encoder.encode_files(long, segment, 8), reference)
    with_context = code_agreement(encoder.encode_files(long, segment, 8, context_samples=4 * 2048), reference)
    assert cut < 0.9  # 1 s cuts change many codes near each cut with well-spread codebooks
    # 0.34 s of context on each side: the whole-file codes (SNAC 24 kHz has no attention)
    assert with_context == 1.0


def test_segment_must_be_a_padding_multiple(codec, recordings):
    with pytest.raises(ValueError, match="not a multiple of 2048"):
        SnacEncoder(codec).encode_files(recordings[:1], 3000, batch_size=1)
