"""Routing rules evaluated by several processes at once (SPEC §1: several workers against
one PostgreSQL and Redis): each firing opens once and closes once, so an action is applied
once and undone once, however the evaluations interleave."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection, connections
from django.utils import timezone

from apps.routing.actions import firing_open
from apps.routing.metrics import Sample
from apps.routing.models import RuleFiring
from tests.factories.routing import market_create, rule_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parents[2]
# Each worker evaluates at the given instant, then three hours later (the window emptied:
# the firing closes and is undone), and so on: holds, clears, holds, clears, holds, ...
WORKER = """
import django, sys
from datetime import datetime, timedelta
django.setup()
from apps.routing.evaluation import rules_evaluate
base = datetime.fromisoformat(sys.argv[1])
for i in range(8):
    rules_evaluate(now=base + timedelta(hours=3 * (i % 2)))
"""


def test_two_threads_opening_the_same_firing_apply_it_once():
    market = market_create()
    rule = rule_create(action="lower_priority", action_value=Decimal("2"))
    barrier = threading.Barrier(2)
    results = []

    def open_one():
        try:
            barrier.wait(timeout=10)
            results.append(firing_open(rule=rule, target_id=market.contract.pk,
                                       sample=Sample(Decimal(1), 20), now=timezone.now()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=open_one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(r is None for r in results) == [False, True]
    market.contract.refresh_from_db()
    assert market.contract.priority == 3
    assert RuleFiring.objects.count() == 1


@pytest.mark.redis
def test_two_evaluator_processes_sharing_redis_apply_and_undo_exactly_once():
    market = market_create()
    rule_create(action="lower_priority", action_value=Decimal("2"))
    market.posts("rejected", 20, ago=timedelta(minutes=1))
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "leadexchange.settings",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    assert env.get("REDIS_URL")  # the workers share the tests' Redis, as deployed
    now = timezone.now().isoformat()
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, now], cwd=REPO, env=env)
               for _ in range(2)]
    assert [w.wait(timeout=120) for w in workers] == [0, 0]

    market.contract.refresh_from_db()
    firings = list(RuleFiring.objects.all())
    still_open = [f for f in firings if f.closed_at is None]
    # opened and closed by turns, never two at once: every firing lowered the priority and
    # every closed one put it back, so it is lowered exactly while a firing is open
    assert firings and len(still_open) <= 1
    assert all(f.applied for f in firings)
    assert all(f.undone for f in firings if f.closed_at is not None)
    assert market.contract.priority == 5 - 2 * len(still_open)
