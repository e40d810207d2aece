"""The circuit breaker's streak stores (issue 10, C18): Redis and the database behave the same
behind ``StreakStorage``."""

from __future__ import annotations

import pytest

from apps.auctions.health.storage import (
    DatabaseStreaks,
    Observation,
    RedisStreaks,
    Streak,
    streak_storage,
)
from apps.buyers.models import Contract
from apps.core.redis_client import redis_get
from tests.factories import BuyerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[pytest.param("database"),
                        pytest.param("redis", marks=pytest.mark.redis)])
def store(request):
    if request.param == "database":
        return DatabaseStreaks()
    return RedisStreaks(redis_get())


@pytest.fixture
def contracts(vertical):
    buyer = BuyerFactory()
    return [Contract.objects.create(buyer=buyer, vertical=vertical, name=f"c{n}").pk
            for n in range(3)]


def seen(contract_id: int, *, slow: bool = False, failed: bool = False) -> Observation:
    return Observation(contract_id, slow=slow, failed=failed, slow_limit=10, error_limit=10)


def test_a_streak_grows_with_each_bad_answer_and_ends_with_a_good_one(store, contracts):
    a, b, c = contracts

    assert store.count([seen(a, slow=True), seen(b, failed=True), seen(c)]) == [
        Streak(a, 1, 0), Streak(b, 0, 1)]
    assert store.count([seen(a, slow=True), seen(b, slow=True, failed=True)]) == [
        Streak(a, 2, 0), Streak(b, 1, 2)]
    assert store.count([seen(a), seen(b, failed=True)]) == [Streak(b, 0, 3)]
    assert store.count([seen(a, slow=True)]) == [Streak(a, 1, 0)]


def test_a_reset_ends_both_streaks(store, contracts):
    a, *_ = contracts
    store.count([seen(a, slow=True, failed=True)] * 3)

    store.reset(a)

    assert store.count([seen(a, failed=True)]) == [Streak(a, 0, 1)]


def test_the_store_follows_the_settings(settings):
    settings.REDIS_URL = ""
    redis_get.cache_clear()
    try:
        assert isinstance(streak_storage(), DatabaseStreaks)
    finally:
        redis_get.cache_clear()


def test_in_the_database_an_auction_of_healthy_buyers_writes_nothing(contracts):
    """Without Redis (the embedded default) the streaks live in the contract rows: when
    every buyer answered well and none had a streak, one read and no UPDATE, which on
    SQLite would take the database's one write turn for nothing. A running streak still
    ends."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    store = DatabaseStreaks()
    a, b, c = contracts
    with CaptureQueriesContext(connection) as queries:
        assert store.count([seen(a), seen(b), seen(c)]) == []
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["SELECT"]

    store.count([seen(a, slow=True), seen(b, failed=True)])
    assert store.count([seen(a), seen(b), seen(c)]) == []
    assert list(Contract.objects.filter(pk__in=contracts).order_by("pk").values_list(
        "consecutive_slow", "consecutive_errors")) == [(0, 0)] * 3


@pytest.mark.redis
def test_on_redis_an_auction_of_healthy_buyers_writes_nothing(contracts):
    """One HMGET and no write when every buyer answered well and had no streak: the
    breaker's counters are not rewritten on every auction."""
    client = redis_get()
    store = RedisStreaks(client)
    a, b, c = contracts
    store.count([seen(a, slow=True), seen(b)])
    assert client.hgetall("health:streaks") == {f"{a}:s".encode(): b"1"}
    store.count([seen(a)])  # the streak ends: its field goes
    assert not client.exists("health:streaks")

    # INFO commandstats counts the whole server: of three tries, one without any other
    # client's hash write in between is enough (a script that writes fails all three)
    unchanged = []
    for _ in range(3):
        before = _writes(client)
        assert store.count([seen(a), seen(b), seen(c)]) == []
        unchanged.append(_writes(client) == before)
    assert any(unchanged)
    assert not client.exists("health:streaks")


def _writes(client) -> tuple[int, int]:
    stats = client.info("commandstats")
    return tuple(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("hset", "hdel"))
