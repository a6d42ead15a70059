"""The symbol alphabet, input checks and every variant's serialization, without training BPE."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snac_hf.bpe import VARIANTS, make_variant
from snac_hf.bpe.alphabet import (
    CODE_BASE,
    RUN_KIND,
    SymbolAlphabet,
    codepoints_to_text,
    text_to_codepoints,
)
from snac_hf.layout import layout_for
from snac_hf.layout.codes import expected_lengths, validate_batch, validate_codes

L24 = layout_for("snac_24khz")
L32 = layout_for("snac_32khz")
LAYOUTS = {"snac_24khz": L24, "snac_32khz": L32}


@st.composite
def file_codes(draw, layout, max_finest: int = 70):
    """A valid file: lengths some audio produces (partial frames included), codes anywhere in the
    codebook (so mostly never seen in training), runs up to 40 long (longer than max_run 16)."""
    finest = draw(st.integers(0, max_finest))
    longest_run = draw(st.sampled_from([1, 3, 40]))
    extremes = draw(st.booleans())  # only codes 0, 1 and codebook_size - 1
    dtype = draw(st.sampled_from([np.int16, np.int32, np.int64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    codes = []
    for n in expected_lengths(layout, finest):
        if extremes:
            values = rng.choice([0, 1, layout.codebook_size - 1], size=n)
        else:
            values = rng.integers(0, layout.codebook_size, size=n)
        runs = rng.integers(1, longest_run + 1, size=n)
        codes.append(np.repeat(values, runs)[:n].astype(dtype))
    return codes


def test_alphabet_code_points_and_tables():
    alphabet = SymbolAlphabet(n_scales=3, codebook_size=4096, max_run=16)
    assert alphabet.code_symbol(0, 0) == CODE_BASE
    assert alphabet.code_symbol(2, 5) == CODE_BASE + 2 * 4096 + 5
    assert alphabet.run_symbol(2) == CODE_BASE + 3 * 4096
    assert alphabet.run_symbol(16) == CODE_BASE + 3 * 4096 + 14
    assert alphabet.size == 3 * 4096 + 15
    initial = alphabet.initial_alphabet()
    assert len(initial) == len(set(initial)) == alphabet.size
    kinds, values = alphabet.classify(np.array([alphabet.code_symbol(1, 7), alphabet.run_symbol(5)]))
    assert kinds.tolist() == [1, RUN_KIND] and values.tolist() == [7, 5]
    with pytest.raises(ValueError, match="run length 17"):
        alphabet.run_symbol(17)
    with pytest.raises(ValueError, match="not a base symbol"):
        alphabet.classify(np.array([ord("a")]))
    with pytest.raises(ValueError, match="do not fit"):
        SymbolAlphabet(n_scales=16, codebook_size=4096)
    assert SymbolAlphabet.from_dict(alphabet.to_dict()) == alphabet


def test_text_codepoint_conversion_round_trips():
    codepoints = np.array([CODE_BASE, CODE_BASE + 12287, 0x20, 0x10FFFD], dtype=np.uint32)
    text = codepoints_to_text(codepoints)
    assert [ord(c) for c in text] == codepoints.tolist()
    assert np.array_equal(text_to_codepoints(text), codepoints)
    assert codepoints_to_text(np.zeros(0, np.uint32)) == ""


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
def test_valid_lengths_are_exactly_those_of_some_audio(layout):
    produced = {layout.n_codes(n) for n in range(0, 40 * layout.samples_per_code(0) + 1)}
    accepted = {expected_lengths(layout, m) for m in range(0, 40 * layout.codes_per_frame[-1] + 1)}
    assert produced == accepted
    assert expected_lengths(L24, 47) == (12, 24, 47)  # 1.0 s at 24 kHz: a partial last frame


def test_bad_input_is_a_clear_error():
    good = [np.zeros(12, int), np.zeros(24, int), np.zeros(47, int)]
    validate_codes(good, L24)
    with pytest.raises(ValueError, match="expected 3 scales"):
        validate_codes(good[:2], L24)
    with pytest.raises(ValueError, match="expected 4 scales"):
        validate_codes(good, L32)
    with pytest.raises(ValueError, match=r"misaligned scale lengths \(12, 24, 40\).*expects \(10, 20, 40\)"):
        validate_codes([np.zeros(12, int), np.zeros(24, int), np.zeros(40, int)], L24)
    with pytest.raises(ValueError, match="scale 1 position 3 holds code 4096"):
        validate_codes([np.zeros(12, int), np.r_[0, 0, 0, 4096, np.zeros(20, int)], np.zeros(47, int)], L24)
    with pytest.raises(ValueError, match="code -1"):
        validate_codes([np.full(12, -1), np.zeros(24, int), np.zeros(47, int)], L24)
    with pytest.raises(ValueError, match="must hold integers"):
        validate_codes([np.zeros(12, float) + 0.5, np.zeros(24, int), np.zeros(47, int)], L24)
    with pytest.raises(ValueError, match="must be 1-D"):
        validate_codes([np.zeros((1, 12), int), np.zeros(24, int), np.zeros(47, int)], L24)
    with pytest.raises(ValueError, match="one array of shape"):
        validate_codes(np.zeros((3, 8), int), L24)
    with pytest.raises(ValueError, match="file 'b.wav': misaligned"):
        validate_batch(
            [good, [np.zeros(1, int), np.zeros(1, int), np.zeros(9, int)]],
            L24,
            ["file 'a.wav'", "file 'b.wav'"],
        )


def test_options_that_do_not_apply_are_errors():
    with pytest.raises(ValueError, match="max_run applies to"):
        make_variant("plain", L24, max_run=8)
    with pytest.raises(ValueError, match="span_frames applies to"):
        make_variant("rl", L24, span_frames=True)
    with pytest.raises(ValueError, match="max_run must be >= 2"):
        make_variant("rl", L24, max_run=1)
    with pytest.raises(ValueError, match="unknown BPE variant"):
        make_variant("bytes", L24)


def symbols(variant, codes):
    """The serialization as readable (scale, code) / ('R', length) items."""
    alphabet = variant.alphabet
    kinds, values = alphabet.classify(variant.serialize(codes))
    return [("R", int(v)) if k == RUN_KIND else (int(k), int(v)) for k, v in zip(kinds, values, strict=True)]


def test_rl_symbols_follow_the_definition():
    rl = make_variant("rl", L24)  # max_run 16
    codes = [np.array([7, 7, 7, 5] + [9] * 20), np.array([3] * 40 + [1] * 8), np.arange(96) % 2]
    items = symbols(rl, codes)
    assert items[:7] == [(0, 7), ("R", 3), (0, 5), (0, 9), ("R", 16), (0, 9), ("R", 4)]
    assert items[7:15] == [(1, 3), ("R", 16), (1, 3), ("R", 16), (1, 3), ("R", 8), (1, 1), ("R", 8)]
    assert items[15:] == [(2, i % 2) for i in range(96)]


def test_cross_scale_order_is_depth_first_per_frame_and_cut_at_a_partial_frame():
    cross = make_variant("cross_scale", L24)
    # 1.0 s at 24 kHz: 12/24/47 codes; code value = index so the order is visible.
    codes = [np.arange(12), np.arange(24), np.arange(47)]
    items = symbols(cross, codes)
    assert items[:7] == [(0, 0), (1, 0), (2, 0), (2, 1), (1, 1), (2, 2), (2, 3)]
    assert items[7:14] == [(0, 1), (1, 2), (2, 4), (2, 5), (1, 3), (2, 6), (2, 7)]
    assert items[-6:] == [(0, 11), (1, 22), (2, 44), (2, 45), (1, 23), (2, 46)]
    assert len(items) == 12 + 24 + 47


def test_hierarchical_order_is_scale_by_scale_inside_each_frame():
    hierarchical = make_variant("hierarchical", L32)
    codes = [np.arange(n) for n in expected_lengths(L32, 8 + 3)]  # one full frame + a partial one
    items = symbols(hierarchical, codes)
    assert items[:15] == [(0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2), (2, 3)] + [(3, j) for j in range(8)]
    assert items[15:] == [(0, 1), (1, 2), (2, 4), (2, 5), (3, 8), (3, 9), (3, 10)]


def test_rl_cross_scale_orders_runs_by_start_time():
    rlx = make_variant("rl_cross_scale", L24)
    # Two frames; scale 0 repeats (one chunk), scale 2 repeats over 8 codes.
    codes = [np.array([5, 5]), np.array([1, 2, 3, 4]), np.full(8, 9)]
    assert symbols(rlx, codes) == [(0, 5), ("R", 2), (1, 1), (2, 9), ("R", 8), (1, 2), (1, 3), (1, 4)]


@pytest.mark.parametrize("name", list(VARIANTS))
@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(data=st.data())
def test_serialization_round_trips(name, layout, data):
    variant = make_variant(name, layout)
    files = [data.draw(file_codes(layout)) for _ in range(data.draw(st.integers(1, 3)))]
    batch = validate_batch(files, layout)
    codepoints, counts = variant.serialize_batch(batch)
    assert counts.sum() == codepoints.size
    if not variant.uses_runs:
        assert codepoints.size == batch.codes.size  # one symbol per code
    else:
        assert codepoints.size <= batch.codes.size
    restored = variant.deserialize_batch(codepoints, counts)
    for original, back in zip(files, restored, strict=True):
        assert [b.tolist() for b in back] == [np.asarray(o).tolist() for o in original]
    texts = variant.serialize_texts(files)
    assert [len(t) for t in texts] == counts.tolist()


def test_run_symbol_without_a_code_is_an_error():
    rl = make_variant("rl", L24)
    run = rl.alphabet.run_symbol(3)
    code = rl.alphabet.code_symbol(0, 1)
    with pytest.raises(ValueError, match="position 0 does not follow a code"):
        rl.deserialize(np.array([run, code], dtype=np.uint32))
    with pytest.raises(ValueError, match="position 2 does not follow a code"):
        rl.deserialize(np.array([code, run, run], dtype=np.uint32))
    with pytest.raises(ValueError, match="position 0 of sequence 1"):
        rl.deserialize_batch(np.array([code, run, run], dtype=np.uint32), np.array([2, 1]))
    plain = make_variant("plain", L24)
    with pytest.raises(ValueError, match="not a base symbol"):
        plain.deserialize(np.array([code, run], dtype=np.uint32))
