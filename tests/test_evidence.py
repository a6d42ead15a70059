"""`snac-hf evidence`: the splits (hash, held-out voices), the plan of the merge curve, the orpheus
baseline's ids, the verdict's rule and the curve's best budget, the cost arithmetic, and the user's
command on real tokens (the bundled speech with its voices, `--preset tiny`): reports, resume after
a lost training, refusal of other settings, one-line errors, and two processes under `accelerate
launch`."""

from __future__ import annotations

import json
import math
import os
import re
import sys
from dataclasses import replace

import pytest
from conftest import run_here, run_script
from datasets import Dataset

from snac_hf.evidence.costs import cost_rows, flops_per_token
from snac_hf.evidence.curve import best_budgets, curve_sentences, overall_best
from snac_hf.evidence.estimate import EstimateError, non_embedding_parameters, preset_cost, training_flops
from snac_hf.evidence.plan import curve_lines, plan_tokenizations, raw_of
from snac_hf.evidence.settings import EvidenceSettings, preset
from snac_hf.evidence.splits import SplitError, split, split_voices
from snac_hf.evidence.verdict import judge, paired_difference, sentences


def speakers_dataset() -> Dataset:
    # 60 files of 12 speakers (5 each), 2 s each; speaker "" and None fall back to the file id
    speakers = [f"spk{i % 12}" for i in range(60)]
    speakers[0], speakers[1] = "", None
    return Dataset.from_dict(
        {"id": [f"f{i:02d}" for i in range(60)], "duration": [2.0] * 60, "speaker": speakers}
    )


def test_split_by_speaker_holds_every_voice_out_together():
    dataset = speakers_dataset()
    train, held_out, summary = split(dataset, 0.25, "speaker", "test-salt")
    train_speakers = {s for s in train["speaker"] if s}
    held_speakers = {s for s in held_out["speaker"] if s}
    assert train_speakers and held_speakers and not train_speakers & held_speakers
    assert summary.keys == 12 + 2  # 12 speakers (spk0, spk1 keep 4 files each) + 2 files keyed by id
    assert summary.files_keyed_by_id == 2
    assert summary.train_files + summary.held_out_files == 60
    assert summary.held_out_seconds == 2.0 * summary.held_out_files
    # the split depends on the keys, not on the row order
    reordered = dataset.select(list(reversed(range(60))))
    _, held_again, _ = split(reordered, 0.25, "speaker", "test-salt")
    assert sorted(held_again["id"]) == sorted(held_out["id"])
    # another salt, another split
    _, other, _ = split(dataset, 0.25, "speaker", "other-salt")
    assert sorted(other["id"]) != sorted(held_out["id"])


def test_held_out_voices_are_whole_and_hold_the_share():
    # 8 voices of unequal length (1 to 8 files of 3 s) and 4 files without a voice
    speakers = [f"v{v}" for v in range(8) for _ in range(v + 1)] + [None, "", None, ""]
    dataset = Dataset.from_dict(
        {"id": [f"f{i:02d}" for i in range(len(speakers))], "duration": [3.0] * 40, "speaker": speakers}
    )
    train, held_out, summary = split_voices(dataset, "speaker", 0.15, "test-salt")
    held = set(held_out["speaker"])
    assert held and not held & set(train["speaker"]) and None not in held and "" not in held
    assert summary.held_out_seconds == 3.0 * len(held_out) >= 0.15 * 120.0
    assert summary.files_keyed_by_id == 4 and summary.keys == 8 and summary.held_out_keys == len(held)
    # the voices go in salted-hash order and stop at the share: one voice fewer falls short of it
    from snac_hf.bpe.corpus import id_fractions

    voices = sorted({s for s in speakers if s})
    keys = [f"speaker:{v}" for v in voices]  # what is hashed: salt:column:voice
    order = [v for _, v in sorted(zip(id_fractions(keys, "test-salt"), voices, strict=True))]
    assert held == set(order[: len(held)])
    seconds = {v: 3.0 * speakers.count(v) for v in voices}
    assert sum(seconds[v] for v in order[: len(held) - 1]) < 0.15 * 120.0
    # the same voices whatever the row order
    _, again, _ = split_voices(dataset.select(list(reversed(range(40)))), "speaker", 0.15, "test-salt")
    assert sorted(again["id"]) == sorted(held_out["id"])
    one_voice = Dataset.from_dict({"id": ["a", "b"], "duration": [1.0, 1.0], "speaker": ["x", "x"]})
    with pytest.raises(SplitError, match="1 voices .* or pass --voices_by none"):
        split_voices(one_voice, "speaker", 0.15, "s")
    with pytest.raises(SplitError, match="--voices_by language: the token set has no such column"):
        split_voices(dataset, "language", 0.15, "s")


