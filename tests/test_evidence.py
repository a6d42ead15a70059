"""`snac-hf evidence`: the split, the verdict's rule, the cost arithmetic, and the user's command on
real tokens (the bundled speech, `--preset tiny`): reports, resume after a lost training, refusal
of other settings, one-line errors, and two processes under `accelerate launch`."""

from __future__ import annotations

import json
import math
import os
import sys

import pytest
from conftest import run_script
from datasets import Dataset

from snac_hf.evidence.costs import cost_rows, flops_per_token
from snac_hf.evidence.splits import SplitError, split
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


def test_split_errors_say_what_to_change():
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


def evidence(*args: str, launcher: tuple[str, ...] = (sys.executable,)):
    return run_script("scripts/evidence.py", *args, launcher=launcher)


@pytest.mark.slow
def test_evidence_command_reports_resumes_and_refuses(speech_token_set, tmp_path):
    out = tmp_path / "evidence"
    args = ["--tokens", str(speech_token_set), "--output_dir", str(out), "--preset", "tiny"]
    args += ["--variants", "plain", "hierarchical", "--num_threads", "1"]
    first = evidence(*args)
    assert first.returncode == 0, first.stderr
    assert "LM trainings: 0 done before, 10 to run" in first.stderr
    report = json.loads((out / "evidence.json").read_text())
    # raw + 2 variants, 2 settings, 2 seeds; the raw codes train once for both settings
    assert len(report["results"]) == 12
    assert {r["tokenization"] for r in report["results"]} == {"raw", "plain-200", "hierarchical-200"}
    assert len(list((out / "runs").rglob("*.json"))) == 10
    assert all(r["round_trip_exact"] for r in report["compression"])
    assert {(r["variant"], r["num_merges"]) for r in report["compression"]} == {
        (v, m) for v in ("plain", "hierarchical") for m in (50, 200)
    }
    markdown = (out / "evidence.md").read_text()
    for heading in (
        "## Verdict",
        "## Compression on held-out files",
        "## LM: held-out",
        "## Cost per audio-hour",
    ):
        assert heading in markdown
    assert "offline stand-in codec" in markdown  # the codec's notice travels into the report
    # 133 s of audio and 20 steps: every model stays at the unigram level, and the verdict says so
    assert "Not supported:" in markdown and "**-" not in markdown
    assert (out / "evidence.png").stat().st_size > 10_000
    assert "equal_audio:" in first.stdout and "wrote " in first.stdout

    # a lost training is redone, and only it
    lost = out / "runs" / "plain-200" / "window64-seed1.json"
    kept = {p: p.stat().st_mtime_ns for p in (out / "runs").rglob("*.json") if p != lost}
    lost.unlink()
    second = evidence(*args)
    assert second.returncode == 0, second.stderr
    assert "LM trainings: 9 done before, 1 to run" in second.stderr
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items())
    again = json.loads((out / "evidence.json").read_text())["results"]
    redone = [
        i for i, r in enumerate(report["results"]) if r["tokenization"] == "plain-200" and r["seed"] == 1
    ]
    redone = [i for i in redone if report["results"][i]["window_tokens"] == 64]
    assert len(redone) == 1  # equal_steps; plain's equal_audio window is shorter
    for i, (old, new) in enumerate(zip(report["results"], again, strict=True)):
        if i in redone:  # retrained from the same seed on one thread: the same model
            assert new["bits_per_second"] == pytest.approx(old["bits_per_second"], rel=1e-9)
        else:
            assert new == old

    # other settings in the same folder: one line, exit 2, nothing touched
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    refused = evidence(*args, "--seeds", "0")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f"error: {out} holds an evidence run with other settings; nothing was changed. Give another "
        "--output_dir, rerun with the same settings to resume, or pass --overwrite"
    ]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before


@pytest.mark.slow
def test_evidence_never_reuses_trainings_of_other_codes_or_foreign_records(tmp_path):
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
    args += ["--settings", "equal_steps", "--num_threads", "1"]
    first = evidence("--tokens", str(tokens), *args)
    assert first.returncode == 0, first.stderr
    assert "LM trainings: 0 done before, 2 to run" in first.stderr
    results = json.loads((out / "evidence.json").read_text())["results"]
    assert all("fingerprint" not in r and "run" not in r for r in results)  # the report holds measurements
    record = out / "runs" / "plain-200" / "window64-seed0.json"
    good = record.read_text()
    assert json.loads(good)["run"]["lm"]["steps"] == 20

    def refused(*command: str) -> str:
        before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
        result = evidence(*command, *args)
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
        (["--seeds", "0", "0"], "--seeds [0, 0] repeats a seed"),
        (["--budgets", "0"], "--budgets and --lm_merges must be at least 1 merge"),
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
            "--variants", "plain", "--seeds", "0", "1", "--settings", "equal_steps",
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
    assert result.stderr.count("LM trainings: 0 done before") == 1  # one console voice
    assert result.stdout.count("wrote ") == 1
