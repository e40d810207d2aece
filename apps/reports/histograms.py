"""Fixed-bucket histograms: percentiles that survive summing hours together.

A rollup row cannot keep every latency, and percentiles of percentiles are wrong; a histogram
over fixed bucket bounds can be summed across hours, sources and contracts and still answer
"p95 ≈ 180 ms". The answer is interpolated inside the bucket the rank falls in, so its error is
bounded by that bucket's width (buckets grow roughly geometrically, like latencies).
"""

from __future__ import annotations

from collections.abc import Sequence

# Upper bounds in milliseconds; the last bucket holds everything above the last bound.
BOUNDS_MS: tuple[float, ...] = (
    5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000,
    10_000, 30_000, 60_000, 300_000, 3_600_000,
)
SIZE = len(BOUNDS_MS) + 1


def percentile(counts: Sequence[int], q: float) -> float | None:
    """The ``q``-quantile (0–1) in ms, interpolated inside its bucket; None when empty."""
    total = sum(counts)
    if not total:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            low = BOUNDS_MS[index - 1] if index else 0.0
            high = BOUNDS_MS[index] if index < len(BOUNDS_MS) else BOUNDS_MS[-1]
            return round(low + (high - low) * (rank - seen) / count, 1)
        seen += count
    return float(BOUNDS_MS[-1])