def test_the_curve_gives_each_serialization_one_raw_row():
    settings = EvidenceSettings(variants=("plain", "thresholded", "cross_scale"), lm_merges=(64, 0, 8))
    assert plan_tokenizations(settings) == {
        "raw-scale": ("plain", 0),  # plain and thresholded at 0 merges are the same ids: one row
        "raw-frame": ("cross_scale", 0),
        "plain-8": ("plain", 8),
        "plain-64": ("plain", 64),
        "thresholded-8": ("thresholded", 8),
        "thresholded-64": ("thresholded", 64),
        "cross_scale-8": ("cross_scale", 8),
        "cross_scale-64": ("cross_scale", 64),
        "orpheus": ("orpheus", 0),
    }
    assert raw_of(settings)["thresholded-64"] == "raw-scale"
    assert raw_of(settings)["orpheus"] == raw_of(settings)["cross_scale-8"] == "raw-frame"
    assert curve_lines(settings)["cross_scale"] == [
        (0, "raw-frame"),
        (8, "cross_scale-8"),
        (64, "cross_scale-64"),
    ]
    # orpheus is judged against the raw frame order, which the plan then holds even without cross_scale
    alone = EvidenceSettings(variants=("plain",), lm_merges=(0, 64))
    assert list(plan_tokenizations(alone)) == ["raw-scale", "plain-64", "raw-frame", "orpheus"]
    assert "raw-frame" not in plan_tokenizations(EvidenceSettings(variants=("plain",), orpheus=False))


def test_orpheus_ids_are_the_exports_and_keep_every_code():
    import numpy as np

    from snac_hf.export.orpheus import CODE_OFFSET, codes_to_orpheus_ids
    from snac_hf.layout import layout_for
    from snac_hf.layout.orpheus import POSITION_INDEX, POSITION_SCALE, frame_positions
    from snac_hf.lm.orpheus_tokens import OrpheusTokenizer

    layout = layout_for("snac_24khz")
    assert frame_positions(layout) == (POSITION_SCALE, POSITION_INDEX)
    assert len(frame_positions(layout_for("snac_32khz"))[0]) == 15
    tokenizer = OrpheusTokenizer(layout)
    assert tokenizer.vocab_size == 6 + 7 * 4096
    rng = np.random.default_rng(0)
    files = [[rng.integers(0, 4096, n) for n in layout.n_codes(m * 512)] for m in (20, 21, 22, 23, 0, 1)]
    encoded = tokenizer.encode_batch(files, add_special_tokens=True)
    # 0..3 codes past the last whole frame: 1, 3, 4, 6 more ids than whole frames have; none dropped
    assert [len(e) for e in encoded] == [4 + 35, 4 + 35 + 3, 4 + 35 + 4, 4 + 35 + 6, 4, 4 + 3]
    for codes, ids in zip(files, encoded, strict=True):
        assert list(ids[:2]) == [1, 3] and list(ids[-2:]) == [
            4,
            2,
        ]  # <bos> <audio_start> ... <audio_end> <eos>
        whole = codes_to_orpheus_ids(codes)  # the Orpheus export: whole frames, offset 128,266
        assert np.array_equal(ids[2 : 2 + whole.size], whole - CODE_OFFSET + 6)
        assert all(np.array_equal(a, b) for a, b in zip(tokenizer.decode(ids), codes, strict=True))

    dataset = speakers_dataset()
    with pytest.raises(SplitError, match="--keep_columns language"):
        split(dataset, 0.2, "language", "s")
    one_speaker = Dataset.from_dict({"id": ["a", "b"], "duration": [1.0, 1.0], "speaker": ["x", "x"]})
    with pytest.raises(SplitError, match="leaves"):
        split(one_speaker, 0.5, "speaker", "s")
    with pytest.raises(SplitError, match="in \\(0, 1\\)"):
        split(dataset, 1.0, None, "s")


def test_paired_difference_rule():
    raw = {0: 100.0, 1: 101.0, 2: 102.0}
    better = paired_difference({0: 90.0, 1: 91.5, 2: 91.0}, raw)
    assert better["differences"] == [-10.0, -9.5, -11.0]
    assert better["mean"] == pytest.approx(-10.1666667)
    assert better["supported"]
    mixed = paired_difference({0: 100.5, 1: 100.9, 2: 102.2}, raw)  # signs disagree
    assert not mixed["supported"]
    noisy = paired_difference({0: 99.0, 1: 91.0, 2: 101.9}, raw)  # one sign, but mean -4 < 2 SE (6.2)
    assert not noisy["supported"]
    single = paired_difference({0: 50.0}, {0: 100.0})  # one seed never supports anything
    assert not single["supported"] and math.isnan(single["std"])


