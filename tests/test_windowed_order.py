"""Windowed scale order (`snac_hf.layout.windowed`): per window of W frames the coarse codes, then
the middle ones, then the fine ones; lossless for every W, frame-like at W = 1, scale order at the
whole file, and usable by the scale-order BPE variants (`window_frames`)."""

from __future__ import annotations

import numpy as np
import pytest

from snac_hf.bpe.cross_scale import scale_major_columns
from snac_hf.layout import layout_for
from snac_hf.layout.codes import validate_batch
from snac_hf.layout.windowed import (
    frames_for_seconds,
    from_windowed,
    to_windowed,
    window_seconds,
    windowed_order,
)

LAYOUT = layout_for("snac_24khz")
FOUR_SCALES = layout_for("snac_32khz")


def files(layout, rng):
    """Files of 0..30 finest codes (partial last frames included), random codes."""
    finest = layout.vq_strides[-1]
    return [
        [rng.integers(0, layout.codebook_size, n) for n in layout.n_codes(m * layout.hop_length * finest)]
        for m in range(31)
    ]


@pytest.mark.parametrize("layout", [LAYOUT, FOUR_SCALES], ids=["3 scales", "4 scales"])
def test_every_window_round_trips_and_the_ends_are_frame_and_scale_order(layout):
    rng = np.random.default_rng(0)
    for codes in files(layout, rng):
        frames = len(codes[0])
        scale_order = np.concatenate(codes)
        for window in range(1, frames + 3):
            ordered, scales = to_windowed(codes, layout, window)
            assert sorted(ordered.tolist()) == sorted(scale_order.tolist())  # every code, once
            back = from_windowed(ordered, scales, layout)
            assert all(np.array_equal(a, b) for a, b in zip(back, codes, strict=True))
            if window >= frames:
                assert np.array_equal(ordered, scale_order)  # W = the whole file: scale by scale
        # W = 1: frame by frame, the scales in turn (hierarchical's order), a partial frame cut short
        ordered, _ = to_windowed(codes, layout, 1)
        per_frame = sum(layout.codes_per_frame)
        grid = np.full(frames * per_frame, -1)
        for k, columns in enumerate(scale_major_columns(layout)):
            ratio = layout.codes_per_frame[k]
            index = np.arange(len(codes[k]))
            grid[(index // ratio) * per_frame + columns[index % ratio]] = codes[k]
        assert np.array_equal(ordered, grid[grid >= 0])


def test_a_window_of_two_frames_by_hand():
    codes = [np.array([0, 1, 2]), np.array([10, 11, 12, 13, 14]), np.arange(20, 29)]  # 9 fine: partial
    ordered, scales = to_windowed(codes, LAYOUT, 2)
    assert ordered.tolist() == [0, 1, 10, 11, 12, 13, 20, 21, 22, 23, 24, 25, 26, 27, 2, 14, 28]
    assert scales.tolist() == [0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 0, 1, 2]
    batch = validate_batch([codes, codes], LAYOUT)  # files stay one after another
    assert np.array_equal(batch.codes[windowed_order(batch, LAYOUT, 2)], np.concatenate([ordered, ordered]))


def test_latency_and_frames_of_a_window():
    assert [frames_for_seconds(LAYOUT, s) for s in (0.25, 1.0, 4.0, 0.01)] == [3, 12, 47, 1]
    assert window_seconds(LAYOUT, 12) == pytest.approx(12 * 2048 / 24000)
    with pytest.raises(ValueError, match="window_frames must be a whole number of frames >= 1, got 0"):
        to_windowed([np.array([1]), np.array([1, 2]), np.arange(4)], LAYOUT, 0)


def test_the_scale_order_variants_serialize_windowed_and_decode_exactly(tmp_path):
    from snac_hf.bpe import load_tokenizer, train_tokenizer
    from snac_hf.bpe.synthetic import write_synthetic_token_set
    from snac_hf.bpe.variants import make_variant

    rng = np.random.default_rng(1)
    sample = files(LAYOUT, rng)
    for variant in ("plain", "thresholded"):
        serializer = make_variant(variant, LAYOUT, window_frames=3)
        assert serializer.options() == {"window_frames": 3}
        for codes in sample:
            symbols = serializer.serialize(codes)
            ordered, scales = to_windowed(codes, LAYOUT, 3)
            assert np.array_equal(symbols, serializer.alphabet.scale_codepoints(scales, ordered))
            assert all(
                np.array_equal(a, b) for a, b in zip(serializer.deserialize(symbols), codes, strict=True)
            )
    assert make_variant("plain", LAYOUT).options() == {}  # tokenizers saved before it keep their options
    with pytest.raises(ValueError, match="window_frames applies to plain, thresholded"):
        make_variant("cross_scale", LAYOUT, window_frames=3)
    # trained with merges, saved, loaded: the window is part of the tokenizer and every file decodes back
    tokens = write_synthetic_token_set(tmp_path / "tokens", LAYOUT, 12, shards=1)
    folder = train_tokenizer(tokens, "plain", 40, output_dir=tmp_path / "tok", window_frames=3)
    tokenizer = load_tokenizer(folder)
    assert tokenizer.serializer.window_frames == 3 and tokenizer.num_merges > 0
    for codes in sample:
        ids = tokenizer.encode(codes)
        assert all(np.array_equal(a, b) for a, b in zip(tokenizer.decode(ids), codes, strict=True))
