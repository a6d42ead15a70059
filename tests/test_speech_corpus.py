"""bench/speech_corpus.py builds the corpus folder from extracted Debian packages: links, languages,
speakers and header durations in metadata.csv, which the tokenizer carries as columns. The
download step (`apt-get download`) needs the Debian mirror and is not run here: the packages'
extraction is laid out in the cache as `fetch` leaves it, with real speech in it."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import SPEECH

from snac_hf.codec.wav import write_float_wav
from snac_hf.sources.audio import decode_audio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import speech_corpus  # noqa: E402

RATE = 22050


def speech_wav(path: Path, source: str) -> float:
    """A real recording from tests/data/speech as a float WAV at `path`; its duration in seconds."""
    samples = decode_audio({"path": str(SPEECH / source), "bytes": None}, RATE)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_float_wav(path, samples, RATE)
    return len(samples) / RATE


def extracted(cache: Path, package: str, files: dict[str, str]) -> dict[str, float]:
    root = cache / "extract" / package
    durations = {inner: speech_wav(root / inner, source) for inner, source in files.items()}
    (root / ".complete").touch()  # what fetch() leaves after dpkg-deb -x
    (root / "usr/share/doc" / package).mkdir(parents=True)
    (root / "usr/share/doc" / package / "copyright").write_text("not audio")
    return durations


def test_corpus_from_extracted_packages(tmp_path):
    cache = tmp_path / "cache"
    fillets = "usr/share/games/fillets-ng/sound"
    durations = extracted(
        cache,
        "fillets-ng-data-cs",
        {
            f"{fillets}/airplane/cs/let-m-divna.wav": "en_005_001.flac",
            f"{fillets}/airplane/cs/let-v-budrada.wav": "it_016_dir-first.flac",
            f"{fillets}/city/cs/vit-hs-klid1.wav": "ru_034_2.flac",
        },
    )
    durations |= extracted(cache, "klettres-data", {"usr/share/klettres/en/alpha/a.wav": "en_006_002.flac"})

    corpus, hours = speech_corpus.build(cache, ["fillets-ng-data-cs", "klettres-data"])

    with open(corpus / "metadata.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["file_name"] for r in rows] == [
        "fillets-ng-data-cs/cs/airplane/let-m-divna.wav",
        "fillets-ng-data-cs/cs/airplane/let-v-budrada.wav",
        "fillets-ng-data-cs/cs/city/vit-hs-klid1.wav",
        "klettres-data/en/alpha/a.wav",
    ]
    assert [r["speaker"] for r in rows] == ["cs:m", "cs:v", "cs:hs", ""]
    assert [r["language"] for r in rows] == ["cs", "cs", "cs", "en"]
    assert {r["license"] for r in rows} == {"GPL-2+"}
    for row, seconds in zip(rows, durations.values(), strict=True):
        assert float(row["duration"]) == pytest.approx(seconds, abs=1e-3)
        assert (corpus / row["file_name"]).resolve().is_file()
    assert hours == pytest.approx(sum(durations.values()) / 3600, abs=1e-6)
    assert not list(corpus.rglob("copyright"))  # only audio is linked

    # the corpus is rebuilt from the cache: a second build gives the same folder, nothing stale
    (corpus / "stale.wav").write_bytes(b"")
    again, _ = speech_corpus.build(cache, ["fillets-ng-data-cs"])
    assert again == corpus and not (corpus / "stale.wav").exists()
    assert len(list(corpus.rglob("*.wav"))) == 3


def test_missing_package_without_apt_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(speech_corpus.shutil, "which", lambda name: None)
    status = speech_corpus.main(["--cache_dir", str(tmp_path), "--packages", "ktuberling-data"])
    assert status == 2
    assert (
        capsys.readouterr().err.strip()
        == "error: apt-get not found: this recipe needs a Debian/Ubuntu machine"
    )


def test_corpus_columns_reach_the_token_set(tmp_path, fitted_model):
    """metadata.csv is the audiofolder convention: `--keep_columns` carries speaker and language."""
    from conftest import run_script

    cache = tmp_path / "cache"
    fillets = "usr/share/games/fillets-ng/sound"
    extracted(cache, "fillets-ng-data-nl", {f"{fillets}/city/nl/vit-m-x.wav": "en_005_001.flac"})
    corpus, _ = speech_corpus.build(cache, ["fillets-ng-data-nl"])
    out = tmp_path / "tokens"
    done = run_script(
        "scripts/tokenize.py", "--input_dir", str(corpus), "--output_dir", str(out),
        "--model", str(fitted_model), "--keep_columns", "speaker", "language",
        "--no_analysis", "--no_progress",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    from snac_hf.tokenset.load import open_token_set

    tokens = open_token_set(str(out))
    assert tokens["speaker"] == ["nl:m"] and tokens["language"] == ["nl"]
    assert np.isclose(tokens["duration"][0], 26289 / 24000, atol=0.01)
