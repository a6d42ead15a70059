"""Learning curves of an evidence run (`snac_hf.evidence.learning`): the paired rule at every
checkpoint, at equal training FLOPs (interpolated linearly in log FLOPs between checkpoints) and
where the sign changes; the scale order against frame order, and the share of its gain a windowed
order keeps only where there is one. No torch."""

from __future__ import annotations

import math

import pytest

from snac_hf.evidence.learning import learning_verdict, pair_sentence, window_rows, window_sentence
from snac_hf.evidence.report import window_section

RAW = {0: [900.0, 800.0, 700.0], 1: [902.0, 801.0, 702.0], 2: [901.0, 799.0, 701.0]}
BPE = {0: [910.0, 795.0, 690.0], 1: [913.0, 797.0, 693.0], 2: [911.0, 793.0, 690.0]}


def rows(name: str, bits: dict[int, list[float]], flops: tuple[float, ...]) -> list[dict]:
    """One curve row per seed with checkpoints at 1, 2 and 4 steps (FLOPs as given)."""
    return [
        {
            "tokenization": name,
            "seed": seed,
            "setting": "equal_audio",
            "checkpoints": [
                {"steps": n, "train_flops": f, "bits_per_second": b, "audio_seconds_seen": 10.0 * n}
                for n, f, b in zip((1, 2, 4), flops, values, strict=True)
            ],
        }
        for seed, values in bits.items()
    ]


def test_pairs_at_every_checkpoint_at_equal_flops_and_the_sign_change():
    results = rows("raw-scale", RAW, (100.0, 200.0, 400.0)) + rows("plain-32", BPE, (80.0, 160.0, 320.0))
    found = learning_verdict(
        results, {"plain-32": "raw-scale"}, {"plain-32": 10_000.0, "raw-scale": 10_000.0}
    )
    pair = found["pairs"]["plain-32"]
    assert [p["steps"] for p in pair["at_steps"]] == [1, 2, 4]
    assert [p["differences"] for p in pair["at_steps"]] == [
        [10.0, 11.0, 10.0],
        [-5.0, -4.0, -6.0],
        [-10.0, -9.0, -11.0],
    ]
    assert all(p["supported"] and p["comparable"] for p in pair["at_steps"])
    assert pair["sign_changes_steps"] == [
        {"from": 1, "to": 2, "before": pytest.approx(31 / 3), "after": -5.0}
    ]
    # equal FLOPs: every checkpoint FLOPs of either model inside the range both cover (100..320)
    assert [p["train_flops"] for p in pair["at_flops"]] == [100.0, 160.0, 200.0, 320.0]

    def interpolated(x, xs, ys):  # linear in log(FLOPs) between the two neighbouring checkpoints
        i = max(j for j in range(len(xs) - 1) if xs[j] <= x)
        t = (math.log(x) - math.log(xs[i])) / (math.log(xs[i + 1]) - math.log(xs[i]))
        return ys[i] + t * (ys[i + 1] - ys[i])

    for point in pair["at_flops"]:
        f = point["train_flops"]
        expected = [
            interpolated(f, [80.0, 160.0, 320.0, 640.0], BPE[s] + [0.0])
            - interpolated(f, [100.0, 200.0, 400.0, 800.0], RAW[s] + [0.0])
            for s in (0, 1, 2)
        ]
        assert point["differences"] == pytest.approx(expected)
    at_100 = pair["at_flops"][0]["differences"][0]  # seed 0: bpe between 80 (910) and 160 (795)
    assert at_100 == pytest.approx(910 + math.log2(1.25) * (795 - 910) - 900)
    # at 1 step the BPE model is worse, but it got there with fewer FLOPs: at equal FLOPs it is
    # already better, and stays so (no sign change along FLOPs)
    assert pair["at_flops"][0]["mean"] < 0 and pair["sign_changes_flops"] == []
    said = pair_sentence(pair)
    assert said.startswith("plain-32 vs raw-scale: at 1 steps +1.1% (supported); 2 steps -0.6% (supported)")
    assert (
        "The mean difference changes sign along steps: between 1 steps and 2 steps (+10.3 to -5.0 bits/s)."
        in said
    )
    # a model at its own unigram level makes its points not comparable
    near = learning_verdict(results, {"plain-32": "raw-scale"}, {"plain-32": 920.0, "raw-scale": 10_000.0})
    assert [p["comparable"] for p in near["pairs"]["plain-32"]["at_steps"]] == [False, True, True]
    stats = found["curves"]["raw-scale"]
    assert [(c["steps"], c["train_flops"], c["mean"], c["n"]) for c in stats] == [
        (1, 100.0, 901.0, 3), (2, 200.0, 800.0, 3), (4, 400.0, 701.0, 3)
    ]  # fmt: skip


