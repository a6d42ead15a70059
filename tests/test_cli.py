"""`snac-hf`, the one command for every job, as installed: help with defaults, one-line errors,
Hub failures in seconds, no tokenizer or token set replaced by surprise, save_to_disk folders read."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, run_here

from snac_hf.bpe.synthetic import write_synthetic_token_set
from snac_hf.cli.main import COMMANDS
from snac_hf.cli.main import main as snac_hf_main
from snac_hf.layout import layout_for

SNAC_HF = Path(sys.executable).parent / "snac-hf"
#: What each command's --help must show: its prog and some of its defaults.
HELP_DEFAULTS = {
    "tokenize": ["--segment_length", "(default: 4.0)", "(default: hubertsiuzdak/snac_24khz)"],
    "analyze": ["--num_proc", "(default: 1)", "(default: 65536)"],
    "train-bpe": ["--overwrite", "(default: 8000)", "(default: plain)", "(default: 16)"],
    "compare-bpe": ["--overwrite", "(default: [0, 1000, 4000, 16000])", "(default: 0.2)"],
    "decode": ["--out_dir", "(default: hubertsiuzdak/snac_24khz)", "(default: train)"],
    "evaluate-lm": ["--steps", "(default: 200)", "(default: 0.2)", "(default: [2000])"],
    "offline-model": ["--audio_dir", "(default: 25)", "(default: hubertsiuzdak/snac_24khz)"],
}


def run(*command: str, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    """A command as a user types it, from the repository root; wide help lines (no wrapping)."""
    env = {**os.environ, "COLUMNS": "300", **(env or {})}
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def snac_hf(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return run(str(SNAC_HF), *args, **kwargs)


def snac_hf_here(capsys, *args: str) -> subprocess.CompletedProcess:
    """`snac-hf ARGS` in this process (conftest.run_here): for the refusal matrices."""
    return run_here(capsys, *args)


def one_error_line(stderr: str, status: int) -> str:
    """The only line of a user error: exit status 2, `error: ...`, no traceback."""
    assert status == 2, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


@pytest.fixture(scope="module")
def token_set(tmp_path_factory) -> Path:
    return write_synthetic_token_set(
        tmp_path_factory.mktemp("cli") / "tokens", layout_for("snac_24khz"), n_files=16, seconds=(0.5, 2.0)
    )


# ---------------------------------------------------------------- one command, every spelling


def test_the_installed_command_lists_every_job():
    assert SNAC_HF.is_file(), "run `pip install -e .` (make setup) to install the snac-hf command"
    result = snac_hf("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: snac-hf ")
    for name, command in COMMANDS.items():
        assert f"  {name} " in result.stdout and command.summary in result.stdout
    as_module = run(sys.executable, "-m", "snac_hf", "--help")
    assert as_module.returncode == 0 and as_module.stdout.startswith("usage: python -m snac_hf ")
    assert all(name in as_module.stdout for name in COMMANDS)
    unknown = snac_hf("tokenise")
    assert "invalid choice: 'tokenise'" in one_error_line(unknown.stderr, unknown.returncode)


@pytest.mark.parametrize("name", list(HELP_DEFAULTS))
def test_each_command_help_shows_its_prog_and_defaults(name):
    result = snac_hf(name, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: snac-hf {name} ")
    for text in HELP_DEFAULTS[name]:
        assert text in result.stdout, (text, result.stdout)


def test_module_script_and_old_console_spellings():
    cases = {
        (sys.executable, "-m", "snac_hf.cli.tokenize", "--help"): "usage: python -m snac_hf.cli.tokenize ",
        (sys.executable, "-m", "snac_hf.cli.train_bpe", "--help"): "usage: python -m snac_hf.cli.train_bpe ",
        (sys.executable, "scripts/compare_bpe.py", "--help"): "usage: scripts/compare_bpe.py ",
        (str(SNAC_HF.parent / "snac-tokenize"), "--help"): "usage: snac-tokenize ",
    }
    for command, usage in cases.items():
        result = run(*command)
        assert result.returncode == 0 and result.stdout.startswith(usage), (command, result.stderr)
        assert "(default: " in result.stdout


@pytest.mark.parametrize("name", ["analyze", "train-bpe", "compare-bpe"])
def test_torch_free_commands_do_not_import_torch(name):
    code = (
        "import sys\nfrom snac_hf.cli.main import main\ntry:\n    main([sys.argv[1], '--help'])\n"
        "except SystemExit:\n    pass\nprint('torch imported:', 'torch' in sys.modules)"
    )
    result = run(sys.executable, "-c", code, name)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("torch imported: False")


# ---------------------------------------------------------------- user errors: one line, exit 2

MISSING = "MISSING"  # replaced by a path that does not exist
MISSING_PATH_COMMANDS = {
    "tokenize": ["tokenize", "--input_dir", MISSING, "--output_dir", "OUT"],
    "analyze": ["analyze", "--tokens", MISSING],
    "train-bpe": ["train-bpe", "--tokens", MISSING, "--output_dir", "OUT"],
    "compare-bpe": ["compare-bpe", "--tokens", MISSING, "--output_dir", "OUT"],
    "decode --ids": ["decode", "--ids", MISSING, "--out_dir", "OUT"],
    "decode --dataset": ["decode", "--dataset", MISSING, "--out_dir", "OUT"],
    "evaluate-lm": ["evaluate-lm", "--tokens", MISSING, "--output_dir", "OUT"],
    "offline-model": ["offline-model", "--refit", "--out", "OUT", "--audio_dir", MISSING],
}


@pytest.mark.parametrize("case", list(MISSING_PATH_COMMANDS))
def test_a_missing_path_is_one_error_line(case, tmp_path, capsys):
    missing, out = tmp_path / "no_such_thing", tmp_path / "out"
    args = [{MISSING: str(missing), "OUT": str(out)}.get(a, a) for a in MISSING_PATH_COMMANDS[case]]
    result = snac_hf_here(capsys, *args)
    assert str(missing) in one_error_line(result.stderr, result.returncode)
    assert not out.exists()  # nothing written


def test_a_bad_flag_value_is_one_error_line(tmp_path, capsys):
    result = snac_hf_here(
        capsys, "train-bpe", "--tokens", "x", "--output_dir", str(tmp_path), "--codec", "snac_99khz"
    )
    line = one_error_line(result.stderr, result.returncode)
    assert "unknown SNAC model 'snac_99khz'" in line and "(see snac-hf train-bpe --help)" in line
    result = snac_hf_here(capsys, "tokenize", "--input_dir", "x", "--output_dir", "y", "--batch_size", "0")
    assert "--batch_size must be positive" in one_error_line(result.stderr, result.returncode)


# ---------------------------------------------------------------- the Hub: fast, and what to do


def test_offline_hub_errors_are_immediate_and_say_what_to_do(tmp_path, token_set):
    from huggingface_hub import constants

    from snac_hf.codec.load import CodecLoadError, load_codec
    from snac_hf.codec.model_folder import DEFAULT_MODEL, cached_model_dir
    from snac_hf.tokenset.hub import HubUnreachableError
    from snac_hf.tokenset.load import open_token_set, push_to_hub

    assert constants.HF_HUB_OFFLINE  # conftest sets HF_HUB_OFFLINE=1 before huggingface_hub loads
    started = time.perf_counter()
    with pytest.raises(CodecLoadError) as codec_error:
        load_codec(DEFAULT_MODEL)
    with pytest.raises(HubUnreachableError) as dataset_error:
        open_token_set("someone/tokens")
    with pytest.raises(RuntimeError) as push_error:
        push_to_hub(token_set, "someone/tokens")
    assert time.perf_counter() - started < 1.0
    message = str(codec_error.value)
    assert "HF_HUB_OFFLINE is set" in message and f"`hf download {DEFAULT_MODEL} --local-dir DIR`" in message
    assert "`snac-hf offline-model`" in message and "huggingface-cli" not in message
    if (cached_model_dir() / "config.json").is_file():
        assert f"--model {cached_model_dir()} " in message
    assert "`hf download --repo-type dataset someone/tokens --local-dir DIR`" in str(dataset_error.value)
    assert "`hf auth login`" in str(push_error.value)
    assert f"`hf upload --repo-type dataset someone/tokens {token_set} " in str(push_error.value)


def test_tokenize_with_the_hub_offline_is_one_error_line(tmp_path, short_speech_dir):
    result = snac_hf("tokenize", "--input_dir", str(short_speech_dir), "--output_dir", str(tmp_path / "t"))
    line = one_error_line(result.stderr, result.returncode)
    assert "could not fetch SNAC model 'hubertsiuzdak/snac_24khz'" in line and "snac-hf offline-model" in line


def test_a_hub_that_never_answers_fails_within_seconds(tmp_path):
    """A real server that accepts connections and never answers, as the Hub endpoint; no offline mode."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    code = (
        "import time\nfrom snac_hf.codec.load import CodecLoadError, load_codec\n"
        "from snac_hf.tokenset.hub import HubUnreachableError\n"
        "from snac_hf.tokenset.load import open_token_set\n"
        "for name, call, error in [('model', load_codec, CodecLoadError), "
        "('dataset', open_token_set, HubUnreachableError)]:\n"
        "    started = time.perf_counter()\n    try:\n        call('someone/repo')\n"
        "    except error as e:\n        print(name, round(time.perf_counter() - started, 2), str(e)[:200])\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{server.getsockname()[1]}", HF_HOME=str(tmp_path / "hf"))
    try:
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, cwd=REPO
        )
    finally:
        server.close()
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["model", "dataset"], result.stderr
    # the 2 s probe, plus (first request of a process only) huggingface_hub's own 3 s registry fetch
    assert all(float(line.split()[1]) < 6.0 for line in lines), lines
    assert all("ReadTimeout" in line for line in lines), lines


