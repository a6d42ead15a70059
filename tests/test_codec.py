"""Codec loading: model folders of all three architectures, checkpoints, refusals, offline Hub."""

import os

import numpy as np
import pytest
import torch

from snac_hf.codec.encode import SnacEncoder
from snac_hf.codec.load import CodecLoadError, load_codec
from snac_hf.codec.offline import build_random_model, seeded_snac


@pytest.mark.parametrize(
    "model", ["hubertsiuzdak/snac_24khz", "hubertsiuzdak/snac_32khz", "hubertsiuzdak/snac_44khz"]
)
def test_each_architecture_loads_and_trims_codes(tmp_path, model):
    folder = build_random_model(tmp_path / "m", model)
    codec = load_codec(str(folder))
    rate = codec.layout.sampling_rate
    assert codec.config["sampling_rate"] == rate
    assert codec.notice and "NOT meaningful" in codec.notice
    n_samples = rate // 2 + 123  # not a multiple of anything
    samples = np.random.default_rng(0).standard_normal(n_samples).astype(np.float32) * 0.1
    [codes] = SnacEncoder(codec).encode_files([samples], codec.layout.segment_samples(4.0), batch_size=4)
    assert [len(c) for c in codes] == list(codec.layout.n_codes(n_samples))
    assert len(codes) == (3 if rate == 24000 else 4)
    assert all(c.dtype == np.int16 and c.min() >= 0 and c.max() < 4096 for c in codes)


def _same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: sd,
        lambda sd: {"model": sd, "epoch": 7, "optimizer": {"lr": torch.tensor(1e-4)}},
        lambda sd: {"state_dict": {f"module.{k}": v for k, v in sd.items()}, "step": 100},
    ],
    ids=["plain", "nested-model", "nested-state_dict-module-prefix"],
)
def test_checkpoint_on_known_architecture(tmp_path, wrap):
    trained, _ = seeded_snac("hubertsiuzdak/snac_24khz", seed=123)
    path = tmp_path / "best_model.pt"
    torch.save(wrap(trained.state_dict()), path)
    # the Hub id is only used for its (known) architecture: no download happens
    codec = load_codec("hubertsiuzdak/snac_24khz", checkpoint=str(path))
    assert _same_weights(codec.model, trained)
    assert codec.checkpoint == str(path)
    assert codec.describe()["weights"] == "checkpoint"


class _RunsCode:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_checkpoint_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    payload = _RunsCode()
    payload.marker = marker
    path = tmp_path / "evil.pt"
    torch.save({"model": payload}, path)
    with pytest.raises(CodecLoadError, match="refused to load"):
        load_codec("hubertsiuzdak/snac_24khz", checkpoint=str(path))
    assert not marker.exists()


def test_checkpoint_of_another_architecture_is_a_clear_error(tmp_path):
    other, _ = seeded_snac("hubertsiuzdak/snac_32khz")
    path = tmp_path / "ckpt.pt"
    torch.save(other.state_dict(), path)
    with pytest.raises(CodecLoadError, match="does not match the SNAC architecture"):
        load_codec("hubertsiuzdak/snac_24khz", checkpoint=str(path))


def test_missing_checkpoint_and_bad_folder(tmp_path):
    with pytest.raises(CodecLoadError, match="does not exist"):
        load_codec("hubertsiuzdak/snac_24khz", checkpoint=str(tmp_path / "nope.pt"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(CodecLoadError, match="no config.json"):
        load_codec(str(tmp_path / "empty"))


def test_offline_hub_id_says_how_to_pass_a_local_folder():
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    with pytest.raises(CodecLoadError, match="--model DIR"):
        load_codec("hubertsiuzdak/snac_24khz")


def test_safetensors_folder(tmp_path):
    from safetensors.torch import save_file

    folder = build_random_model(tmp_path / "m")
    codec = load_codec(str(folder))
    (folder / "pytorch_model.bin").unlink()
    save_file({k: v.contiguous() for k, v in codec.model.state_dict().items()}, folder / "model.safetensors")
    assert _same_weights(load_codec(str(folder)).model, codec.model)


def test_checkpoint_with_old_weight_norm_keys(tmp_path):
    trained, _ = seeded_snac("hubertsiuzdak/snac_24khz", seed=5)
    old_style = {
        k.replace(".parametrizations.weight.original0", ".weight_g").replace(
            ".parametrizations.weight.original1", ".weight_v"
        ): v
        for k, v in trained.state_dict().items()
    }
    assert any(k.endswith(".weight_g") for k in old_style)
    torch.save({"generator": old_style}, tmp_path / "old.pt")
    codec = load_codec("snac_24khz", checkpoint=str(tmp_path / "old.pt"))
    assert _same_weights(codec.model, trained)


def test_unusable_model_configs_are_one_line_errors_naming_the_file(tmp_path):
    import json

    folder = build_random_model(tmp_path / "m")
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text())
    cases = {
        "[1, 2]": "config.json: expected a JSON object, found a list",
        json.dumps({**config, "bogus": 1}): r"config.json: not a SNAC config \(unknown keys \['bogus'\]",
        json.dumps({k: v for k, v in config.items() if k != "vq_strides"}): r"missing \['vq_strides'\]",
        json.dumps({**config, "vq_strides": "abc"}): "config.json: SNAC cannot be built from it",
        '{"sampling_rate": 24000,': r"config.json: not valid JSON \(.* line 1 column \d+\); re-download",
    }
    for text, message in cases.items():
        config_path.write_text(text)
        with pytest.raises(CodecLoadError, match=message):
            load_codec(str(folder))
    config_path.write_text(json.dumps(config))
    (folder / "snac_hf.json").write_text("{notice")
    with pytest.raises(CodecLoadError, match="snac_hf.json: not valid JSON"):
        load_codec(str(folder))


def test_non_finite_weights_are_refused(tmp_path):
    from conftest import run_in_process

    folder = build_random_model(tmp_path / "m")
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    key = next(k for k in state if k.startswith("quantizer."))
    state[key] = state[key].clone()
    state[key].view(-1)[:3] = torch.tensor([float("nan"), float("inf"), -float("inf")])
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(
        CodecLoadError, match=f"pytorch_model.bin: weight '{key}' holds 3 NaN or infinite values"
    ):
        load_codec(str(folder))
    torch.save({"model": state}, tmp_path / "nan.pt")
    with pytest.raises(CodecLoadError, match="nan.pt: weight .* holds 3 NaN or infinite values"):
        load_codec("hubertsiuzdak/snac_24khz", checkpoint=str(tmp_path / "nan.pt"))
    (tmp_path / "ids.json").write_text(str([128266 + 4096 * p for p in range(7)]))  # 1 Orpheus frame
    result = run_in_process(  # `python scripts/decode.py ...` in this process: a refusal
        "decode",
        "--format",
        "orpheus",
        "--ids",
        str(tmp_path / "ids.json"),
        "--model",
        str(folder),
        "--out_dir",
        str(tmp_path),
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if "error:" in line] == [
        result.stderr.strip().splitlines()[-1]
    ]
    assert "NaN or infinite" in result.stderr