def results(table: dict[str, list[float]], setting: str = "equal_audio") -> list[dict]:
    return [
        {"tokenization": name, "setting": setting, "seed": seed, "bits_per_second": value}
        for name, values in table.items()
        for seed, value in enumerate(values)
    ]


def test_verdict_names_only_supported_differences():
    table = {
        "raw": [800.0, 801.0, 802.0],
        "plain-4000": [780.0, 781.5, 781.0],  # better in every seed
        "rl-4000": [779.0, 790.0, 805.0],  # not distinguishable from raw, nor from plain
        "cross_scale-4000": [810.0, 811.0, 813.0],  # worse
    }
    verdict = judge(results(table), unigram_bits_per_second=1000.0)["equal_audio"]
    assert verdict["comparable"] and verdict["best_variant"] == "plain-4000"
    words = " ".join(sentences(verdict))
    assert "every seed, beyond 2 standard errors: plain-4000 (-2.5%)" in words
    assert "(worse), supported: cross_scale-4000 (+1.3%)" in words
    assert "Not distinguishable from the raw codes at these seeds: rl-4000 (-1.2%)" in words
    assert "not distinguishable from it: rl-4000." in words
    # a model that stays within 5% of the unigram level makes the whole setting not comparable
    at_unigram = judge(results(table), unigram_bits_per_second=840.0)["equal_audio"]
    assert not at_unigram["comparable"]
    expected = "Not supported: cross_scale-4000, raw, rl-4000 did not get 5% below"
    assert sentences(at_unigram)[0].startswith(expected)


def test_confirmations_are_reported_only_where_trainings_beyond_the_curve_ran():
    """cpu-v4 trains no more seeds, no longer runs and no held-out voices: its report has no
    section that would show the curve's rows twice under the title of a confirmation."""
    from snac_hf.evidence.confirm import confirmations
    from snac_hf.evidence.report import confirmation_section

    curve = [
        {**r, "phase": "curve"}
        for r in results({"raw-scale": [800.0, 801.0, 802.0], "plain-32": [805.0, 806.0, 806.5]})
    ]
    report = {
        "best": "plain-32",
        "plan": {"plain-32": {"raw": "raw-scale"}, "raw-scale": {"raw": None}},
        "settings": {"lm": {"settings": ["equal_audio"], "steps": 480}, "longer": 0},
        "references": {"unigram_bits_per_second": 1000.0},
        "results": curve,
        "voices": None,
    }
    found = confirmations(report)
    assert found["ran"] is False and confirmation_section({**report, "confirmations": found}) == []
    more = [
        {**r, "phase": "more_seeds", "seed": 3} for r in results({"raw-scale": [800.5], "plain-32": [806.0]})
    ]
    report["results"] = curve + more
    found = confirmations(report)
    section = confirmation_section({**report, "confirmations": found})
    assert found["ran"] is True and found["more_seeds"]["stats"]["plain-32"]["n"] == 4
    assert any(line.startswith("| every seed, hash split | 4 | 480 |") for line in section)
    assert not any("curve's seeds" in line for line in section)  # only the base of longer / voices rows