# ---------------------------------------------------------------- safe by default


def train_bpe(*args: str) -> int:
    return snac_hf_main(["train-bpe", "--num_merges", "10", *args])


def test_train_bpe_refuses_other_tokenizers_and_token_sets(token_set, tmp_path, capsys):
    out = tmp_path / "tok"
    assert train_bpe("--tokens", str(token_set), "--variant", "rl", "--output_dir", str(out)) == 0
    assert train_bpe("--tokens", str(token_set), "--variant", "rl", "--output_dir", str(out)) == 0  # same
    saved = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    refused = {
        "no --variant (plain)": ["--output_dir", str(out)],
        "other max_run": ["--variant", "rl", "--max_run", "8", "--output_dir", str(out)],
        "a token set": ["--output_dir", str(token_set)],
    }
    for case, args in refused.items():
        status = train_bpe("--tokens", str(token_set), *args)
        line = one_error_line(capsys.readouterr().err, status)
        assert ("holds a token set" if case == "a token set" else "holds another tokenizer (rl,") in line, (
            case
        )
    assert {p.name: p.read_bytes() for p in out.iterdir()} == saved  # nothing written
    assert sorted(p.name for p in token_set.iterdir()) == ["data", "metadata.json"]
    assert train_bpe("--tokens", str(token_set), "--output_dir", str(out), "--overwrite") == 0
    meta = json.loads((out / "tokenizer_config.json").read_text())["codec_meta"]
    assert meta["variant"] == "plain"


