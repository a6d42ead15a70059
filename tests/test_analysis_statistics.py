"""Token statistics on tiny crafted token sets, with values computed by hand."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from snac_hf.analysis import analyze
from snac_hf.analysis.distinct import DistinctSketch
from snac_hf.analysis.frequency import gini
from snac_hf.analysis.hashing import mix, tuple_hashes
from snac_hf.analysis.heavy_hitters import BUCKETS, HeavyHitters, batch_heavy_keys
from snac_hf.analysis.ngrams import _extend_at, _sketch_ngrams
from snac_hf.analysis.pair_counts import PairCounts
from snac_hf.layout import CodecLayout
from snac_hf.tokenset.schema import rows_to_table, shard_name, write_parquet


def seconds(layout: CodecLayout, codes: list[list[int]]) -> float:
    """The duration of the audio whose finest scale has these codes (readers check it)."""
    return len(codes[-1]) * layout.samples_per_code(layout.n_scales - 1) / layout.sampling_rate


def token_set(folder, rows: list[list[list[int]]], codebook_size: int = 16, strides=(4, 2, 1)) -> str:
    """A one-shard token set whose file i has the code lists rows[i] (one per scale), id f{i}."""
    layout = CodecLayout(24000, 512, tuple(strides), codebook_size=codebook_size)
    records = [
        {"id": f"f{i}", "file_path": f"/audio/f{i}.wav", "duration": seconds(layout, codes), "codes": codes}
        for i, codes in enumerate(rows)
    ]
    write_parquet(rows_to_table(records, len(strides), codebook_size), folder / shard_name(0, 1))
    (folder / "metadata.json").write_text(json.dumps({"codec": {"layout": layout.to_dict()}}))
    return str(folder)


def scale0(tmp_path, *sequences: list[int]) -> dict:
    """Analysis of scale 0 of a set whose files have the given scale-0 codes (finer scales: code 15,
    as many as whole frames need)."""
    rows = [[list(s), [15] * (2 * len(s)), [15] * (4 * len(s))] for s in sequences]
    return analyze(token_set(tmp_path, rows))["scales"][0]


def test_frequency_figures_of_a_known_distribution(tmp_path):
    # codes 0, 1, 2, 3 occur 1, 2, 3, 4 times (codebook of 16)
    s = scale0(tmp_path, [0, 1, 1, 2, 2, 2, 3, 3, 3, 3])
    assert (s["tokens"], s["unique_tokens"], s["min_token"], s["max_token"]) == (10, 4, 0, 3)
    assert s["most_common"] == [[3, 4], [2, 3], [1, 2], [0, 1]]
    # G = 2 * (1*1 + 2*2 + 3*3 + 4*4) / (4 * 10) - 5/4 = 1.5 - 1.25
    assert s["gini"] == pytest.approx(0.25)
    # over all 16 entries: 2 * (13*1 + 14*2 + 15*3 + 16*4) / (16 * 10) - 17/16 = 1.875 - 1.0625
    assert s["gini_codebook"] == pytest.approx(0.8125)
    assert s["entropy_bits"] == pytest.approx(1.8464393446710154)  # -sum p log2 p, p = .1 .2 .3 .4
    assert s["top_k_coverage"] == {"1": 0.4, "10": 1.0, "100": 1.0, "1000": 1.0}
    assert s["rank_frequency"] == [4, 3, 2, 1]
    # log f = log 4 + slope * log r fits exactly? No: least squares over ranks 1..4
    x, y = np.log([1, 2, 3, 4]), np.log([4, 3, 2, 1])
    assert s["zipf_slope"] == pytest.approx(np.polyfit(x, y, 1)[0])


def test_gini_extremes():
    assert gini(np.array([5, 5, 5])) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 9])) == pytest.approx(0.75)  # one code of 4: (n - 1) / n
    assert gini(np.array([7])) == pytest.approx(0.0)
    assert gini(np.array([], np.int64)) is None


def test_runs_stop_at_file_boundaries(tmp_path):
    # file 0 ends with a 2 and file 1 starts with 2, 2: if runs crossed files that would be a run of 3
    rep = scale0(tmp_path, [5, 5, 5, 1, 1, 2], [2, 2, 7])["repetition"]
    assert rep["run_length_histogram"] == [[1, 2], [2, 2], [3, 1]]
    assert (rep["runs"], rep["repeats"], rep["max_run_length"]) == (5, 4, 3)
    assert rep["repetition_rate"] == pytest.approx(4 / 9)
    assert rep["mean_run_length"] == pytest.approx(9 / 5)
    assert rep["mean_repeat_run_length"] == pytest.approx((3 + 2 + 2) / 3)
    assert rep["longest_runs"] == [
        {"length": 3, "code": 5, "id": "f0", "start": 0},
        {"length": 2, "code": 1, "id": "f0", "start": 3},
        {"length": 2, "code": 2, "id": "f1", "start": 0},
    ]


def test_bigrams_and_sparsity(tmp_path):
    # pairs inside files: (1,2) (2,1) (1,2) and (2,1); the (2,2) across the boundary must not count
    s = scale0(tmp_path, [1, 2, 1, 2], [2, 1])
    assert s["bigrams"]["total"] == 4
    assert s["bigrams"]["unique"] == 2
    assert s["bigrams"]["top"] == [[1, 2, 2], [2, 1, 2]]
    assert s["bigrams"]["diversity"] == pytest.approx(2 / 16**2)
    # U = 2 codes occur: 4 possible transitions, 2 happen
    assert s["transitions"] == {"distinct": 2, "possible": 4, "sparsity": 0.5}


def test_ngram_diversity_per_n(tmp_path):
    ngrams = scale0(tmp_path, [1, 2, 3, 1, 2, 3], [1, 2])["ngrams"]
    got = {e["n"]: (e["total"], e["distinct"], e["diversity"], e["top10_coverage"]) for e in ngrams}
    assert got[1] == (8, 3, 3 / 8, 1.0)
    assert got[2] == (6, 3, 0.5, 1.0)  # 12 23 31 12 23 | 12
    assert got[3] == (4, 3, 0.75, 1.0)  # 123 231 312 123
    assert got[4] == (3, 3, 1.0, 1.0)
    assert got[6] == (1, 1, 1.0, 1.0)
    assert got[7] == (0, 0, None, None)
    assert all(e["distinct_exact"] and e["top10_coverage_max_error"] == 0 for e in ngrams)


def test_top10_coverage_counts_only_the_ten_most_frequent(tmp_path):
    # code 0 eleven times, codes 1..19 once: the top 10 codes cover 11 + 9 of 30
    row = [[0] * 11 + list(range(1, 20)), [31] * 60, [31] * 120]
    s = analyze(token_set(tmp_path, [row], codebook_size=32))["scales"][0]
    assert s["ngrams"][0]["top10_coverage"] == pytest.approx(20 / 30)
    assert s["top_k_coverage"]["10"] == pytest.approx(20 / 30)


def test_frames_and_conditional_entropy(tmp_path):
    rows = [
        [[1, 2], [3, 4, 3, 4], [5, 6, 7, 8, 5, 6, 7, 8]],  # two complete frames
        [[1, 9], [3, 4, 0], [5, 6, 7, 8, 1]],  # one complete frame; 9, 0 and 1 are a partial frame
    ]
    cross = analyze(token_set(tmp_path, rows))["cross_scale"]
    assert cross["codes_per_frame"] == [1, 2, 4]
    assert cross["frames"] == 3
    assert cross["distinct_frames"] == 2  # (1,3,4,5,6,7,8) twice and (2,3,4,5,6,7,8)
    assert cross["frame_diversity"] == pytest.approx(2 / 3)
    assert cross["top10_frame_coverage"] == 1.0
    assert cross["tail_codes_excluded"] == [1, 1, 1]
    scale1, scale2 = cross["conditional_entropy"]
    # scale 1 | 0: pairs (1,3) (1,4) twice, (2,3) (2,4) once: H(P,C) - H(P) = 1 bit; H(C) = 1 bit
    assert scale1["pairs"] == 6
    assert scale1["conditional_entropy_bits"] == pytest.approx(1.0)
    assert scale1["child_entropy_bits"] == pytest.approx(1.0)
    assert scale1["mutual_information_bits"] == pytest.approx(0.0, abs=1e-12)
    # scale 2 | 1: slots 0,1 hang from parent slot 0 and 2,3 from 1: (3,5) (3,6) (4,7) (4,8), 3 times each
    assert scale2["conditional_entropy_bits"] == pytest.approx(1.0)
    assert scale2["child_entropy_bits"] == pytest.approx(2.0)
    assert scale2["mutual_information_bits"] == pytest.approx(1.0)


def test_four_scale_frames_have_fifteen_codes(tmp_path):
    rows = [[[1], [2, 3], [4, 5, 6, 7], list(range(8))]] * 2
    cross = analyze(token_set(tmp_path, rows, strides=(8, 4, 2, 1)))["cross_scale"]
    assert (cross["codes_per_frame"], cross["frames"], cross["distinct_frames"]) == ([1, 2, 4, 8], 2, 1)
    assert len(cross["conditional_entropy"]) == 3


def test_empty_and_single_code_files(tmp_path):
    analysis = analyze(token_set(tmp_path / "a", [[[3], [1], [2]], [[], [], []], [[3], [1], [5]]]))
    s = analysis["scales"][0]
    assert (s["tokens"], s["bigrams"]["total"], s["repetition"]["repeats"]) == (2, 0, 0)
    assert analysis["cross_scale"]["frames"] == 0  # one code per scale is a partial frame
    assert analysis["cross_scale"]["tail_codes_excluded"] == [2, 2, 2]
    assert analysis["files"] == 3
    empty = analyze(token_set(tmp_path / "b", [[[], [], []]]))
    assert empty["scales"][2]["tokens"] == 0 and empty["scales"][2]["gini"] is None


# --- bad input -----------------------------------------------------------------------------------


def test_folder_without_shards_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="no token shards"):
        analyze(str(tmp_path))


@pytest.mark.parametrize("statistics", [True, False])
def test_codes_outside_the_codebook_name_the_file_and_column(tmp_path, statistics):
    # with footer statistics the set is refused before reading; without, when the batch is counted
    records = [{"id": "a", "file_path": "a", "duration": 1.0, "codes": [[1, 20], [0] * 4, [0] * 8]}]
    path = tmp_path / shard_name(0, 1)
    path.parent.mkdir()
    pq.write_table(rows_to_table(records, 3, codebook_size=32), path, write_statistics=statistics)
    layout = CodecLayout(24000, 512, (4, 2, 1), codebook_size=16)
    (tmp_path / "metadata.json").write_text(json.dumps({"codec": {"layout": layout.to_dict()}}))
    with pytest.raises(
        ValueError,
        match=r"train-00000-of-00001\.parquet.*'?tokens_scale_0'?.*outside (the codebook )?0\.\.15",
    ):
        analyze(str(tmp_path))


def test_parquet_without_token_columns_is_not_a_token_set(tmp_path):
    pq.write_table(pa.table({"text": ["hello"]}), tmp_path / "other.parquet")
    with pytest.raises(ValueError, match=r"other\.parquet.*not a token set"):
        analyze(str(tmp_path / "other.parquet"))


def test_metadata_disagreeing_with_the_columns_is_refused(tmp_path):
    token_set(tmp_path, [[[1], [2, 3], [4, 5, 6, 7]]])
    layout = CodecLayout(24000, 512, (8, 4, 2, 1)).to_dict()
    (tmp_path / "metadata.json").write_text(json.dumps({"codec": {"layout": layout}}))
    with pytest.raises(ValueError, match="3 token columns.*4 scales"):
        analyze(str(tmp_path))


# --- the counting structures ---------------------------------------------------------------------


def test_packed_keys_are_exact_and_long_tuples_are_hashed():
    codes = np.array([[1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6, 8], [4095] * 7], np.uint64)
    # up to 5 codes of 12 bits are packed exactly, and `mix` (a bijection) hashes the packed key
    packed = [sum(int(c) << (12 * (4 - i)) for i, c in enumerate(row[:5])) for row in codes]
    assert (tuple_hashes(codes[:, :5], 4096) == mix(np.array(packed, np.uint64))).all()
    hashes = tuple_hashes(codes, 4096)
    assert len(set(hashes.tolist())) == 3  # 7-grams differing in the last code get different hashes
    assert (tuple_hashes([codes[:, i] for i in range(7)], 4096) == hashes).all()  # list form, deterministic


def test_ngram_kernels_hash_like_tuple_hashes():
    """The compiled n-gram loops (blocked, level by level, rows respected) give every n-gram the
    hash `tuple_hashes` gives it, and admit exactly the n-grams inside rows."""
    rng = np.random.default_rng(5)
    lengths = np.array([0, 1, 2, 7, 3000, 5, 1500])  # rows shorter than n, and longer than a block
    codes = rng.integers(0, 4096, lengths.sum())
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    limits = np.full(5, np.iinfo(np.uint64).max, np.uint64)  # admit every hash
    buckets, first = np.zeros(BUCKETS, np.int32), np.empty(codes.size, np.uint64)
    admitted = np.empty((5, codes.size), np.uint64)
    collected = _sketch_ngrams(codes, offsets, 7, np.uint64(12), 5, limits, buckets, first, admitted)
    every = np.arange(codes.size)
    keys, hashes = codes.astype(np.uint64), mix(codes.astype(np.uint64))  # grown n by n at `every`
    for n in range(2, 8):
        starts = np.concatenate([np.arange(a, b - n + 1) for a, b in zip(offsets[:-1], offsets[1:])])
        expected = tuple_hashes(np.stack([codes[starts + i] for i in range(n)], axis=1), 4096)
        every, keys, hashes = (
            every[: codes.size - n + 1],
            keys[: codes.size - n + 1],
            hashes[: codes.size - n + 1],
        )
        _extend_at(codes, every, keys, hashes, n, np.uint64(12), 5)
        assert (hashes[starts] == expected).all()
        if n >= 3:
            assert collected[n - 3] == starts.size
            assert (admitted[n - 3, : collected[n - 3]] == expected).all()
    assert buckets.sum() == collected[0]


def test_distinct_sketch_is_exact_up_to_its_budget_then_estimates():
    rng = np.random.default_rng(0)
    values = mix(rng.integers(0, 5000, 20000).astype(np.uint64))
    exact = DistinctSketch(10_000)
    for part in np.array_split(values, 7):
        exact.add(part)
    assert exact.exact and exact.estimate() == len(set(values.tolist()))

    many = mix(np.arange(200_000, dtype=np.uint64))
    sketch = DistinctSketch(4096)
    for part in np.array_split(many, 13):
        sketch.add(part)
    assert not sketch.exact
    assert sketch.relative_standard_error() == pytest.approx(1 / math.sqrt(4094))
    assert abs(sketch.estimate() / 200_000 - 1) < 4 * sketch.relative_standard_error()


def test_distinct_sketch_merge_equals_one_pass():
    values = mix(np.arange(30_000, dtype=np.uint64) % 12_000)
    whole, left, right = DistinctSketch(5000), DistinctSketch(5000), DistinctSketch(5000)
    whole.add(values)
    left.add(values[:17_000])
    right.add(values[17_000:])
    left.merge(right)
    assert left.estimate() == whole.estimate()
    assert (left.values == whole.values).all()
    empty = DistinctSketch(5000)  # how a parent process starts before merging its workers
    empty.merge(whole)
    assert not empty.exact and (empty.values == whole.values).all()


def test_heavy_hitters_bound_holds_beyond_the_budget():
    rng = np.random.default_rng(1)
    stream = mix((rng.zipf(1.3, 200_000) % 50_000).astype(np.uint64))
    truth = Counter(stream.tolist())
    summary = HeavyHitters(100)
    for part in np.array_split(stream, 20):
        keys, counts, _, dropped = batch_heavy_keys(part, part.size >> 13)
        summary.add(keys, counts, dropped)
    summary.top_counts(10)  # compacts
    assert summary.error > 0 and summary.keys.size <= 100
    estimates = dict(zip(summary.keys.tolist(), summary.counts.tolist()))
    for key, true in truth.items():
        assert true - summary.error <= estimates.get(key, 0) <= true
    top_true = sum(sorted(truth.values())[-10:])
    assert top_true - 10 * summary.error <= summary.top_counts(10).sum() <= top_true


def test_heavy_hitters_exact_under_budget():
    stream = mix(np.array([1, 2, 2, 3, 3, 3] * 5, np.uint64))
    summary = HeavyHitters(10)
    keys, counts, positions, dropped = batch_heavy_keys(stream, 0)
    summary.add(keys, counts, dropped)
    assert positions.all() and dropped == 0
    assert summary.top_counts(10).tolist() == [15, 10, 5] and summary.error == 0


def test_pair_counts_spill_keeps_counts_exact(monkeypatch):
    monkeypatch.setattr(PairCounts, "spill_limit", 5)  # spill after 5 pairs instead of 2^40 - 2^8
    rng = np.random.default_rng(2)
    rows = [rng.integers(0, 4, n) for n in (4, 0, 5, 1, 3, 6, 2)]  # an empty row, and one of 1
    codes, offsets = np.concatenate(rows), np.cumsum([0, *(len(r) for r in rows)])
    truth = Counter(int(a) * 4 + int(b) for row in rows for a, b in zip(row[:-1], row[1:]))
    pairs = PairCounts(4)
    for row in rows:  # at most 5 pairs at a time: the two tiers spill into int64 between batches
        pairs.add_bigrams(row, np.array([0, len(row)]))
    assert pairs.wide is not None
    other = PairCounts(4)
    other.add_bigrams(codes, offsets)  # 15 pairs in one batch, over the limit: straight into int64
    for counted in (pairs, other):
        keys, counts = counted.sparse()
        assert dict(zip(keys.tolist(), counts.tolist())) == dict(truth)
    pairs.merge(other)  # both dense, both with an int64 part
    keys, counts = pairs.sparse()
    assert dict(zip(keys.tolist(), counts.tolist())) == {k: 2 * n for k, n in truth.items()}
    assert pairs.figures().total == 2 * sum(truth.values())