def test_the_curve_names_each_variants_best_budget():
    table = {
        "raw-scale": [800.0, 801.0, 802.0],
        "plain-32": [795.0, 796.5, 796.0],  # the best of plain, better than raw-scale in every seed
        "plain-4000": [840.0, 841.0, 842.0],
        "raw-frame": [810.0, 811.0, 812.0],
        "cross_scale-32": [812.0, 809.0, 813.0],  # best of cross_scale, not distinguishable
        "cross_scale-4000": [850.0, 851.0, 852.0],
        "orpheus": [830.0, 832.0, 831.0],  # worse than raw-frame
    }
    settings = EvidenceSettings(variants=("plain", "cross_scale"), lm_merges=(0, 32, 4000))
    lines = curve_lines(settings)
    verdict = judge(results(table), 1000.0, raw_of(settings))["equal_audio"]
    assert best_budgets(verdict, lines) == {"plain": (32, "plain-32"), "cross_scale": (32, "cross_scale-32")}
    assert overall_best(verdict, lines) == "plain-32"
    assert curve_sentences(verdict, lines) == [
        "plain (scale by scale): lowest mean above 0 merges at 32 (795.8 bits/s, 3 seeds), lower than "
        "raw-scale in every seed, beyond 2 standard errors (-0.6%).",
        "cross_scale (frame by frame): lowest mean above 0 merges at 32 (811.3 bits/s, 3 seeds), not "
        "distinguishable from raw-frame at these seeds (+0.0%).",
        "orpheus (frame order, one id per frame position and code): 831.0 bits/s, higher (worse) than "
        "raw-frame in every seed, beyond 2 standard errors (+2.5%); -16.9% against the raw codes' unigram "
        "level (1000.0 bits/s).",
        "Best budget above 0 of the run: plain-32, against raw-scale.",
    ]
    # a model near the unigram level (orpheus here) voids only the comparisons it is in
    near_unigram = judge(results({**table, "orpheus": [960.0, 962.0, 961.0]}), 1000.0, raw_of(settings))
    verdict = near_unigram["equal_audio"]
    assert not verdict["comparable"] and verdict["not_learning"] == ["orpheus"]
    said = curve_sentences(verdict, lines)
    assert (
        said[0].startswith("plain (scale by scale): lowest mean above 0 merges at 32")
        and "lower than raw-scale" in said[0]
    )
    assert said[2] == (
        "orpheus (frame order, one id per frame position and code): 961.0 bits/s, +18.5% against raw-frame, "
        "not comparable: a model stayed within 5% of its unigram level; -3.9% against the raw codes' "
        "unigram level (1000.0 bits/s)."
    )
    # judged against its own (position-specific) unigram level, the same orpheus learned: both
    # differences said plainly (issue 31 item 13)
    own = judge(
        results({**table, "orpheus": [960.0, 962.0, 961.0]}), 1000.0, raw_of(settings), {"orpheus": 1200.0}
    )["equal_audio"]
    assert own["not_learning"] == [] and own["unigram_of"] == {"orpheus": 1200.0}
    assert curve_sentences(own, lines)[2] == (
        "orpheus (frame order, one id per frame position and code): 961.0 bits/s, higher (worse) than "
        "raw-frame in every seed, beyond 2 standard errors (+18.5%); -19.9% against its own "
        "(position-specific) unigram level (1200.0 bits/s)."
    )
    worse = judge(results({**table, "plain-32": [805.0, 806.5, 807.0]}), 1000.0, raw_of(settings))
    assert (
        "The curve of plain is lowest at 0 merges (its raw codes): there, every budget tried made the "
        "LM worse." in (curve_sentences(worse["equal_audio"], lines))
    )
    assert sentences(verdict)[0].startswith("Not supported: orpheus did not get 5% below the unigram level")
    assert "beyond 2 standard errors: plain-32 (-0.6%)" in " ".join(sentences(verdict))


def test_cost_arithmetic():
    record = {
        "tokenization": "plain-10",
        "setting": "equal_steps",
        "vocab_size": 100,
        "parameters_non_embedding": 1000,
        "window_tokens": 10,
        "tokens_per_second": 50.0,
        "tokens_per_second_train": 40.0,
        "train_seconds": 2.0,
        "audio_seconds_seen": 36.0,
        "generation_audio_seconds_per_second": 3.0,
        "bits_per_second": 700.0,
    }
    # 6 x (non-embedding 1000 + output projection 100 x 8 + attention 2 layers x 10 x 8)
    assert flops_per_token(record, num_layers=2, hidden_size=8) == 6 * (1000 + 800 + 160)
    (row,) = cost_rows([record, {**record, "train_seconds": 4.0}], "equal_steps", 2, 8)
    assert row["flops_per_audio_hour"] == 6 * 1960 * 40.0 * 3600
    assert row["train_seconds_per_audio_hour"] == pytest.approx((200 + 400) / 2)


def test_the_model_parameter_count_is_build_models():
    from snac_hf.lm.model import build_model, parameter_counts
    from snac_hf.lm.settings import ModelSettings

    specials = {"bos": 0, "eos": 1, "pad": 2}
    for model in (ModelSettings(2, 128, 4), ModelSettings(3, 48, 2, intermediate_size=100)):
        built = parameter_counts(build_model(300, model, specials))
        assert non_embedding_parameters(model) == built["non_embedding"]