def test_compare_bpe_refuses_other_settings_and_says_it_updates_analysis_md(token_set, tmp_path, capsys):
    tokens = shutil.copytree(token_set, tmp_path / "tokens")
    assert snac_hf_main(["analyze", "--output_dir", str(tokens), "--quiet", "--no_plots"]) == 0
    before = (tokens / "analysis.md").read_text()
    args = ["compare-bpe", "--tokens", str(tokens), "--variants", "plain", "rl", "--num_merges", "0", "10"]
    out = tmp_path / "cmp"
    capsys.readouterr()
    assert snac_hf_main([*args, "--holdout", "0.3", "--output_dir", str(out), "--annotate_tokens"]) == 0
    printed = capsys.readouterr().out
    assert f"updated {tokens / 'analysis.md'}" in printed
    assert (tokens / "analysis.md").read_text() != before and "**Measured**" in (
        tokens / "analysis.md"
    ).read_text()
    report = (out / "comparison.json").read_bytes()
    status = snac_hf_main([*args, "--max_run", "4", "--output_dir", str(out)])
    assert "rl-0 holds another tokenizer" in one_error_line(capsys.readouterr().err, status)
    status = snac_hf_main([*args, "--output_dir", str(tokens)])
    assert "holds a token set" in one_error_line(capsys.readouterr().err, status)
    assert (out / "comparison.json").read_bytes() == report and not (tokens / "comparison.json").exists()


def test_decode_and_evaluate_lm_check_outputs_before_loading_anything(token_set, tmp_path, capsys):
    (tmp_path / "ids.json").write_text(json.dumps([128266 + 4096 * p for p in range(7)]))  # 1 Orpheus frame
    (tmp_path / "wavs").mkdir()
    (tmp_path / "wavs" / "row_0.wav").write_bytes(b"mine")
    # the default model is a Hub id and the Hub is offline: the output check must come first
    status = snac_hf_main(
        [
            "decode",
            "--format",
            "orpheus",
            "--ids",
            str(tmp_path / "ids.json"),
            "--out_dir",
            str(tmp_path / "wavs"),
        ]
    )
    assert "row_0.wav exist already; nothing was written" in one_error_line(capsys.readouterr().err, status)
    assert (tmp_path / "wavs" / "row_0.wav").read_bytes() == b"mine"
    status = snac_hf_main(["evaluate-lm", "--tokens", str(token_set), "--output_dir", str(token_set)])
    assert "holds a token set or dataset (metadata.json)" in one_error_line(capsys.readouterr().err, status)


