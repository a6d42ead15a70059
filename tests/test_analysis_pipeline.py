"""The analysis end to end: partial merges equal one pass, agreement with the plain-Python
reference, the reports and dataset card, the CLI, and a real tokenized speech set."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import run_script
from datasets import Dataset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snac_hf.analysis import analyze, analyze_folder, count_source, merge_partials, save_partial
from snac_hf.analysis.api import summarize_counted
from snac_hf.analysis.partial import AnalysisConfig, TokenStats, count_batch
from snac_hf.analysis.recommend import judge, recommend_scale, verdict
from snac_hf.analysis.reference import analyze_rows, read_rows
from snac_hf.analysis.summary import summarize
from snac_hf.layout import CodecLayout, layout_for
from snac_hf.tokenset.schema import parquet_files, rows_to_table, shard_name, write_parquet
from snac_hf.tokenset.sections import write_section

LAYOUT_24K = layout_for("snac_24khz")


def random_rows(seed: int, files: int, max_frames: int = 60, codebook: int = 4096) -> list[list[np.ndarray]]:
    """Files of Zipf-like codes with repeats; scale lengths those of some audio: whole frames plus a
    random partial frame (m finest codes, ceil(m / 4) and ceil(m / 2) coarser ones)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(files):
        finest = int(rng.integers(0, max_frames)) * 4 + int(rng.integers(0, 4))
        row = []
        for per_frame in (1, 2, 4):
            codes = rng.zipf(1.3, -(-finest * per_frame // 4)) % codebook
            repeat = np.flatnonzero(rng.random(codes.size) < 0.2)
            codes[repeat[repeat > 0]] = codes[repeat[repeat > 0] - 1]
            row.append(codes)
        rows.append(row)
    return rows


def seconds(layout: CodecLayout, codes) -> float:
    """A duration of audio whose finest scale has these codes (readers check it): a multiple of
    1/64 s where one falls in the last code's span, so that sums of durations are exact in any order
    (the batching tests compare totals bit for bit)."""
    per_code = layout.samples_per_code(layout.n_scales - 1)
    samples = len(codes[-1]) * per_code
    step = layout.sampling_rate // math.gcd(layout.sampling_rate, 64)
    if step < per_code:
        samples -= samples % step
    return samples / layout.sampling_rate


def write_set(folder, rows, shards: int = 1, layout: CodecLayout = LAYOUT_24K) -> str:
    records = [
        {
            "id": f"file{i:04d}",
            "file_path": f"/audio/{i}.wav",
            "duration": seconds(layout, codes),
            "codes": codes,
        }
        for i, codes in enumerate(rows)
    ]
    per_shard = -(-len(records) // shards)
    for s in range(shards):
        table = rows_to_table(records[s * per_shard : (s + 1) * per_shard], 3, layout.codebook_size)
        write_parquet(table, folder / shard_name(s, shards))
    (folder / "metadata.json").write_text(json.dumps({"codec": {"layout": layout.to_dict()}}))
    return str(folder)


def figures(analysis: dict) -> dict:
    """The analysis without what legitimately differs between runs (timing, source name)."""
    return {k: v for k, v in analysis.items() if k not in ("run", "source")}


@pytest.fixture(scope="module")
def random_set(tmp_path_factory) -> str:
    return write_set(tmp_path_factory.mktemp("random_set"), random_rows(0, 40), shards=3)


@pytest.fixture(scope="module")
def single_pass(random_set) -> dict:
    """The analysis of `random_set` in one process, one pass."""
    return analyze(random_set)


def assert_matches_reference(analysis: dict, reference: dict) -> None:
    def same(a, b):
        return a == b or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9))

    for ours, theirs in zip(analysis["scales"], reference["scales"], strict=True):
        for key in ("tokens", "unique_tokens", "gini", "gini_codebook", "entropy_bits"):
            assert same(ours[key], theirs[key]), key
        assert all(same(ours["top_k_coverage"][k], v) for k, v in theirs["top_k_coverage"].items())
        assert ours["bigrams"]["unique"] == theirs["unique_bigrams"]
        assert same(ours["transitions"]["sparsity"], theirs["sparsity"])
        rep = ours["repetition"]
        assert rep["run_length_histogram"] == theirs["run_length_histogram"]
        assert same(rep["repetition_rate"], theirs["repetition_rate"])
        assert same(rep["mean_run_length"], theirs["mean_run_length"])
        for mine, ref in zip(ours["ngrams"], theirs["ngrams"], strict=True):
            assert mine["distinct_exact"] and mine["top10_coverage_max_error"] == 0
            assert (mine["total"], mine["distinct"]) == (ref["total"], ref["distinct"])
            assert same(mine["top10_coverage"], ref["top10_coverage"])
    cross, ref = analysis["cross_scale"], reference["cross_scale"]
    assert (cross["frames"], cross["distinct_frames"]) == (ref["frames"], ref["distinct_frames"])
    assert same(cross["top10_frame_coverage"], ref["top10_frame_coverage"])
    for mine, theirs in zip(cross["conditional_entropy"], ref["conditional_entropy"], strict=True):
        assert same(mine["child_entropy_bits"], theirs["child_entropy_bits"])
        assert same(mine["conditional_entropy_bits"], theirs["conditional_entropy_bits"])


def test_matches_the_plain_python_reference(random_set, single_pass):
    assert_matches_reference(single_pass, analyze_rows(read_rows(random_set), (1, 2, 4)))


def file_codes(finest: int) -> st.SearchStrategy:
    """One file's codes (4 possible codes) with `finest` codes at the finest scale of strides 4, 2, 1."""
    lengths = (-(-finest // 4), -(-finest // 2), finest)
    return st.tuples(*(st.lists(st.integers(0, 3), min_size=n, max_size=n) for n in lengths)).map(list)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(0, 24).flatmap(file_codes), min_size=1, max_size=6))
def test_matches_the_reference_on_any_small_set(tmp_path_factory, rows):
    layout = CodecLayout(24000, 512, (4, 2, 1), codebook_size=4)  # 4 codes: many repeats and collisions
    folder = write_set(tmp_path_factory.mktemp("any"), rows, layout=layout)
    reference = analyze_rows([[list(c) for c in row] for row in rows], (1, 2, 4), codebook_size=4)
    assert_matches_reference(analyze(folder), reference)


def test_partials_of_shards_merge_to_the_single_pass(random_set, single_pass, tmp_path):
    shards = parquet_files(random_set)
    parts = []
    for i, shard in enumerate(shards):  # each "machine" analyzes one shard and saves its partial
        save_partial(count_source(shard, layout=LAYOUT_24K), str(tmp_path / f"part{i}.npz"))
        parts.append(str(tmp_path / f"part{i}.npz"))
    merged = summarize_counted(merge_partials(parts))
    assert figures(merged) == figures(single_pass)
    assert merged["source"] == " + ".join(shards)


def test_any_batching_merges_to_the_same_counts(tmp_path):
    layout = CodecLayout(24000, 512, (4, 2, 1), codebook_size=64)  # small pair tables: many partials
    table = pq.read_table(
        parquet_files(write_set(tmp_path, random_rows(4, 30, codebook=64), layout=layout))[0]
    )
    config = AnalysisConfig(codebook_size=64, distinct_budget=10_000, heavy_budget=10_000)  # all exact
    whole = summarize(count_batch(table, config), source="", layout=layout)
    assert all(
        e["distinct_exact"] and not e["top10_coverage_max_error"]
        for s in whole["scales"]
        for e in s["ngrams"]
    )
    for rows in (1, 7):
        parts = [count_batch(batch, config) for batch in table.to_batches(max_chunksize=rows)]
        merged = parts[0]
        for part in parts[1:]:
            merged.merge(TokenStats.from_arrays(part.to_arrays()))  # also through plain arrays
        assert summarize(merged, source="", layout=layout) == whole


def test_worker_processes_give_the_single_pass(random_set, single_pass):
    assert figures(analyze(random_set, num_proc=2)) == figures(single_pass)


def test_a_dataset_object_gives_the_same_figures(random_set, single_pass):
    dataset = Dataset.from_parquet(parquet_files(random_set))
    analysis = analyze(dataset, layout=LAYOUT_24K)
    assert figures(analysis) == figures(single_pass)
    assert analysis["layout_note"] is None


def test_without_metadata_the_layout_is_assumed_and_said(random_set):
    analysis = analyze(f"{random_set}/data/*.parquet")  # a glob inside a token set
    assert analysis["layout_note"] is None  # its metadata.json, next to data/, was found
    shutil.copy(parquet_files(random_set)[0], f"{random_set}/../bare.parquet")
    bare = analyze(f"{random_set}/../bare.parquet")
    assert "assumed SNAC 24 kHz" in bare["layout_note"]


def test_approximate_figures_stay_within_their_bounds(random_set):
    """Tiny budgets force the estimators on, in each shard and in their merge; the reference
    gives the truth."""
    budgets = {"layout": LAYOUT_24K, "distinct_budget": 64, "heavy_budget": 16}
    shards = [count_source(shard, **budgets) for shard in parquet_files(random_set)]
    for shard in shards[1:]:
        shards[0].merge(shard)
    analysis = summarize_counted(shards[0])
    reference = analyze_rows(read_rows(random_set), (1, 2, 4))
    estimated = 0
    for ours, theirs in zip(analysis["scales"], reference["scales"], strict=True):
        for mine, ref in zip(ours["ngrams"][2:], theirs["ngrams"][2:], strict=True):
            if not mine["distinct_exact"]:
                estimated += 1
                assert (
                    abs(mine["distinct"] / ref["distinct"] - 1) < 5 * mine["distinct_relative_standard_error"]
                )
            low, error = mine["top10_coverage"], mine["top10_coverage_max_error"]
            assert low - 1e-12 <= ref["top10_coverage"] <= low + error + 1e-12
    assert estimated >= 10
    assert "Some figures are estimates" in analysis_md(analysis)


def analysis_md(analysis: dict) -> str:
    from snac_hf.analysis.markdown import report

    return report(analysis, [])


# --- recommendation -------------------------------------------------------------------------------


def test_recommendation_lines_in_the_original_form():
    assert judge("gini", 0.85)["lines"] == [
        "✓ High frequency skew (gini=0.850)",
        "→ BPE merging could be very effective",
    ]
    assert judge("gini", 0.45)["lines"] == [
        "✗ Low frequency skew (gini=0.450)",
        "→ BPE merging may not help much",
    ]
    assert judge("sparsity", 0.98)["lines"] == [
        "✓ Very sparse transitions (sparsity=0.980)",
        "→ Good candidate for bigram merging",
    ]
    assert judge("sparsity", 0.65)["lines"] == [
        "✗ Dense transitions (sparsity=0.650)",
        "→ Bigram merging may not help",
    ]
    assert judge("repetition_rate", 0.153)["lines"] == [
        "✓ High repetition rate (15.3%)",
        "→ Many repeated patterns",
    ]
    assert judge("repetition_rate", 0.021)["lines"] == [
        "✗ Low repetition rate (2.1%)",
        "→ Few repeated patterns",
    ]
    assert (
        judge("bigram_diversity", 0.032)["lines"][0] == "✓ Low bigram diversity (3.20% of possible bigrams)"
    )


def test_recommendation_thresholds_at_their_edges():
    assert [judge("gini", g)["status"] for g in (0.8001, 0.8, 0.6, 0.5999)] == [
        "good",
        "moderate",
        "moderate",
        "poor",
    ]
    assert [judge("sparsity", s)["status"] for s in (0.951, 0.95, 0.8, 0.79)] == [
        "good",
        "moderate",
        "moderate",
        "poor",
    ]
    assert [judge("bigram_diversity", d)["status"] for d in (0.099, 0.10)] == ["good", "poor"]
    assert [verdict(s) for s in (4, 3, 2.5, 1.5, 0)] == ["good BPE candidate"] * 2 + [
        "mixed: BPE may help somewhat",
        "poor BPE candidate",
        "poor BPE candidate",
    ]


def test_recommend_scale_scores_the_four_checks_and_warns_on_small_samples():
    scale = {
        "scale": 0,
        "tokens": 10_000_000,
        "gini": 0.7,
        "transitions": {"sparsity": 0.99, "possible": 1000**2},
        "bigrams": {"diversity": 0.5, "total": 9_999_000, "possible": 4096**2},
        "repetition": {"repetition_rate": 0.2},
    }
    result = recommend_scale(scale)
    assert [c["status"] for c in result["checks"]] == ["moderate", "good", "poor", "good"]
    assert (result["score"], result["verdict"]) == (2.5, "mixed: BPE may help somewhat")
    assert result["caveats"] == []
    scale["bigrams"]["total"] = 1000  # 1,000 bigrams cannot show that 10^6 transitions are dense
    assert "sparsity cannot be below 0.999" in recommend_scale(scale)["caveats"][0]


# --- reports, card, CLI ----------------------------------------------------------------------------


def test_analyze_folder_writes_reports_card_and_console(tmp_path, capsys):
    folder = write_set(tmp_path / "set", random_rows(1, 8))
    write_section(f"{folder}/README.md", "tokenize", "Made by the tokenize pipeline.")
    analysis = analyze_folder(folder)
    for name in (
        "analysis.json",
        "analysis.md",
        "rank_frequency.png",
        "run_lengths.png",
        "ngram_diversity.png",
    ):
        assert (tmp_path / "set" / name).stat().st_size > 0
    saved = json.loads((tmp_path / "set" / "analysis.json").read_text())
    assert figures(saved) == json.loads(json.dumps(figures(analysis)))
    card = (tmp_path / "set" / "README.md").read_text()
    assert "Made by the tokenize pipeline." in card and "<!-- snac_hf:analysis:start -->" in card
    assert "[analysis.md](analysis.md)" in card
    report = (tmp_path / "set" / "analysis.md").read_text()
    assert "## BPE recommendation" in report and "![Rank-frequency" in report and "## Definitions" in report
    out = capsys.readouterr().out
    assert "BPE recommendation" in out and "frequency skew (gini=" in out
    write_section(tmp_path / "set" / "analysis.md", "bpe_measured", "Measured by compare_bpe.")
    analyze_folder(folder, console=False, plots=False)  # again: only its own sections change
    assert "Measured by compare_bpe." in (tmp_path / "set" / "analysis.md").read_text()
    assert (tmp_path / "set" / "analysis.md").read_text().count("# Token analysis") == 1
    analyze_folder(folder, console=False, plots=False, report_dir=str(tmp_path / "elsewhere"))
    assert (tmp_path / "elsewhere" / "analysis.md").exists()
    assert not (tmp_path / "elsewhere" / "rank_frequency.png").exists()
    assert (tmp_path / "set" / "README.md").read_text().count("snac_hf:analysis:start") == 1


def test_cli_output_dir_and_partials(tmp_path):
    folder = write_set(tmp_path / "set", random_rows(2, 6), shards=2)
    # the script exactly as a user runs it, in an interpreter where torch cannot be imported
    without_torch = "import runpy, sys; sys.modules['torch'] = None; sys.argv = sys.argv[1:]; " + (
        "runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    result = run_script(
        "-c", without_torch, "scripts/analyze.py", "--output_dir", folder, "--no_plots", "--quiet"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "set" / "analysis.json").read_text())["files"] == 6
    assert "snac_hf:analysis:start" in (tmp_path / "set" / "README.md").read_text()

    from snac_hf.cli.analyze import main

    shards = parquet_files(folder)
    for i, shard in enumerate(shards):
        assert main(["--tokens", shard, "--save_partial", str(tmp_path / f"p{i}.npz"), "--quiet"]) == 0
    parts = [str(tmp_path / f"p{i}.npz") for i in range(len(shards))]
    assert (
        main(["--merge_partials", *parts, "--report_dir", str(tmp_path / "merged"), "--no_plots", "--quiet"])
        == 0
    )
    merged = json.loads((tmp_path / "merged" / "analysis.json").read_text())
    whole = json.loads((tmp_path / "set" / "analysis.json").read_text())
    # the shards alone carry no metadata.json, so only the layout note differs
    assert {k: v for k, v in merged.items() if k not in ("run", "source", "layout_note")} == {
        k: v for k, v in whole.items() if k not in ("run", "source", "layout_note")
    }


