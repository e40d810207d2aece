"""Percentiles and summaries of samples (nearest-rank, no interpolation)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (``fraction`` in 0..1); NaN when empty.

    Nearest rank, so p99 of 100 samples is the 99th smallest: with fewer than 100 samples
    p99 is the maximum, which is what a quick run should report rather than a guess.
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = math.ceil(fraction * len(ordered))
    return ordered[min(len(ordered), max(1, rank)) - 1]


def summary(values: Sequence[float]) -> dict[str, float | None]:
    """``n``, ``p50``, ``p99``, ``max`` and ``mean`` of ``values``, rounded to 0.01 (None
    when there are no samples: JSON has no NaN)."""
    if not values:
        return {"n": 0, "p50": None, "p99": None, "max": None, "mean": None}
    return {
        "n": len(values),
        "p50": round(percentile(values, 0.50), 2),
        "p99": round(percentile(values, 0.99), 2),
        "max": round(max(values), 2),
        "mean": round(sum(values) / len(values), 2),
    }
