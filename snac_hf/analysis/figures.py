"""How numbers are shown in the Markdown and console reports (None shows as a dash)."""

from __future__ import annotations

DASH = "–"


def count(value: int | float | None) -> str:
    return DASH if value is None else f"{round(value):,}"


def percent(value: float | None, digits: int = 1) -> str:
    return DASH if value is None else f"{100 * value:.{digits}f}%"


def percent_significant(value: float | None, digits: int = 3) -> str:
    """A percentage with `digits` significant digits: a share of millions of possible pairs (bigram
    diversity: distinct bigrams / 4096²) is far below 0.01% and must not read 0.00%."""
    return DASH if value is None else f"{100 * value:.{digits}g}%"


def number(value: float | None, digits: int = 3) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


def duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def distinct(entry: dict, key: str = "distinct") -> str:
    """A distinct count, marked ≈ with its standard error when it is a KMV estimate."""
    if entry["distinct_exact"]:
        return count(entry[key])
    return f"≈{count(entry[key])} (±{percent(entry['distinct_relative_standard_error'], 2)})"


def coverage(value: float | None, max_error: float) -> str:
    """A top-10 coverage; a lower bound when max_error > 0 (true value within +max_error)."""
    if value is None or max_error == 0:
        return percent(value, 2)
    return f"{percent(value, 2)} (+≤{percent(max_error, 2)})"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