def test_cli_needs_a_report_dir_for_non_folder_sources(tmp_path, capsys):
    from snac_hf.cli.analyze import main

    folder = write_set(tmp_path / "set", random_rows(3, 2))
    with pytest.raises(SystemExit):
        main(["--tokens", f"{folder}/data/*.parquet"])
    assert "--report_dir" in capsys.readouterr().err


# --- real data ------------------------------------------------------------------------------------


def test_report_on_the_tokenized_speech_fixtures(speech_token_set, tmp_path):
    folder = tmp_path / "speech"
    shutil.copytree(speech_token_set, folder)  # the fixture is shared: write the reports into a copy
    analysis = analyze_folder(str(folder), console=False)
    meta = json.loads((folder / "metadata.json").read_text())
    assert analysis["files"] == 40 and analysis["layout_note"] is None
    assert analysis["duration_seconds"] == pytest.approx(
        meta.get("total_duration", analysis["duration_seconds"])
    )
    assert_matches_reference(analysis, analyze_rows(read_rows(str(folder)), (1, 2, 4)))
    for scale in analysis["scales"]:
        assert scale["unique_tokens"] > 100  # fitted codebooks use many codes on real speech
        assert 0 < scale["gini"] < 1 and 0 < scale["transitions"]["sparsity"] < 1
    cross = analysis["cross_scale"]
    assert sum(cross["codes_per_frame"]) == 7 and cross["frames"] > 0
    assert all(
        0 <= c["mutual_information_bits"] <= c["child_entropy_bits"] for c in cross["conditional_entropy"]
    )
    # 40 short files are far too few bigrams to judge transition sparsity: the report says so
    assert all(r["caveats"] for r in analysis["recommendation"]["per_scale"])
    report = (folder / "analysis.md").read_text()
    assert "All n-gram figures are exact." in report and "Overall:" in report
    assert "snac_hf:analysis:start" in (folder / "README.md").read_text()


