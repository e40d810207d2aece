"""A Redis outage while a real Celery worker runs auctions (issue 10, A1, as found from
outside): the breaker's counters live in Redis, the buyer accepts the post, the counters
cannot be written — the lead is sold all the same, and the worker keeps selling once Redis is
back. PostgreSQL, a real `celery worker`, a private redis-server for the counters."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from apps.auctions.models import Sale
from apps.leads.models import Lead, LeadStatus
from leadexchange.celery import app as celery_app
from tests.factories import VerticalFactory, consumer_fields, sim_contract, source_with_key

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True),
              pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15").rsplit("/", 1)[0] + "/13"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A redis-server of the test's own, to stop and start without touching the shared one."""

    def __init__(self, tmp_path: Path) -> None:
        self.port, self.dir, self.process = free_port(), tmp_path, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_for(self.answers, timeout=10), "private redis-server did not start"

    def answers(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


def wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def counters(tmp_path):
    redis = PrivateRedis(tmp_path)
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture
def worker(settings, counters):
    db = connection.settings_dict
    env = {**os.environ,
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "CELERY_BROKER_URL": BROKER, "REDIS_URL": counters.url,
           "HTTP_ALLOWED_NETWORKS": "127.0.0.1/32"}
    import redis

    redis.Redis.from_url(BROKER).flushdb()
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "leadexchange", "worker", "--pool", "prefork",
         "--concurrency", "1", "--without-heartbeat", "--without-mingle", "--without-gossip",
         "--loglevel", "WARNING"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    settings.CELERY_BROKER_URL = BROKER
    celery_app.conf.broker_url = BROKER
    yield process
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def submit(api_client, key: str, n: int) -> str:
    response = api_client.post(
        "/api/v1/leads?mode=async",
        data=json.dumps({"vertical": "auto-insurance", "fields": consumer_fields(n)}),
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 202, response.content
    return response.json()["id"]


def decided(lead_id: str) -> bool:
    return Lead.objects.get(uuid=lead_id).status not in (LeadStatus.RECEIVED,
                                                         LeadStatus.AUCTIONING)


def test_leads_sold_while_the_breaker_store_is_down_stay_sold(api_client, sim_url, counters,
                                                               worker):
    vertical = VerticalFactory(slug="auto-insurance")
    _, key = source_with_key(vertical)
    contract = sim_contract(vertical, sim_url, query="bid=12")
    counters.stop()  # the breaker's Redis goes away while the worker runs auctions

    during = [submit(api_client, key, n) for n in range(3)]
    if not wait_for(lambda: all(decided(i) for i in during)):
        worker.terminate()
        pytest.fail(f"leads left undecided; worker said:\n{worker.communicate()[0]}")

    for lead_id in during:
        lead = Lead.objects.get(uuid=lead_id)
        assert (lead.status, lead.sale_price) == (LeadStatus.SOLD, 12)
        assert Sale.objects.get(lead=lead).contract_id == contract.pk

    counters.start()  # back, empty: the worker picks it up again
    after = submit(api_client, key, 99)
    assert wait_for(lambda: decided(after))
    assert Lead.objects.get(uuid=after).status == LeadStatus.SOLD
    assert worker.poll() is None, "the worker exited"