def test_a_preset_is_priced_with_a_runs_token_rates():
    """Measured budgets are used as they are, one between two is interpolated in log(merges), and
    the confirmations are priced at the most expensive budget (an upper bound)."""

    from snac_hf.evidence.settings import _lm

    report = {
        "settings": {"window_seconds_equal_audio": 3.0, "lm": {"context": 240}},
        "compression": [
            {"variant": "plain", "num_merges": 32, "tokens_per_second": 80.0, "vocab_size": 12326},
            {"variant": "plain", "num_merges": 512, "tokens_per_second": 70.0, "vocab_size": 12806},
        ],
        "plan": {"raw-scale": {"variant": "plain", "merges": 0}},
        "results": [{"tokenization": "raw-scale", "tokens_per_second_train": 82.0, "vocab_size": 12294}],
    }
    lm = replace(_lm(2, 64, 4, 100, 8, 480, 1e-3), settings=("equal_audio",))
    target = EvidenceSettings(variants=("plain",), lm_merges=(0, 128), orpheus=False, seeds=(0, 1),
                              more_seeds=(2,), longer=4, voices_by="speaker", lm=lm)  # fmt: skip
    rows = training_flops(report, target)
    raw, merged = rows["raw-scale/equal_audio"], rows["plain-128/equal_audio"]
    assert (merged["tokens_per_second"], merged["vocab_size"]) == (75.0, 12566.0)  # halfway in log(merges)
    assert (raw["window_tokens"], merged["window_tokens"]) == (492, 450)  # 6 s windows
    non_embedding = non_embedding_parameters(lm.model)
    assert merged["flops_per_token"] == 6 * (non_embedding + 12566 * 64 + 2 * 450 * 64)
    assert merged["flops_per_training"] == merged["flops_per_token"] * 100 * 8 * 450
    cost = preset_cost(report, target)
    pair = raw["flops_per_training"] + merged["flops_per_training"]
    assert cost["curve_flops"] == pytest.approx(2 * pair)
    assert cost["confirmation_flops_at_most"] == pytest.approx((1 + 4 * 2 + 2) * pair)
    with pytest.raises(EstimateError, match="plain at 1,000 merges: the run measured plain at 32, 512"):
        training_flops(report, replace(target, lm_merges=(0, 1000)))


def evidence(*args: str, launcher: tuple[str, ...] = (sys.executable,)):
    return run_script("scripts/evidence.py", *args, launcher=launcher)


