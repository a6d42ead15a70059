"""The row checks every reader shares (`snac_hf.tokenset.row_checks`): durations against code counts
(exact for tokenize's durations, half a sample of slack for others), `n_tokens_scale_k` against the
lists, one line naming the input and the row. Fast: Arrow tables built here, no audio."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from snac_hf.layout import layout_for
from snac_hf.tokenset.json_files import DamagedInputError
from snac_hf.tokenset.row_checks import check_rows, durations_agree
from snac_hf.tokenset.schema import rows_to_table

LAYOUT = layout_for("snac_24khz")


def table(samples: list[int], durations: list[float] | None = None) -> pa.Table:
    rows = [
        {
            "id": f"f{i}",
            "file_path": f"f{i}",
            "duration": (durations[i] if durations else n / LAYOUT.sampling_rate),
            "codes": [np.zeros(m, np.int64) for m in LAYOUT.n_codes(n)],
        }
        for i, n in enumerate(samples)
    ]
    return rows_to_table(rows, LAYOUT.n_scales)


def with_column(t: pa.Table, name: str, values, type_) -> pa.Table:
    return t.set_column(t.schema.get_field_index(name), name, pa.array(values, type_))


def test_tokenize_durations_agree_exactly_at_every_code_boundary():
    """duration = n / rate gives n back for lengths on both sides of each scale's code boundary."""
    per_code = [LAYOUT.samples_per_code(k) for k in range(LAYOUT.n_scales)]
    samples = sorted({m * p + d for p in per_code for m in (1, 7, 4000, 10**6) for d in (-1, 0, 1)})
    check_rows(table(samples), LAYOUT, "set")
    # one sample more or less than a boundary is other codes: refused
    n = 4000 * per_code[0]
    lengths = np.array([LAYOUT.n_codes(n)])
    assert durations_agree(np.array([n / 24000]), lengths, LAYOUT)[0]
    assert not durations_agree(np.array([(n + 1) / 24000]), lengths, LAYOUT)[0]
    # a duration rounded to the nearest sample by another writer is accepted (half a sample of slack)
    assert durations_agree(np.array([(n + 0.49) / 24000]), lengths, LAYOUT)[0]
    assert not durations_agree(np.array([(n + 0.51) / 24000]), lengths, LAYOUT)[0]


@pytest.mark.parametrize(
    ("duration", "message"),
    [
        (
            lambda d: d * 10,
            r"duration 20\.0 s is 480000 samples, whose codes per scale are \(235, 469, 938\), ",
        ),
        (lambda d: -1.0, "duration -1.0 s is negative"),
        (lambda d: float("nan"), "duration nan is not a finite number of seconds"),
        (lambda d: float("inf"), "duration inf is not a finite number of seconds"),
        (lambda d: 1e300, r"duration 1e\+300 s is more audio than codes \(24, 47, 94\) can stand for"),
    ],
)
def test_bad_durations_are_one_line_naming_the_row(duration, message):
    t = table([24000, 48000, 12000])
    bad = [1.0, duration(2.0), 0.5]
    t = with_column(t, "duration", bad, pa.float64())
    with pytest.raises(DamagedInputError, match=f"^set: row 11, file 'f1': {message}") as error:
        check_rows(t, LAYOUT, "set", first_row=10)
    assert "\n" not in str(error.value) and str(error.value).endswith("(scripts/tokenize.py)")


def test_without_a_layout_only_finite_non_negative_durations_are_checked():
    t = with_column(table([24000, 48000]), "duration", [10.0, 20.0], pa.float64())
    check_rows(t, None, "set")
    with pytest.raises(DamagedInputError, match="duration -2.0 s is negative"):
        check_rows(with_column(t, "duration", [1.0, -2.0], pa.float64()), None, "set")


def test_n_tokens_must_be_the_list_lengths():
    t = table([24000, 48000])
    counts = t.column("n_tokens_scale_2").to_numpy().copy()
    counts[1] -= 1
    t = with_column(t, "n_tokens_scale_2", counts, pa.int32())
    with pytest.raises(
        DamagedInputError,
        match=r"set: row 1, file 'f1': n_tokens_scale_2 is 93, but tokens_scale_2 holds 94 codes",
    ):
        check_rows(t, LAYOUT, "set")


def test_missing_columns_and_nulls_skip_their_check():
    t = table([24000, 48000])
    plain = t.drop_columns(["duration", "n_tokens_scale_0", "n_tokens_scale_1", "n_tokens_scale_2", "id"])
    check_rows(plain, LAYOUT, "set")  # Parquet from elsewhere: only the code lists
    check_rows(with_column(t, "duration", [None, 2.0], pa.float64()), LAYOUT, "set")
    no_ids = plain.append_column("duration", pa.array([3.0, 2.0], pa.float64()))
    with pytest.raises(DamagedInputError, match=r"^set: row 0: duration 3\.0 s is 72000 samples"):
        check_rows(no_ids, LAYOUT, "set")
    with pytest.raises(DamagedInputError, match="column 'duration' has type string, expected numbers"):
        check_rows(with_column(t, "duration", ["1", "2"], pa.string()), LAYOUT, "set")