def test_the_share_of_the_scale_order_gain_a_window_keeps():
    frame = {s: [v + 100.0 for v in values] for s, values in RAW.items()}
    window = {s: [v + 25.0 for v in values] for s, values in RAW.items()}  # keeps 75% of the gain
    results = rows("raw-scale", RAW, (1, 2, 4)) + rows("raw-frame", frame, (1, 2, 4))
    results += rows("raw-window12", window, (1, 2, 4))
    found = window_rows(results, {"raw-window12": 1.024}, "raw-scale", "raw-frame", 10_000.0)
    assert [(r["steps"], r["kept"]["mean"], r["comparable"]) for r in found] == [
        (1, pytest.approx(0.75), True), (2, pytest.approx(0.75), True), (4, pytest.approx(0.75), True)
    ]  # fmt: skip
    assert found[0]["latency_seconds"] == 1.024
    at_unigram = window_rows(results, {"raw-window12": 1.024}, "raw-scale", "raw-frame", 900.0)
    assert not at_unigram[0]["comparable"]
    assert window_sentence(at_unigram, "raw-frame").startswith(
        "raw-window12 (windows of 1.02 s): 1 steps -7.5% against raw-frame (at the unigram level); 2 steps"
    )  # no share of a gain where a model learned nothing more than code frequencies
    table = window_section({"window_gain": at_unigram})
    first = next(line for line in table if line.startswith("| raw-window12 | 1.02 s | 1 |"))
    assert first.endswith("| -7.5% | -10.0% | – (a model at the unigram level) |")  # no bold either
    assert window_section({"window_gain": found})[-2].endswith("| 75% ± 0 [75% to 75%] |")
    assert [r["vs_frame"]["differences"] for r in found] == [[-75.0] * 3] * 3  # paired, window - frame
    assert [r["scale_vs_frame"]["differences"] for r in found] == [[-100.0] * 3] * 3


def test_no_gain_to_keep_where_the_scale_order_is_not_lower_in_every_seed():
    """The v4 case: the scale order's gain at the first checkpoint turns into a loss later; a share of
    a loss ((frame - window) / (frame - scale) with both negative) would read as a gain kept."""
    # against RAW (the scale order): 50, 49, 48 lower at 1 step; 0, -2, +1 at 2 steps; higher at 4
    frame = {0: [950.0, 800.0, 690.0], 1: [951.0, 803.0, 695.0], 2: [949.0, 798.0, 699.0]}
    window = {0: [920.0, 805.0, 700.0], 1: [925.0, 806.0, 703.0], 2: [921.0, 801.0, 704.0]}
    results = rows("raw-scale", RAW, (1, 2, 4)) + rows("raw-frame", frame, (1, 2, 4))
    results += rows("raw-window12", window, (1, 2, 4))
    found = window_rows(results, {"raw-window12": 1.024}, "raw-scale", "raw-frame", 10_000.0)
    # 1 step: the scale order is 50, 49 and 48 lower; the window keeps 30/50, 26/49 and 28/48 of it
    assert found[0]["kept"]["mean"] == pytest.approx((30 / 50 + 26 / 49 + 28 / 48) / 3)
    assert found[0]["scale_vs_frame"]["supported"]
    assert found[1]["kept"] is None and found[2]["kept"] is None  # 2 steps: mixed signs; 4 steps: a loss
    assert found[2]["scale_vs_frame"]["differences"] == [10.0, 7.0, 2.0]
    assert found[2]["vs_frame"]["differences"] == [10.0, 8.0, 5.0]
    said = window_sentence(found, "raw-frame")
    assert said == (
        "raw-window12 (windows of 1.02 s): 1 steps -2.9% against raw-frame (supported), keeps 57% "
        "[53% to 60%] of the scale order's gain (-5.2%); 2 steps +0.5% against raw-frame (supported), "
        "no gain to keep (the scale order -0.0%, mixed signs over seeds); 4 steps +1.1% against "
        "raw-frame (supported), no gain to keep (the scale order +0.9%, higher in every seed)."
    )
    # the order pair itself, on the learning-curve footing like every other pair
    levels = {n: 10_000.0 for n in ("raw-scale", "raw-frame")}
    order = learning_verdict(results, {}, levels, ("raw-scale", "raw-frame"))
    assert [p["differences"] for p in order["order"]["at_steps"]] == [
        [-50.0, -49.0, -48.0], [0.0, -2.0, 1.0], [10.0, 7.0, 2.0]
    ]  # fmt: skip
    assert order["order"]["sign_changes_steps"][-1]["to"] == 4
    assert learning_verdict(results, {}, {}, None)["order"] is None
