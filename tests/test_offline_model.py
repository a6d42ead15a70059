"""The offline stand-in codecs: fitted codebooks spread codes like a real codec; random ones collapse."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from snac import SNAC

from snac_hf.codec.codebook_fit import encoder_latents, fit_codebooks, spherical_kmeans
from snac_hf.codec.encode import SnacEncoder
from snac_hf.codec.load import load_codec
from snac_hf.layout import SNAC_CONFIGS
from snac_hf.sources.audio import decode_audio
from snac_hf.sources.folder import folder_dataset


def test_fitted_model_uses_over_1000_codes_per_scale_on_the_bundled_speech(speech_token_set):
    meta = json.loads((speech_token_set / "metadata.json").read_text())
    unique = [meta["scales"][f"scale_{k}"]["unique_tokens"] for k in range(3)]
    assert min(unique) >= 1000, unique
    assert meta["codec"]["weights"] == "seeded-encoder+fitted-codebooks"
    assert "do not equal" in meta["codec"]["notice"]


def test_random_model_collapses_on_real_speech(random_model, short_speech_dir):
    """Why the fitted model exists: seeded-random SNAC puts real speech on a few dozen codes."""
    codec = load_codec(str(random_model))
    recordings = [decode_audio(v, 24000) for v in folder_dataset(str(short_speech_dir))["audio"]]
    codes = SnacEncoder(codec).encode_files(recordings, codec.layout.segment_samples(4.0), 8)
    unique = [len(np.unique(np.concatenate([c[k] for c in codes]))) for k in range(3)]
    assert max(unique) < 100, unique


def test_spherical_kmeans_finds_separated_directions():
    generator = torch.Generator().manual_seed(0)
    centers = F.normalize(torch.eye(8, dtype=torch.float64)[:4] + 0.05, dim=1)
    points = torch.cat(
        [c + 0.01 * torch.randn(50, 8, generator=generator, dtype=torch.float64) for c in centers]
    )
    points = F.normalize(points, dim=1)
    found = spherical_kmeans(points, 4, iterations=10, seed=1)
    assert torch.allclose(found.norm(dim=1), torch.ones(4, dtype=torch.float64))
    # every true direction has a centroid within 0.01 cosine distance
    assert (centers @ found.T).max(dim=1).values.min() > 0.99
    assert torch.equal(found, spherical_kmeans(points, 4, iterations=10, seed=1))  # deterministic
    with pytest.raises(ValueError, match="cannot fit 300 codes"):
        spherical_kmeans(points, 300, iterations=1, seed=0)


def test_fit_codebooks_spreads_codes_and_is_deterministic(short_speech_dir):
    """A real fit on real speech, with a 64-code codebook so that it runs in seconds."""
    config = dict(SNAC_CONFIGS["hubertsiuzdak/snac_24khz"], codebook_size=64)
    recordings = [decode_audio(v, 24000) for v in folder_dataset(str(short_speech_dir))["audio"]][:3]

    def fitted() -> SNAC:
        torch.manual_seed(0)
        model = SNAC(**config).eval()
        latents = encoder_latents_of(model, recordings)
        fit_codebooks(model, latents, iterations=5, seed=0)
        return model

    def encoder_latents_of(model, recs):
        with torch.inference_mode():
            return [model.encoder(model.preprocess(torch.from_numpy(r).view(1, 1, -1))) for r in recs]

    first, second = fitted(), fitted()
    for a, b in zip(first.quantizer.quantizers, second.quantizer.quantizers):
        assert torch.equal(a.codebook.weight, b.codebook.weight)
    torch.manual_seed(0)
    untouched = SNAC(**config).eval()
    with torch.inference_mode():
        audio = first.preprocess(torch.from_numpy(np.concatenate(recordings)).view(1, 1, -1))
        fitted_codes = first.encode(audio)
        random_codes = untouched.encode(audio)
    used_fitted = [len(torch.unique(c)) for c in fitted_codes]
    used_random = [len(torch.unique(c)) for c in random_codes]
    assert all(f >= 30 for f in used_fitted), used_fitted  # half or more of the 64 codes are used
    assert sum(used_fitted) > 2 * sum(used_random), (used_fitted, used_random)


def test_encoder_latents_do_not_depend_on_worker_count(short_speech_dir):
    recordings = [decode_audio(v, 24000) for v in folder_dataset(str(short_speech_dir))["audio"]][:2]
    one = encoder_latents("hubertsiuzdak/snac_24khz", 0, recordings, workers=1)
    two = encoder_latents("hubertsiuzdak/snac_24khz", 0, recordings, workers=2)
    assert all(torch.equal(a, b) for a, b in zip(one, two))


#: The offline models' weights, on every machine (a different digest means another codec: every
#: pinned figure and EVIDENCE.md's runs rest on these exact weights).
FITTED_WEIGHTS_SHA256 = "09fb6d082d132bbedbe7c39d56db72181c888859de7fbd4d00657442294b0e1d"
RANDOM_WEIGHTS_SHA256 = "c5dc4643ee9936c902f2f6613062d9a49fc720bbe4a2bd199b8febde332256db"


def test_the_offline_models_are_bit_identical_everywhere(tmp_path, fitted_model):
    import hashlib

    from snac_hf.codec.codebook_fit import CODEBOOKS_FILE, CODEBOOKS_SHA256, build_committed_model
    from snac_hf.codec.offline import build_random_model, weights_digest

    assert hashlib.sha256(CODEBOOKS_FILE.read_bytes()).hexdigest() == CODEBOOKS_SHA256
    assert np.load(CODEBOOKS_FILE).shape == (3, 4096, 8)
    for folder, expected in (
        (build_committed_model(tmp_path / "fitted"), FITTED_WEIGHTS_SHA256),
        (build_random_model(tmp_path / "random"), RANDOM_WEIGHTS_SHA256),
    ):
        marker = json.loads((folder / "snac_hf.json").read_text())
        assert marker["weights_sha256"] == expected
        assert weights_digest(load_codec(str(folder)).model) == expected  # what loads is what was pinned
    # the folder set-up cached (tests/conftest.py's fitted_model) is the same model
    assert (
        json.loads((Path(fitted_model) / "snac_hf.json").read_text())["weights_sha256"]
        == FITTED_WEIGHTS_SHA256
    )


def test_damaged_committed_codebooks_are_refused(tmp_path, monkeypatch):
    from snac_hf.codec import codebook_fit

    damaged = tmp_path / "codebooks.npy"
    data = bytearray(codebook_fit.CODEBOOKS_FILE.read_bytes())
    data[-1] ^= 1
    damaged.write_bytes(bytes(data))
    monkeypatch.setattr(codebook_fit, "CODEBOOKS_FILE", damaged)
    with pytest.raises(ValueError, match="not the committed codebooks .*git checkout -- snac_hf/codec/data"):
        codebook_fit.build_committed_model(tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_offline_short_names_are_the_cached_folders(tmp_path, monkeypatch, fitted_model, random_model):
    """Issue 31 item 10: `--model offline` (and `offline-random`) instead of the cache path; a folder
    of that name stays a path; an offline model not built yet is one line saying how to build it."""
    from snac_hf.codec.model_folder import resolve_model

    assert resolve_model("offline") == str(fitted_model)
    assert resolve_model("offline-random") == str(random_model)
    assert resolve_model("hubertsiuzdak/snac_24khz") == "hubertsiuzdak/snac_24khz"
    assert load_codec("offline").name == str(fitted_model)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "offline").mkdir()
    assert resolve_model("offline") == "offline"
    monkeypatch.setenv("SNAC_HF_HOME", str(tmp_path / "empty"))
    with pytest.raises(
        ValueError, match=r"^--model offline-random: .* run `snac-hf offline-model --random`$"
    ):
        resolve_model("offline-random")