@pytest.fixture(scope="module")
def voiced_token_set(speech_token_set, tmp_path_factory):
    """The bundled speech's token set with a `speaker` column: four voices as the file names tell
    them (the Austen reader, the other English recordings, the Italian and the Russian prompts).
    A copy of the folder without its resume state (whose shard digests the new column changes)."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path_factory.mktemp("voiced") / "tokens"
    shutil.copytree(speech_token_set, folder, ignore=shutil.ignore_patterns(".snac_hf"))
    for shard in sorted((folder / "data").glob("*.parquet")):
        table = pq.read_table(shard)
        ids = table.column("id").to_pylist()
        voices = [i.split("_")[0] + ("-austen" if "austen" in i else "") for i in ids]
        pq.write_table(table.append_column("speaker", pa.array(voices)), shard)
    return folder


@pytest.mark.slow
def test_evidence_command_reports_resumes_and_refuses(voiced_token_set, tmp_path, capsys):
    out = tmp_path / "evidence"
    args = ["--tokens", str(voiced_token_set), "--output_dir", str(out), "--preset", "tiny"]
    args += ["--num_threads", "1"]
    first = evidence(*args)
    assert first.returncode == 0, first.stderr
    # per seed one training per tokenization (equal audio only); then best and raw at seed 2
    assert "LM trainings on the curve: 0 done before, 14 to run" in first.stderr
    assert (
        "LM trainings at the best budget and at 0 (more seeds, longer): 0 done before, 2 to run"
        in first.stderr
    )
    assert "LM trainings on held-out voices: 0 done before, 4 to run" in first.stderr
    report = json.loads((out / "evidence.json").read_text())
    curve = [r for r in report["results"] if r["phase"] == "curve"]
    assert len(curve) == 7 * 2  # 7 tokenizations, 2 seeds
    assert {r["tokenization"] for r in curve} == {
        "raw-scale", "raw-frame", "plain-50", "cross_scale-50", "orpheus", "raw-window3", "raw-window12"
    }  # fmt: skip
    best = report["best"]
    assert best in {"plain-50", "cross_scale-50"}
    pair = {best, report["plan"][best]["raw"]}
    assert report["plan"][best]["raw"] == ("raw-scale" if best.startswith("plain") else "raw-frame")
    more = [r for r in report["results"] if r["phase"] == "more_seeds"]
    assert {(r["tokenization"], r["seed"], r["steps"]) for r in more} == {(n, 2, 20) for n in pair}
    assert not [r for r in report["results"] if r["phase"] == "longer"]
    # learning curves: every training scored at 10 and 20 steps, with its training FLOPs so far
    for r in curve:
        points = r["checkpoints"]
        assert [c["steps"] for c in points] == [10, 20]
        assert points[1]["train_flops"] == pytest.approx(2 * points[0]["train_flops"])
        assert points[1]["bits_per_second"] == r["bits_per_second"]
    pairs = report["learning"]["pairs"]
    assert set(pairs) == {"plain-50", "cross_scale-50", "orpheus", "raw-window3", "raw-window12"}
    assert pairs["plain-50"]["raw"] == "raw-scale" and pairs["raw-window3"]["raw"] == "raw-frame"
    assert [p["steps"] for p in pairs["plain-50"]["at_steps"]] == [10, 20]
    assert (
        len(pairs["plain-50"]["at_flops"]) >= 2
    )  # equal FLOPs: the checkpoints of both in their common range
    # windowed scale order: latency and the share of the scale order's gain, every W round-trips
    assert report["windows"] == {"raw-window3": pytest.approx(0.256), "raw-window12": pytest.approx(1.024)}
    assert {(r["tokenization"], r["steps"]) for r in report["window_gain"]} == {
        (n, s) for n in ("raw-window3", "raw-window12") for s in (10, 20)
    }
    windowed = [r for r in report["compression"] if r["variant"] in ("plain_w3", "plain_w12")]
    assert len(windowed) == 2 and all(r["round_trip_exact"] and r["codes_per_token"] == 1.0 for r in windowed)
    # orpheus against its own unigram level: the position-specific one, above the raw codes'
    orpheus_level = report["references"]["orpheus_unigram_bits_per_second"]
    assert orpheus_level > report["references"]["unigram_bits_per_second"]
    assert report["verdict"]["equal_audio"]["unigram_of"] == {"orpheus": orpheus_level}
    orpheus = next(r for r in curve if r["tokenization"] == "orpheus")
    assert orpheus["vocab_size"] == 6 + 7 * 4096 and orpheus["num_merges"] == 0
    raw_frame = next(r for r in curve if r["tokenization"] == "raw-frame")
    assert orpheus["held_out_tokens"] == raw_frame["held_out_tokens"]  # every code, in the same order
    voices = report["voices"]
    assert voices["split"]["held_out_seconds"] >= 0.15 * report["data"]["hours"] * 3600
    assert {(r["tokenization"], r["seed"]) for r in voices["results"]} == {
        (n, s) for n in pair for s in (0, 1)
    }
    assert len(list((out / "runs").rglob("*.json"))) == 14 + 2
    assert len(list((out / "held_out_voices" / "runs").rglob("*.json"))) == 4
    assert all(r["round_trip_exact"] for r in report["compression"] + voices["compression"])
    assert {(r["variant"], r["num_merges"]) for r in report["compression"]} == {
        ("plain", 50), ("cross_scale", 50), ("plain_w3", 0), ("plain_w12", 0)
    }  # fmt: skip
    markdown = (out / "evidence.md").read_text()
    for heading in (
        "## Verdict",
        "**Learning curves (paired by seed; equal FLOPs interpolated in log FLOPs)**",
        "## Learning curves",
        "## Windowed scale order",
        "## The merge curve",
        "## Compression on held-out files",
        "## LM: held-out",
        "## At the best budget and at 0",
        "## Cost per audio-hour",
    ):
        assert heading in markdown
    assert (
        "Held-out voices: split by speaker (whole voices in salted-hash order until they hold 15%" in markdown
    )
    assert "offline stand-in codec" in markdown  # the codec's notice travels into the report
    assert (
        "Codes encoded with: segment_seconds 4.0, context_seconds 0.256, precision float64, exact True"
        in markdown
    )
    # 133 s of audio and 20 steps: every model stays at the unigram level, and the verdict says so
    assert "Not supported:" in markdown and "**-" not in markdown and "**+" not in markdown
    assert "did not get 5% below its own unigram level" in markdown
    assert "against its own (position-specific) unigram level" in markdown
    assert "against raw-frame (at the unigram level)" in markdown and not re.search(r"keeps \d+%", markdown)
    assert markdown.count("not comparable (a model stayed within 5% of the unigram level)") == 3
    assert (out / "evidence.png").stat().st_size > 10_000
    # the run's own preset, priced with its rates, is what it trained (windows and FLOPs per token)
    model = report["settings"]["lm"]["model"]
    own = training_flops(report, preset("tiny"))
    for r in curve:
        priced = own[f"{r['tokenization']}/{r['setting']}"]
        assert priced["window_tokens"] == r["window_tokens"]
        assert priced["flops_per_token"] == flops_per_token(r, model["num_layers"], model["hidden_size"])
    assert "Not priced: rl's raw codes: the run trained no model on them" in markdown
    assert "Learning curves" in first.stdout and "At the best budget and at 0" in first.stdout
    assert "wrote " in first.stdout

    # lost trainings (one of the curve, one more seed, one on held-out voices) are redone, and only they
    voices_runs = out / "held_out_voices" / "runs"
    lost = [
        out / "runs" / "raw-frame" / "window64-steps20-seed1.json",
        out / "runs" / best / f"window{more[0]['window_tokens']}-steps20-seed2.json",
        voices_runs / best / f"window{voices['results'][0]['window_tokens']}-steps20-seed1.json",
    ]
    kept = {p: p.stat().st_mtime_ns for p in out.rglob("runs/*/*.json") if p not in lost}
    for path in lost:
        path.unlink()
    second = evidence(*args)
    assert second.returncode == 0, second.stderr
    assert "LM trainings on the curve: 13 done before, 1 to run" in second.stderr
    assert "(more seeds, longer): 1 done before, 1 to run" in second.stderr
    assert "LM trainings on held-out voices: 3 done before, 1 to run" in second.stderr
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items()) and all(p.is_file() for p in lost)
    again = json.loads((out / "evidence.json").read_text())
    assert again["best"] == best  # decided by the curve's records: the same after a resume
    redone = {("raw-frame", 64, 20, 1), (best, more[0]["window_tokens"], 20, 2)}

    def same(old: dict, new: dict, retrained: bool) -> None:
        if retrained:  # from the same seed on one thread: the same model
            assert new["bits_per_second"] == pytest.approx(old["bits_per_second"], rel=1e-9)
        else:
            assert new == old

    for old, new in zip(report["results"], again["results"], strict=True):
        same(old, new, (old["tokenization"], old["window_tokens"], old["steps"], old["seed"]) in redone)
    for old, new in zip(voices["results"], again["voices"]["results"], strict=True):
        same(old, new, old["tokenization"] == best and old["seed"] == 1)

    # other settings in the same folder: one line, exit 2, nothing touched
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    refused = run_here(capsys, "evidence", *args, "--seeds", "0")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f"error: {out} holds an evidence run with other settings; nothing was changed. Give another "
        "--output_dir, rerun with the same settings to resume, or pass --overwrite"
    ]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before


@pytest.mark.slow
def test_evidence_never_reuses_trainings_of_other_codes_or_foreign_records(tmp_path, capsys):
    """One small run (raw + plain, one seed, one setting), then: the same folder over the same ids,
    durations and counts with other codes, a record from a run with other steps, a hand-edited
    record, a NaN record and a damaged evidence_config.json: each one line, exit 2, nothing used."""
    from test_tamper import recode

    from snac_hf.bpe.synthetic import write_synthetic_token_set
    from snac_hf.evidence.runs import fingerprint
    from snac_hf.layout import layout_for

    tokens = write_synthetic_token_set(tmp_path / "tokens", layout_for("snac_24khz"), 40, shards=2)
    out = tmp_path / "evidence"
    args = ["--output_dir", str(out), "--preset", "tiny", "--variants", "plain", "--seeds", "0"]
    args += ["--settings", "equal_steps", "--num_threads", "1", "--lm_merges", "0", "200", "--no_orpheus"]
    args += ["--more_seeds", "--longer", "0", "--windows", "--checkpoints"]
    first = evidence("--tokens", str(tokens), *args)
    assert first.returncode == 0, first.stderr
    assert "LM trainings on the curve: 0 done before, 2 to run" in first.stderr
    # the preset's held-out voices need a speaker column, which this set lacks: run without, say so
    assert "no held-out-voices split: the token set has no 'speaker' column" in first.stderr
    assert (
        "Held-out voices: no held-out-voices split: the token set has no 'speaker' column (keep it when "
        "tokenizing, --keep_columns speaker, to have one)." in (out / "evidence.md").read_text()
    )
    results = json.loads((out / "evidence.json").read_text())["results"]
    assert all("fingerprint" not in r and "run" not in r for r in results)  # the report holds measurements
    record = out / "runs" / "plain-200" / "window64-steps20-seed0.json"
    good = record.read_text()
    assert json.loads(good)["run"]["lm"]["steps"] == 20

    def refused(*command: str) -> str:  # in this process: a refusal stops before any work
        before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
        result = run_here(capsys, "evidence", *command, *args, prog="scripts/evidence.py")
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
        return lines[0]

    # re-tokenized: same ids, durations and counts, other codes (the old source identity matched)
    line = refused("--tokens", str(recode(tokens, tmp_path / "recoded")))
    assert line == (
        f"error: {out} holds an evidence run with other codes (the token set was re-tokenized or edited); "
        "nothing was changed. Give another --output_dir, rerun on the token set it was made from to resume, "
        "or pass --overwrite"
    )

    def tampered(change) -> str:
        data = json.loads(good)
        change(data)
        record.write_text(json.dumps(data))
        return refused("--tokens", str(tokens))

    def other_steps(data: dict) -> None:  # what a run with --steps 40 wrote (fingerprint and all)
        data["run"]["lm"]["steps"] = data["steps"] = 40
        del data["fingerprint"]
        data["fingerprint"] = fingerprint(data)

    line = tampered(other_steps)
    assert line.startswith(f"error: {record}: it was made for another training (its lm.steps 40 where")
    assert line.endswith("remove it to train that model again, or give another --output_dir")
    line = tampered(lambda d: d.update(bits_per_second=562.0))
    assert line.startswith(f"error: {record}: it was edited after it was written")
    line = tampered(lambda d: d.update(bits_per_second=float("nan")))
    assert line.startswith(f"error: {record}: its bits_per_second is NaN, not a finite number")
    record.write_text(good)
    (out / "evidence_config.json").write_text('{"settings": ')
    line = refused("--tokens", str(tokens))
    assert line.startswith(f"error: {out / 'evidence_config.json'}: not valid JSON")
    assert "pass --overwrite to start the run there again, or give another --output_dir" in line


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--split_by", "speaker"], "--split_by speaker: the token set has no such column"),
        (["--seeds", "0", "0"], "--seeds [0, 0] and --more_seeds [2] repeat a seed"),
        (["--budgets", "0"], "--budgets must be at least 1 merge"),
        (["--lm_merges", "0", "-5"], "--lm_merges [0, -5]: give distinct budgets of at least 0 merges"),
        (["--more_seeds", "1"], "--seeds [0, 1] and --more_seeds [1] repeat a seed"),
        (["--voices_by", "speaker"], "--voices_by speaker: the token set has no such column"),
        (["--windows", "0"], "--windows [0]: give distinct whole numbers of frames, at least 1"),
        (["--checkpoints", "5", "30"], "--checkpoints [5, 30]: give ascending distinct steps of at least 1"),
    ],
)
def test_evidence_bad_values_are_one_line(speech_token_set, tmp_path, extra, message):
    result = evidence(
        "--tokens", str(speech_token_set), "--output_dir", str(tmp_path / "e"), "--preset", "tiny", *extra
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr


def test_evidence_bad_paths_are_one_line(speech_token_set, tmp_path):
    missing = evidence("--tokens", str(tmp_path / "nothing"), "--output_dir", str(tmp_path / "e"))
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert str(tmp_path / "nothing") in missing.stderr
    a_file = tmp_path / "report.txt"
    a_file.write_text("mine")
    blocked = evidence("--tokens", str(speech_token_set), "--output_dir", str(a_file))
    assert blocked.returncode == 2 and "is a file" in blocked.stderr
    assert a_file.read_text() == "mine"
    into_tokens = evidence("--tokens", str(speech_token_set), "--output_dir", str(speech_token_set))
    assert into_tokens.returncode == 2 and "holds a token set" in into_tokens.stderr


@pytest.mark.slow
def test_evidence_under_accelerate_launch_trains_data_parallel(speech_token_set, tmp_path):
    """Two CPU processes join one process group (`lm.train.make_accelerator`); one writes."""
    launcher = (sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2")
    launcher += ("--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no")
    launcher += ("--main_process_port", "0")
    out = tmp_path / "evidence"
    env_threads = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        result = evidence(
            "--tokens", str(speech_token_set), "--output_dir", str(out), "--preset", "tiny",
            "--variants", "plain", "--seeds", "0", "--settings", "equal_steps",  # one training, two ranks
            "--lm_merges", "0", "--no_orpheus", "--more_seeds", "--longer", "0", "--voices_by", "none",
            "--windows", "--checkpoints",
            launcher=launcher,
        )  # fmt: skip
    finally:
        if env_threads is None:
            os.environ.pop("OMP_NUM_THREADS")
        else:
            os.environ["OMP_NUM_THREADS"] = env_threads
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "evidence.json").read_text())
    assert report["processes"] == 2
    assert {r["tokens_seen"] for r in report["results"]} == {
        20 * 4 * 2 * 64
    }  # steps x batch x processes x window
    assert result.stderr.count("LM trainings on the curve: 0 done before") == 1  # one console voice
    assert result.stdout.count("wrote ") == 1
