"""evidence.png as a person sees it (`snac_hf.evidence.figures`), drawn from the committed v4 report:
the merge-curve panel zoomed to the trained models (their differences are about 1%), the legend
saying where the unigram level went, and no legend entries without a line. No torch."""

from __future__ import annotations

import json
from pathlib import Path

from snac_hf.evidence.figures import figure

V4 = Path(__file__).resolve().parents[1] / "bench" / "evidence" / "v4" / "evidence.json"


def test_the_v4_figure_panels():
    report = json.loads(V4.read_text())
    axes = figure(report).axes
    steps, flops, compression, bits, cost = axes  # learning curves on top, then the three panels
    assert "steps" in steps.get_title() and "FLOPs" in flops.get_title()
    assert steps.get_ylim()[1] < 1010  # orpheus's first checkpoint (956 bits/s) tops the zoomed axis
    # compression: a log axis cannot place 0 merges, so the windowed rows (0 merges only) get no entry
    names = [t.get_text() for t in compression.get_legend().get_texts()]
    assert names[-1] == "raw codes" and not [n for n in names if n.startswith("plain_w")]
    assert [t.get_text() for t in compression.get_xticklabels()] == ["32", "512"]
    # bits: zoomed to the trained models; the unigram level (1010 bits/s) is off the axis and says so
    low, high = bits.get_ylim()
    trained = [v for st in report["verdict"]["equal_audio"]["stats"].values() for v in (st["min"], st["max"])]
    assert low < min(trained) and max(trained) < high < report["references"]["unigram_bits_per_second"]
    assert "unigram 1010 (above the axis)" in [t.get_text() for t in bits.get_legend().get_texts()]
    assert "Cost" in cost.get_title()
