"""Hours of real recorded speech, offline: a local corpus built from Debian packages.

The Hub is unreachable on the development machines, but Debian's mirror is not, and four Debian
packages carry recorded human speech:

| package | what | language(s) | about |
|---|---|---|---|
| fillets-ng-data-cs | game dialogue (Fish Fillets NG), many voices | Czech | 1.76 h |
| fillets-ng-data-nl | the same dialogue, Dutch voices | Dutch | 1.60 h |
| klettres-data | letters and syllables read aloud | 20+ languages | 0.86 h |
| ktuberling-data | single words read aloud | 20+ languages | 0.54 h |

For each package: `apt-get download` (no installation, no root needed beyond apt's cache) and
`dpkg-deb -x` into `--cache_dir`; then `corpus/<package>/<language>/<name>` links to every audio
file in it, and `corpus/metadata.csv` (the `audiofolder` convention: `file_name` relative to the
folder) lists each file with its package, language, speaker (where the file name says: Fish Fillets
names lines `<level>-<character>-<line>`, so the speaker is the language plus the character code;
elsewhere empty), duration (header) and license. `snac-hf tokenize --input_dir corpus
--keep_columns package language speaker license` carries those columns into the token set, where
`snac-hf evidence --split_by speaker` can use them.

Everything is cached: a second run downloads nothing. The audio is never committed (it lives in
the cache, GPL-2+ like the games it comes from).

    python bench/speech_corpus.py [--cache_dir ~/.cache/snac_hf/speech_corpus] [--packages ...]

Prints the corpus folder and its hours.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

AUDIO_SUFFIXES = (".ogg", ".wav", ".opus")


@dataclass(frozen=True)
class Package:
    """One Debian package of speech: where its audio lies and how to read language/speaker."""

    name: str
    #: Path inside the package to the folder whose subfolders hold the audio.
    root: str
    #: "level/<lang>/file" (Fish Fillets) or "<lang>/.../file" (KDE edu games).
    language_at: str
    license: str


PACKAGES = {
    p.name: p
    for p in (
        Package("fillets-ng-data-cs", "usr/share/games/fillets-ng/sound", "level", "GPL-2+"),
        Package("fillets-ng-data-nl", "usr/share/games/fillets-ng/sound", "level", "GPL-2+"),
        Package("klettres-data", "usr/share/klettres", "top", "GPL-2+"),
        Package("ktuberling-data", "usr/share/ktuberling/sounds", "top", "GPL-2+"),
    )
}
FIELDS = ("file_name", "package", "language", "speaker", "duration", "license")


class RecipeError(RuntimeError):
    """A step of the recipe cannot run here; the message says what to do."""


def fetch(package: Package, cache_dir: Path) -> Path:
    """The package extracted under `cache_dir/extract/<name>` (downloaded and extracted once)."""
    extracted = cache_dir / "extract" / package.name
    if (extracted / ".complete").exists():
        return extracted
    debs = cache_dir / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    deb = _downloaded(package.name, debs)
    if deb is None:
        if shutil.which("apt-get") is None:
            raise RecipeError("apt-get not found: this recipe needs a Debian/Ubuntu machine")
        result = subprocess.run(
            ["apt-get", "download", package.name], cwd=debs, capture_output=True, text=True
        )
        deb = _downloaded(package.name, debs)
        if result.returncode != 0 or deb is None:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise RecipeError(f"apt-get download {package.name} failed ({last}); run `apt-get update` first")
    if extracted.exists():
        shutil.rmtree(extracted)
    extracted.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(extracted)], check=True)
    (extracted / ".complete").touch()
    return extracted


def _downloaded(name: str, debs: Path) -> Path | None:
    found = sorted(debs.glob(f"{name}_*.deb"))
    return found[-1] if found else None


def speech_files(package: Package, extracted: Path) -> list[tuple[Path, str, str, Path]]:
    """(file, language, speaker, name in the corpus) of every audio file of `package`, by path.

    The name in the corpus is `<language>/<the file's path with the language folder left out>`."""
    root = extracted / package.root
    rows = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in AUDIO_SUFFIXES or not path.is_file():
            continue
        parts = path.relative_to(root).parts
        if package.language_at == "level":  # sound/<level>/<lang>/<level>-<character>-<line>.ogg
            language = parts[1] if len(parts) == 3 else ""
            fields = path.stem.split("-")
            speaker = f"{language}:{fields[1]}" if language and len(fields) >= 3 else ""
            inner = Path(parts[0], *parts[2:]) if language else Path(*parts)
        else:  # <lang>/[...]/<word>.ogg
            language, speaker = (parts[0] if len(parts) >= 2 else ""), ""
            inner = Path(*parts[1:]) if language else Path(*parts)
        rows.append((path, language, speaker, Path(language or "unknown") / inner))
    return rows


def duration_seconds(path: Path) -> float:
    """Duration from the file header (torchcodec), 0.0 where the header has none."""
    from torchcodec.decoders import AudioDecoder

    return float(AudioDecoder(str(path)).metadata.duration_seconds_from_header or 0.0)


def build(cache_dir: Path, names: list[str]) -> tuple[Path, float]:
    """The corpus folder (links + metadata.csv) for packages `names`, and its hours."""
    corpus = cache_dir / "corpus"
    if corpus.exists():  # rebuilt from the cached extractions: cheap, and never stale
        shutil.rmtree(corpus)
    corpus.mkdir(parents=True)
    seconds = 0.0
    rows = []
    for name in names:
        package = PACKAGES[name]
        extracted = fetch(package, cache_dir)
        for path, language, speaker, inner in speech_files(package, extracted):
            relative = Path(name) / inner
            (corpus / relative).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(path, corpus / relative)
            duration = duration_seconds(path)
            seconds += duration
            rows.append((relative.as_posix(), name, language, speaker, f"{duration:.3f}", package.license))
    with open(corpus / "metadata.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIELDS)
        writer.writerows(rows)
    return corpus, seconds / 3600


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cache_dir",
        default=str(Path.home() / ".cache" / "snac_hf" / "speech_corpus"),
        help="where the packages, their extraction and the corpus folder live",
    )
    parser.add_argument(
        "--packages", nargs="+", default=list(PACKAGES), choices=list(PACKAGES), help="packages to include"
    )
    args = parser.parse_args(argv)
    try:
        corpus, hours = build(Path(args.cache_dir).expanduser(), args.packages)
    except RecipeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{corpus}\t{hours:.2f} h")
    return 0


if __name__ == "__main__":
    sys.exit(main())
