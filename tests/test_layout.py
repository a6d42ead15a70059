import pytest

from snac_hf.layout import SNAC_CONFIGS, CodecLayout, layout_for


def test_24khz_trim_lengths_for_known_durations():
    layout = layout_for("hubertsiuzdak/snac_24khz")
    assert layout.n_scales == 3
    assert layout.hop_length == 512
    assert layout.pad_multiple == 2048
    assert layout.n_codes(4 * 24000) == (47, 94, 188)
    assert layout.n_codes(24000) == (12, 24, 47)
    assert layout.n_codes(1) == (1, 1, 1)
    assert layout.n_codes(0) == (0, 0, 0)
    assert layout.codes_per_frame == (1, 2, 4)
    assert [round(r, 3) for r in layout.codes_per_second] == [11.719, 23.438, 46.875]


@pytest.mark.parametrize("name, rate", [("snac_32khz", 32000), ("snac_44khz", 44100)])
def test_four_scale_models(name, rate):
    layout = layout_for(name)
    assert layout.sampling_rate == rate
    assert layout.n_scales == 4
    assert layout.hop_length == 384
    # hop * lcm(vq_strides[0]=8, attn_window_size=32)
    assert layout.pad_multiple == 12288
    assert layout.codes_per_frame == (1, 2, 4, 8)
    assert layout.n_codes(rate) == tuple(-(-rate // (384 * s)) for s in (8, 4, 2, 1))


def test_segment_length_rounds_to_padding_multiple():
    layout = layout_for("snac_24khz")
    assert layout.segment_samples(4.0) == 47 * 2048  # 96000 / 2048 = 46.9 -> 47
    assert layout.segment_samples(0.01) == 2048  # never zero


def test_layout_round_trips_through_dict():
    for config in SNAC_CONFIGS.values():
        layout = CodecLayout.from_snac_config(config)
        assert CodecLayout.from_dict(layout.to_dict()) == layout


def test_unknown_model_is_a_clear_error():
    with pytest.raises(KeyError, match="unknown SNAC model"):
        layout_for("someone/codec")
