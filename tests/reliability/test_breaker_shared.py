"""The circuit breaker's streak is shared by every process (SPEC §1: no state that lives in
one process's memory may decide an outcome): two worker processes, five slow answers each,
pause the contract together."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from apps.auctions.models import HealthEvent
from apps.buyers.models import Contract
from tests.factories import BuyerFactory, VerticalFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parents[2]
WORKER = """
import django, sys
django.setup()
from apps.auctions.health import Observation, health_observe
contract_id, limit = int(sys.argv[1]), int(sys.argv[2])
for _ in range(5):
    health_observe([Observation(contract_id, slow=True, failed=False, slow_limit=limit,
                                error_limit=limit)])
"""


def two_workers(contract: Contract, *, redis: bool, limit: int = 10) -> None:
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "leadexchange.settings",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    if not redis:
        env.pop("REDIS_URL", None)
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(contract.pk), str(limit)],
                                cwd=REPO, env=env) for _ in range(2)]
    assert [w.wait(timeout=60) for w in workers] == [0, 0]


@pytest.fixture
def contract():
    return Contract.objects.create(buyer=BuyerFactory(), name="watched",
                                   vertical=VerticalFactory(slug="auto-insurance", schema=[]))


@pytest.mark.redis
def test_two_processes_share_the_streak_in_redis(contract):
    two_workers(contract, redis=True)

    contract.refresh_from_db()
    assert contract.auto_paused_at is not None
    assert HealthEvent.objects.filter(contract=contract, kind="paused").count() == 1


def test_two_processes_share_the_streak_in_the_database(contract):
    two_workers(contract, redis=False)

    contract.refresh_from_db()
    assert contract.auto_paused_at is not None and contract.consecutive_slow == 10


def test_ten_slow_answers_do_not_reach_a_limit_of_eleven(contract):
    """Control: the count is exact, not merely large — one short of the limit is no pause."""
    two_workers(contract, redis=False, limit=11)

    contract.refresh_from_db()
    assert contract.auto_paused_at is None and contract.consecutive_slow == 10