# --- saved partials: provenance and checks ----------------------------------------------------------


def test_partials_that_overlap_are_refused_naming_both(random_set, tmp_path):
    from snac_hf.cli.analyze import main

    shard = parquet_files(random_set)[0]
    one, whole = str(tmp_path / "one.npz"), str(tmp_path / "whole.npz")
    assert main(["--tokens", shard, "--save_partial", one, "--quiet"]) == 0
    assert main(["--tokens", random_set, "--save_partial", whole, "--quiet", "--no_plots"]) == 0
    result = run_script(
        "scripts/analyze.py", "--merge_partials", one, one, "--report_dir", str(tmp_path / "r")
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    rows = pq.read_metadata(shard).num_rows
    assert (
        f"error: {one} and {one} both counted data/train-00000-of-00003.parquet ({rows} rows)"
        in result.stderr
    )
    with pytest.raises(ValueError, match=f"{one} and {whole} both counted data/train-00000-of-00003.parquet"):
        merge_partials([one, whole])
    with pytest.raises(ValueError, match="both counted"):  # in memory too
        count_source(shard).merge(count_source(random_set))
    assert not (tmp_path / "r").exists()


def test_the_same_shard_twice_in_one_source_is_refused(random_set, tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        shutil.copy(parquet_files(random_set)[1], tmp_path / name / "shard.parquet")
    with pytest.raises(
        ValueError, match="a/shard.parquet and .*b/shard.parquet are the same shard|same shard"
    ):
        count_source(str(tmp_path / "*" / "shard.parquet"))


def tampered(path, tmp_path, name: str, change) -> str:
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    change(arrays)
    out = str(tmp_path / f"{name}.npz")
    np.savez(out, **arrays)
    return out


def test_partials_with_impossible_counts_are_refused(random_set, tmp_path):
    good = str(tmp_path / "good.npz")
    save_partial(count_source(random_set), good)
    meta = json.loads(str(np.load(good)["meta"]))

    def negative(a):
        a["scale0/code_counts"] = a["scale0/code_counts"].copy()
        a["scale0/code_counts"][7] = -40

    def inflated(a):
        a["scale1/code_counts"] = a["scale1/code_counts"] + 1

    def files(a):
        a["totals"] = a["totals"] * [2, 1]

    def old_format(a):
        a["meta"] = np.array(json.dumps({k: v for k, v in meta.items() if k not in ("format", "shards")}))

    cases = {
        "negative": (negative, r"negative counts in 'scale0/code_counts' \(min -40\)"),
        "inflated": (inflated, "scale 1: the code counts .* disagree with the n-gram and run counts"),
        "files": (files, "counts 80 files, but the shards it names hold 40 rows"),
        "old_format": (old_format, "format None.*older partials do not say which shards"),
        "nan_seconds": (lambda a: a.update(seconds=np.array(np.nan)), "non-finite values in 'seconds'"),
    }
    for name, (change, message) in cases.items():
        with pytest.raises(ValueError, match=message):
            merge_partials([tampered(good, tmp_path, name, change)])
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.npz: not a partial written by save_partial"):
        merge_partials([str(tmp_path / "junk.npz")])
    assert merge_partials([good]).stats.files == 40
