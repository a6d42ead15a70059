"""Recompute the documented figures that depend on the bundled speech, and rewrite them in place.

    python scripts/readme_figures.py            # tokenize tests/data/speech with --exact, rewrite
    python scripts/readme_figures.py --check    # the same, but only compare: exit 1 if they differ

The figures: the fitted offline model's token statistics on the 40 bundled recordings (distinct
codes, entropy, top-10 coverage and repetition per scale), as `snac_hf.analysis.analyze` computes
them on the bundled speech tokenized with `--exact` (float64: the offline model's weights are the
same on every machine, and float64 codes do not depend on the CPU or its thread count the way
float32 codes do). They live in docs/offline-codec.md
between `<!-- snac_hf:readme:fitted_model:start -->` and `<!-- snac_hf:readme:fitted_model:end -->`;
`tests/test_outputs.py` checks that they equal what `fitted_model_section` gives on the same data.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import textwrap
from pathlib import Path

# scripts/tokenize.py would shadow the standard library's `tokenize`: drop this folder from the path first.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

from snac_hf.tokenset.sections import replace_section  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
README = REPO / "docs" / "offline-codec.md"
SPEECH = REPO / "tests" / "data" / "speech"
SECTION = "readme:fitted_model"


def _per_scale(analysis: dict, value, digits: int, unit: str = "") -> str:
    return " / ".join(f"{value(s):.{digits}f}" for s in analysis["scales"]) + unit


def fitted_model_section(analysis: dict) -> str:
    """The README section: one sentence on what was measured and the fitted model's table row."""
    row = [
        "fitted (`make setup`)",
        " / ".join(str(s["unique_tokens"]) for s in analysis["scales"]),
        _per_scale(analysis, lambda s: s["entropy_bits"], 1),
        _per_scale(analysis, lambda s: 100 * s["top_k_coverage"]["10"], 1, " %"),
        _per_scale(analysis, lambda s: 100 * s["repetition"]["repetition_rate"], 1, " %"),
    ]
    sentence = (
        f"Measured on the {analysis['files']} bundled recordings ({analysis['duration_seconds']:.0f} s; part "
        "of the fit data), tokenized with `--exact` (float64 codes, which do not depend on the "
        "thread count as float32 codes do; "
        "`python scripts/readme_figures.py` recomputes this table, a test checks it):"
    )
    header = "| model | distinct codes per scale | bits/token (entropy) | top-10 coverage | repetition |"
    return "\n".join(
        [textwrap.fill(sentence, 100), "", header, "|---|---|---|---|---|", "| " + " | ".join(row) + " |"]
    )


def readme_section(text: str) -> str | None:
    """The body of the README's fitted-model section (None when the markers are missing)."""
    start, end = f"<!-- snac_hf:{SECTION}:start -->\n", f"\n<!-- snac_hf:{SECTION}:end -->"
    if start not in text or end not in text:
        return None
    return text.split(start, 1)[1].split(end, 1)[0]


def tokenize_bundled_speech(out: Path) -> Path:
    """Tokenize tests/data/speech into `out` with the fitted offline model and `--exact` codes."""
    from snac_hf.codec.codebook_fit import ensure_offline_model
    from snac_hf.codec.load import load_codec
    from snac_hf.job.pipeline import TokenizeSettings, tokenize_dataset
    from snac_hf.sources.folder import folder_dataset

    codec = load_codec(str(ensure_offline_model("fitted", SPEECH)))
    settings = TokenizeSettings(files_per_shard=16, exact=True)
    tokenize_dataset(folder_dataset(str(SPEECH)), codec, str(out), settings, progress=False)
    return out


def compute_section() -> str:
    """Tokenize the bundled speech in a temporary folder, analyze it, return the section."""
    from snac_hf.analysis import analyze

    with tempfile.TemporaryDirectory() as tmp:
        analysis = analyze(str(tokenize_bundled_speech(Path(tmp) / "tokens")))
    return fitted_model_section(analysis)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="only compare with docs/offline-codec.md; exit 1 if it differs"
    )
    args = parser.parse_args(argv)
    section, text = compute_section(), README.read_text()
    if readme_section(text) == section:
        print(f"{README} holds the current figures")
        return 0
    if args.check:
        print(f"{README} differs; current figures:\n{section}\nit has:\n{readme_section(text)}")
        return 1
    README.write_text(replace_section(text, SECTION, section))
    print(f"rewrote the {SECTION} section of {README}:\n{section}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
