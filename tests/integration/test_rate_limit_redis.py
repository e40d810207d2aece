"""The per-key rate limit is one atomic Redis script: exact across threads and processes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from apps.core.ratelimit import rate_limit_take

pytestmark = pytest.mark.redis


def test_concurrent_takes_never_exceed_the_limit():
    with ThreadPoolExecutor(max_workers=16) as pool:
        decisions = list(pool.map(lambda _: rate_limit_take("t:exact", limit=25), range(200)))

    assert sum(d.allowed for d in decisions) == 25
    assert all(d.retry_after >= 1 for d in decisions if not d.allowed)


def test_buckets_are_independent_per_key():
    for _ in range(3):
        rate_limit_take("t:a", limit=3)

    assert not rate_limit_take("t:a", limit=3).allowed
    assert rate_limit_take("t:b", limit=3).allowed
