"""Outputs that do not mislead (issue 12): the BPE verdict, lm_eval, comparison.png, the card, README figures.

Each test runs the real code on the bundled speech (the `speech_token_set` fixture, copied where a
test writes into it) or on dicts of the exact shape the code produces.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import re
import shutil
from pathlib import Path

import pytest
import yaml
from datasets import Dataset

from tests.conftest import REPO, run_script


def _load_script(relative: str):
    spec = importlib.util.spec_from_file_location(Path(relative).stem, REPO / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def analyzed_speech(speech_token_set, tmp_path_factory) -> Path:
    """A copy of the speech token set, analyzed in place (reports, plots, card section)."""
    from snac_hf.analysis import analyze_folder

    folder = tmp_path_factory.mktemp("outputs") / "tokens"
    shutil.copytree(speech_token_set, folder)
    analyze_folder(str(folder), console=False)
    return folder


@pytest.fixture(scope="module")
def compared_speech(analyzed_speech, tmp_path_factory) -> tuple[Path, dict]:
    """`compare` of every variant at 0 and 200 merges on the analyzed copy: (folder, report)."""
    from snac_hf.bpe.compare import compare

    out = tmp_path_factory.mktemp("comparison")
    report = compare(analyzed_speech, out, num_merges=[0, 200], holdout=0.2, annotate=True)
    return analyzed_speech, report


# --- 1. the BPE verdict counts only what the report calls informative ------------------------------


def small_sample_scale() -> dict:
    """A scale as summarize() writes it: 1,500 bigrams among 1,200 codes (1.44 M transitions)."""
    return {
        "scale": 0,
        "tokens": 1_501,
        "gini": 0.2,
        "transitions": {"sparsity": 0.999, "possible": 1_200**2},
        "bigrams": {"diversity": 0.0001, "total": 1_500, "possible": 4096**2},
        "repetition": {"repetition_rate": 0.01},
    }


def test_verdict_leaves_out_the_checks_a_small_sample_cannot_inform():
    from snac_hf.analysis.recommend import recommend, recommendation_lines

    recommendation = recommend([small_sample_scale()])
    scale = recommendation["per_scale"][0]
    assert [(c["criterion"], c["counted"]) for c in scale["checks"]] == [
        ("gini", True),
        ("sparsity", False),
        ("bigram_diversity", False),
        ("repetition_rate", True),
    ]
    # before: sparsity and diversity scored 2 of 4 -> "mixed"; both counted checks are poor
    assert (scale["score"], scale["counted"], scale["verdict"]) == (0.0, 2, "poor BPE candidate")
    assert recommendation["verdict"] == "poor BPE candidate"
    lines = recommendation_lines(recommendation)
    assert lines[-1] == "Overall: poor BPE candidate (heuristic: mean score 0.00 of 2 counted checks)"
    # issue 31: a check that is not counted is neutral, not a tick beside a figure that says nothing
    assert "· Very sparse transitions (sparsity=0.999)  [not counted: too few bigrams]" in lines
    assert "· Low bigram diversity (0.01% of possible bigrams)  [not counted: too few bigrams]" in lines
    assert not any(line.startswith("✓") for line in lines)


def test_verdict_counts_every_check_with_enough_bigrams():
    from snac_hf.analysis.recommend import recommend_scale

    scale = small_sample_scale()
    scale["bigrams"]["total"] = 2_000_000  # more bigrams than the 1.44 M possible transitions
    result = recommend_scale(scale)
    assert result["counted"] == 4 and all(c["counted"] for c in result["checks"])
    assert (result["score"], result["verdict"]) == (2.0, "mixed: BPE may help somewhat")


def test_speech_verdict_agrees_with_its_caveats_and_measured_compression_is_stated(compared_speech):
    folder, report = compared_speech
    analysis = json.loads((folder / "analysis.json").read_text())
    assert analysis["schema_version"] == 2
    for scale in analysis["recommendation"]["per_scale"]:
        assert scale["caveats"] and scale["counted"] == 2  # the caveat and the score say the same
    best = max((r for r in report["results"] if r["codes_per_token"]), key=lambda r: r["codes_per_token"])
    assert analysis["bpe_measured"]["codes_per_token"] == best["codes_per_token"]
    measured = f"{best['codes_per_token']:.3f} codes per token at best ({best['variant']}"

    report_md = (folder / "analysis.md").read_text()
    recommendation = report_md.split("## BPE recommendation", 1)[1].split("## Frequency", 1)[0]
    assert "Overall: " + analysis["recommendation"]["verdict"] in recommendation
    assert f"**Measured** (scripts/compare_bpe.py): {measured}" in recommendation
    card = (folder / "README.md").read_text()
    assert f"Measured BPE compression: {measured}" in card
    assert f"BPE verdict from these statistics: **{analysis['recommendation']['verdict']}" in card


# --- 2. lm_eval: codec, notice, reference levels, the plot -----------------------------------------


def test_reference_levels_by_hand():
    from snac_hf.layout import layout_for
    from snac_hf.lm.references import reference_levels

    def files(rows):
        columns = {f"tokens_scale_{k}": [row[k] for row in rows] for k in range(3)}
        return Dataset.from_dict({**columns, "duration": [1.0] * len(rows)})

    train = files([([0], [0, 1], [5, 5, 5, 5])] * 2)
    held_out = files([([0], [1, 1], [5, 6, 5, 5])])
    levels = reference_levels(train, held_out, layout_for("snac_24khz"), held_out_seconds=2.0)
    symbols = 3 * 4096 + 1  # every code of every scale + <audio_end>
    train_total = 16  # 7 codes + 1 end marker per train file
    # held out: s0:0 (seen 2x), s1:1 twice (2x), s2:5 three times (8x), s2:6 (never), <audio_end> (2x)
    counts_seen = [2, 2, 2, 8, 8, 8, 0, 2]
    bits = -sum(math.log2((n + 1) / (train_total + symbols)) for n in counts_seen)
    assert levels["symbols"] == symbols and levels["held_out_symbols"] == 8
    assert levels["unigram_bits_per_second"] == pytest.approx(bits / 2.0, rel=1e-12)
    assert levels["uniform_bits_per_second"] == pytest.approx(8 * math.log2(symbols) / 2.0, rel=1e-12)


def lm_report(bits: dict[str, float], unigram: float = 1000.0, uniform: float = 1010.0) -> dict:
    """A report of the shape `evaluate_tokenizations` returns, with the given bits/s per row."""
    rows = [
        {"setting": setting, "name": name, "bits_per_second": value}
        for setting in ("equal_audio", "equal_steps")
        for name, value in bits.items()
    ]
    references = {"unigram_bits_per_second": unigram, "uniform_bits_per_second": uniform}
    return {
        "results": rows,
        "references": references,
        "data": {"held_out_files": 7, "held_out_seconds": 24.0},
    }


def test_unigram_level_note_follows_its_rule():
    from snac_hf.lm.report import unigram_level_note

    # at the unigram level = bits/s above 95% of it (950 here); 950 itself is not
    assert "**Every model is at the unigram level**" in unigram_level_note(lm_report({"a": 1001, "b": 951}))
    note = unigram_level_note(lm_report({"raw": 951, "bpe": 950}))
    assert "**At the unigram level**: raw (equal_audio), raw (equal_steps)" in note and "bpe" not in note
    assert unigram_level_note(lm_report({"a": 900, "b": 800})) is None


def test_lm_figure_starts_at_zero_with_titles_ticks_references_and_markers():
    from snac_hf.lm.report import lm_figure

    figure = lm_figure(
        lm_report({"raw codes (cross_scale order, 0 merges)": 1020, "plain (2000 merges)": 1000})
    )
    absolute, relative = figure.axes
    assert figure._suptitle.get_text().startswith("Small-LM held-out bits per audio-second (lower is better)")
    assert absolute.get_title() and relative.get_title()
    assert absolute.get_xlim()[0] == 0 and absolute.get_xlim()[1] > 1010  # from 0, uniform inside
    ticks = [t.get_text() for t in absolute.get_yticklabels()]
    assert ticks == ["raw codes\n(cross_scale order, 0 merges)", "plain\n(2000 merges)"]
    vertical = {line.get_xdata()[0] for line in absolute.get_lines() if line.get_linestyle() in ("--", ":")}
    assert vertical == {1000, 1010}  # unigram and uniform
    markers = {line.get_marker() for line in absolute.get_lines() if line.get_linestyle() == "None"}
    assert markers == {"o", "s"}  # one per budget setting
    assert relative.get_xlim()[0] <= -10 and relative.get_xlim()[1] >= 1.0 + 2


def test_lm_eval_names_the_codec_and_shows_the_references(speech_token_set, fitted_model, tmp_path):
    out = tmp_path / "lm"
    result = run_script(
        "scripts/evaluate_lm.py", "--tokens", str(speech_token_set), "--variants", "plain",
        "--num_merges", "20", "--output_dir", str(out), "--steps", "2", "--batch_size", "2",
        "--context", "32", "--hidden_size", "16", "--num_heads", "2", "--generation_tokens", "4",
        "--settings", "equal_steps", "--num_threads", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    table = (out / "lm_eval.md").read_text()
    assert f"Codec: {fitted_model.name} (local folder), weights: seeded-encoder+fitted-codebooks." in table
    assert "None" not in table and str(fitted_model) not in table
    assert "> **Note:** Encoded with snac_hf's offline stand-in codec" in table
    references = json.loads((out / "lm_eval.json").read_text())["references"]
    assert 0 < references["unigram_bits_per_second"] < references["uniform_bits_per_second"]
    assert f"*{references['unigram_bits_per_second']:.1f}*" in table and "reference: uniform" in table
    assert "**Every model is at the unigram level**" in table  # 2 steps learn nothing


def test_describe_data_hides_a_recorded_local_path(fitted_model):
    from snac_hf.lm.report import describe_data

    files = Dataset.from_dict({"duration": [1.0]})
    described = describe_data(files, files, files, {"codec": {"name": str(fitted_model)}})
    assert described["codec"] == f"{fitted_model.name} (local folder)"


# --- 3. comparison.png -----------------------------------------------------------------------------


def test_comparison_figure_keeps_every_variant_visible(compared_speech):
    from snac_hf.bpe.compare import comparison_figure

    _, report = compared_speech
    figure = comparison_figure(report)
    compression, learned = figure.axes
    variants = list(dict.fromkeys(r["variant"] for r in report["results"]))
    lines = [line for line in compression.get_lines() if line.get_label().split(" ")[0] in variants]
    assert [line.get_label().split(" ")[0] for line in lines] == variants
    assert len({(line.get_marker(), line.get_linestyle()) for line in lines}) == len(variants)
    assert len({tuple(line.get_xdata()) for line in lines}) == len(variants)  # offsets: no line hides
    series = {v: [r["codes_per_token"] for r in report["results"] if r["variant"] == v] for v in variants}
    for line in lines:
        variant, _, rest = line.get_label().partition(" ")
        earlier = [v for v in variants[: variants.index(variant)] if series[v] == series[variant]]
        assert rest == (f"(= {earlier[0]})" if earlier else "")
    for axes in (compression, learned):
        assert [t.get_text() for t in axes.get_xticklabels()] == ["0", "200"]
        assert "encode" not in axes.get_ylabel()
    low, high = compression.get_ylim()
    assert low < 1.0 and high > 1.05
    assert figure._suptitle.get_text().startswith("BPE variants on ")


# --- 4. what --push_to_hub publishes ---------------------------------------------------------------


def test_metadata_and_card_carry_no_local_path(speech_token_set, fitted_model):
    meta_text = (speech_token_set / "metadata.json").read_text()
    card = (speech_token_set / "README.md").read_text()
    for text in (meta_text, card):
        assert str(fitted_model) not in text and str(Path.home()) not in text
    codec = json.loads(meta_text)["codec"]
    assert codec["name"] == f"{fitted_model.name} (local folder)"
    weights = fitted_model / codec["weights_file"]
    assert codec["weights_file_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert "weights_sha256" not in codec  # that name is the digest of the weights' values (snac_hf.json)
    assert f"- codec weights: seeded-encoder+fitted-codebooks, SHA-256 of `{weights.name}`" in card
    assert "- codec weights license: not pretrained SNAC weights: generated by snac_hf" in card
    assert "- audio data license: not stated (`scripts/tokenize.py --license ID` records it)" in card


def test_card_shows_the_analysis_figures_and_no_local_source(analyzed_speech):
    card = (analyzed_speech / "README.md").read_text()
    names = re.findall(r"!\[[^]]*\]\(([^)]+)\)", card)
    assert names == ["rank_frequency.png", "run_lengths.png", "ngram_diversity.png"]
    assert all((analyzed_speech / name).stat().st_size > 1000 for name in names)
    report = (analyzed_speech / "analysis.md").read_text()
    assert f"- Source: `{analyzed_speech.name} (local folder)`" in report
    assert str(analyzed_speech) not in report and str(analyzed_speech) not in card


def test_card_states_the_data_license_in_text_and_yaml(speech_token_set, tmp_path):
    from snac_hf.tokenset.card import write_card

    meta = json.loads((speech_token_set / "metadata.json").read_text())
    meta["settings"]["license"] = "cc-by-4.0"
    write_card(tmp_path, meta)
    text = (tmp_path / "README.md").read_text()
    assert yaml.safe_load(text.split("---\n")[1])["license"] == "cc-by-4.0"
    assert "- audio data license: `cc-by-4.0` (given with `--license`)" in text


def test_codec_licenses_and_local_checkpoints(tmp_path):
    from snac_hf.codec.model_folder import WEIGHT_FILES
    from snac_hf.tokenset.card import WEIGHT_FILES as CARD_WEIGHT_FILES
    from snac_hf.tokenset.card import codec_license, public_codec

    assert CARD_WEIGHT_FILES == WEIGHT_FILES
    hub = {"name": "hubertsiuzdak/snac_24khz", "checkpoint": None, "weights": "pretrained"}
    assert public_codec(hub) == hub and codec_license(hub).startswith("MIT (pretrained SNAC")
    checkpoint = tmp_path / "best_model.pt"
    checkpoint.write_bytes(b"weights")
    tuned = public_codec({**hub, "checkpoint": str(checkpoint), "weights": "checkpoint"})
    assert tuned["checkpoint"] == "best_model.pt (local file)"
    assert tuned["checkpoint_sha256"] == hashlib.sha256(b"weights").hexdigest()
    assert codec_license(tuned).startswith("a fine-tuned checkpoint: its license is its author's")
    assert codec_license({"name": "x", "weights": "seeded-random"}).startswith("not pretrained SNAC weights")


# --- 5. numbers that stay true ---------------------------------------------------------------------


def test_readme_fitted_model_table_is_what_the_script_computes(speech_token_set):
    from snac_hf.analysis import analyze

    figures = _load_script("scripts/readme_figures.py")
    current = figures.readme_section(figures.README.read_text())
    assert current is not None, f"{figures.README} lost its readme:fitted_model markers"
    # speech_token_set holds --exact codes, as the script makes them: no skip, no tolerance
    assert current == figures.fitted_model_section(analyze(str(speech_token_set)))


def test_transformers_floor_reads_the_saved_tokenizer_config(tmp_path):
    from importlib.metadata import version

    from packaging.requirements import Requirement
    from packaging.version import Version

    from snac_hf.bpe import train_tokenizer
    from snac_hf.bpe.synthetic import write_synthetic_token_set
    from snac_hf.layout import layout_for

    tokens = write_synthetic_token_set(tmp_path / "tokens", layout_for("snac_24khz"), 4)
    folder = train_tokenizer(tokens, "plain", 10, output_dir=tmp_path / "tok")
    config = json.loads((Path(folder) / "tokenizer_config.json").read_text())
    pyproject = (REPO / "pyproject.toml").read_text()  # tomllib is not in Python 3.10
    requirement = Requirement(re.search(r'^\s*"(transformers[^"]*)"', pyproject, re.MULTILINE).group(1))
    floor = Version(next(iter(requirement.specifier)).version)
    if config["tokenizer_class"] == "TokenizersBackend":  # transformers 5's name: 4.x cannot load it
        assert floor >= Version("5.0")
    assert Version(version("transformers")) in requirement.specifier


def test_train_lm_prints_the_last_logged_loss_not_the_mean_as_final(tmp_path):
    from snac_hf.bpe.synthetic import write_synthetic_token_set
    from snac_hf.layout import layout_for

    tokens = write_synthetic_token_set(tmp_path / "tokens", layout_for("snac_24khz"), 12)
    result = run_script(
        "examples/train_lm.py", "--tokens", str(tokens), "--output_dir", str(tmp_path / "lm"),
        "--max_steps", "4", "--block_size", "32", "--batch_size", "2", "--hidden_size", "16",
        "--num_layers", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "final train loss" not in result.stdout
    line = next(line for line in result.stdout.splitlines() if line.startswith("trained 4 steps"))
    assert re.fullmatch(
        r"trained 4 steps; mean train loss over all steps \d+\.\d{3}; "
        r"last logged train loss \d+\.\d{3} \(mean of steps 4-4\)",
        line,
    )
    summary = _load_script("examples/train_lm.py").loss_summary
    history = [{"loss": 9.0, "step": 2}, {"loss": 7.0, "step": 4}, {"train_loss": 8.0, "step": 4}]
    assert summary(4, 8.0, history).endswith("last logged train loss 7.000 (mean of steps 3-4)")


def test_run_length_plot_labels_every_run_length(analyzed_speech):
    from snac_hf.analysis.plots import run_length_figure

    analysis = json.loads((analyzed_speech / "analysis.json").read_text())
    lengths = sorted({n for s in analysis["scales"] for n, _ in s["repetition"]["run_length_histogram"]})
    assert len(lengths) <= 12  # short runs only in 133 s of speech
    (axes,) = run_length_figure(analysis).axes
    assert [t.get_text() for t in axes.get_xticklabels()] == [str(n) for n in lengths]


def test_card_lists_the_kept_columns_and_readable_bigram_diversity(speech_token_set):
    """Issue 31: the card's prose list of columns left out kept columns (`text`, `speaker`), and the
    report's "bigram div." column read 0.00% for every scale (distinct bigrams / 4096² is far below
    0.01% on a small set)."""
    from datasets import Features, Value

    from snac_hf.analysis.markdown import summary_table
    from snac_hf.tokenset.card import card_summary

    meta = json.loads((speech_token_set / "metadata.json").read_text())
    assert "kept from the input" not in card_summary(meta)
    meta["kept_columns"] = Features({"text": Value("string"), "speaker": Value("string")}).to_dict()
    assert "; kept from the input: `text`, `speaker`." in card_summary(meta)

    scales = [{"scale": 0, "tokens": 10, "unique_tokens": 5, "entropy_bits": 2.0, "gini": 0.5,
               "transitions": {"sparsity": 0.9}, "bigrams": {"diversity": 7.2e-7},
               "repetition": {"repetition_rate": 0.01}}]  # fmt: skip
    table = summary_table({"scales": scales, "recommendation": {"per_scale": [{"scale": 0, "verdict": "v"}]}})
    assert "7.2e-05%" in table and "0.00%" not in table