# ---------------------------------------------------------------- save_to_disk folders


def test_analyze_reads_a_save_to_disk_copy_of_a_token_set(token_set, tmp_path):
    from datasets import DatasetDict

    from snac_hf.analysis import analyze
    from snac_hf.tokenset.load import open_token_set

    dataset = open_token_set(str(token_set))
    dataset.save_to_disk(str(tmp_path / "saved"))
    DatasetDict({"train": dataset}).save_to_disk(str(tmp_path / "saved_dict"))
    assert len(open_token_set(str(tmp_path / "saved_dict"))) == len(dataset) == 16
    result = snac_hf(
        "analyze", "--tokens", str(tmp_path / "saved"), "--report_dir", str(tmp_path / "r"), "--quiet"
    )
    assert result.returncode == 0, result.stderr
    copy = json.loads((tmp_path / "r" / "analysis.json").read_text())
    original = analyze(str(token_set))
    for key in ("files", "tokens", "scales", "cross_scale"):
        assert copy[key] == json.loads(json.dumps(original[key])), key


# ------------------------------------------- hostile inputs (issue 21): one line, nothing written


def model_with(tmp_path: Path, fitted_model, **config) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(fitted_model, folder)
    path = folder / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **config}))
    return folder


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"vq_strides": [4, 2, 0]}, "each stride must be a positive integer, not 0"),
        ({"vq_strides": [4, 2, 1.5]}, "each stride must be a positive integer, not 1.5"),
        ({"sampling_rate": True}, "sampling_rate must be a positive integer, not True"),
        ({"sampling_rate": -24000}, "sampling_rate must be a positive integer, not -24000"),
    ],
    ids=["stride-0", "stride-1.5", "rate-true", "rate-negative"],
)
def test_a_model_config_with_impossible_values_is_one_line(
    tmp_path, short_speech_dir, fitted_model, config, message, capsys
):
    model, out = model_with(tmp_path, fitted_model, **config), tmp_path / "out"
    result = snac_hf_here(
        capsys,
        "tokenize",
        "--input_dir",
        str(short_speech_dir),
        "--output_dir",
        str(out),
        "--model",
        str(model),
    )
    line = one_error_line(result.stderr, result.returncode)
    assert f"{model / 'config.json'}" in line and message in line
    assert not out.exists()  # not even .snac_hf/


@pytest.mark.parametrize("value", ["inf", "nan"])
def test_a_segment_length_that_is_not_finite_is_one_line(tmp_path, value, capsys):
    result = snac_hf_here(
        capsys,
        "tokenize",
        "--input_dir",
        str(tmp_path),
        "--output_dir",
        str(tmp_path / "o"),
        "--segment_length",
        value,
    )
    assert f"--segment_length must be a finite number of seconds, not {value}" in one_error_line(
        result.stderr, result.returncode
    )


def test_integer_weights_and_loading_scripts_are_refused(tmp_path, short_speech_dir, capsys):
    import torch

    from snac_hf.codec.offline import seeded_snac

    snac, _ = seeded_snac()
    checkpoint = tmp_path / "int.pt"
    torch.save({k: v.to(torch.int64) for k, v in snac.state_dict().items()}, checkpoint)
    out = tmp_path / "out"
    result = snac_hf_here(
        capsys, "tokenize", "--input_dir", str(short_speech_dir), "--output_dir", str(out),
        "--model", "hubertsiuzdak/snac_24khz", "--checkpoint", str(checkpoint),
    )  # fmt: skip
    line = one_error_line(result.stderr, result.returncode)
    assert "weights are not floating point" in line and "torch.int64" in line and not out.exists()

    scripted = tmp_path / "scripted"
    scripted.mkdir()
    (scripted / "scripted.py").write_text("import datasets\n")
    result = snac_hf_here(capsys, "tokenize", "--dataset", str(scripted), "--output_dir", str(out))
    line = one_error_line(result.stderr, result.returncode)
    assert "holds a dataset loading script (scripted.py)" in line and not out.exists()
