"""Async leads through a real Celery worker process (Redis broker, PostgreSQL), and a worker
that outlives a restart of its broker's Redis while it is busy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.db import connection

from apps.auctions.services.maintenance import leads_redrive
from apps.leads.models import Lead, LeadStatus
from tests.factories import (
    VerticalFactory,
    consumer_fields,
    sim_contract,
    source_with_key,
    valid_fields,
)
from tests.reliability.conftest import celery_broker_use

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parents[2]
# README, "Supervising the workers": the steps that only serve remote control and monitoring
# are off (nothing here uses them; gossip's teardown is where a broker restart went wrong)
PRODUCTION_OPTIONS = ("--without-gossip", "--without-mingle", "--without-heartbeat")
BROKER = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15").rsplit("/", 1)[0] + "/14"


def worker_start(broker: str, *options: str, **env: str) -> subprocess.Popen:
    """A `celery worker` subprocess (prefork, 2 processes) on the test database."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": broker,
        "HTTP_ALLOWED_NETWORKS": "127.0.0.1/32",
        **env,
    }
    # a file, not a pipe: a pipe nobody reads would stall a chatty worker (closed by worker_stop)
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "leadexchange", "worker", "--pool", "prefork",
         "--concurrency", "2", *options],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    worker.log = log
    return worker


def worker_stop(worker: subprocess.Popen) -> str:
    """Stop ``worker`` (warm shutdown) and return what it logged."""
    if worker.poll() is None:
        worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
    with worker.log:
        worker.log.seek(0)
        return worker.log.read()


@pytest.fixture
def celery_worker_process(settings):
    """A `celery worker` subprocess on the test database and a Redis broker."""
    import redis

    redis.Redis.from_url(BROKER).flushdb()
    worker = worker_start(BROKER, *PRODUCTION_OPTIONS, "--loglevel", "WARNING")
    settings.CELERY_BROKER_URL = BROKER
    celery_broker_use(BROKER)
    yield worker
    worker_stop(worker)


def wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_an_async_lead_is_sold_by_a_celery_worker(api_client, sim_url, celery_worker_process):
    vertical = VerticalFactory(slug="auto-insurance")
    _, key = source_with_key(vertical)
    sim_contract(vertical, sim_url, query="bid=11")

    response = api_client.post(
        "/api/v1/leads?mode=async",
        data=json.dumps({"vertical": "auto-insurance", "fields": valid_fields()}),
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")

    assert response.status_code == 202
    assert response.json()["status"] == "received"
    lead_id = response.json()["id"]
    sold = wait_for(lambda: Lead.objects.get(uuid=lead_id).status == LeadStatus.SOLD)
    if not sold:
        pytest.fail(f"lead not sold; worker said:\n{worker_stop(celery_worker_process)}")
    status = api_client.get(f"/api/v1/leads/{lead_id}", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert status.json()["status"] == "sold"


def test_the_worker_outlives_restarts_of_its_brokers_redis_while_busy(
        api_client, sim_url, settings, durable_redis):
    """The worker as README's production section runs it; the broker's Redis restarts three
    times under it — mid-task, again while the worker is reconnecting, and for a longer
    outage. The worker reconnects by itself each time and stays up, and every lead is sold:
    by the worker, or — for a message a restart lost (the unacked one being restored while
    Redis was down) — after the sweeper, as beat runs it, queued it again. The broker's Redis
    keeps an append-only file, as production's should, so what was queued survives."""
    vertical = VerticalFactory(slug="auto-insurance")
    _, key = source_with_key(vertical)
    sim_contract(vertical, sim_url, query="bid=11&latency_ms=300", timeout_ms=3000,
                 slow_threshold_ms=5000)
    broker = durable_redis.url(0)
    settings.CELERY_BROKER_URL = broker
    celery_broker_use(broker)
    worker = worker_start(broker, *PRODUCTION_OPTIONS, "--loglevel", "INFO", REDIS_URL="")
    submitted: list[str] = []

    def submit(count: int) -> None:
        for _ in range(count):
            response = api_client.post(
                "/api/v1/leads?mode=async",
                data=json.dumps({"vertical": "auto-insurance",
                                 "fields": consumer_fields(len(submitted))}),
                content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")
            assert response.status_code == 202, response.content
            submitted.append(response.json()["id"])

    def all_sold() -> bool:
        return Lead.objects.filter(uuid__in=submitted, status=LeadStatus.SOLD).count() == len(
            submitted)

    try:
        submit(10)
        assert wait_for(lambda: Lead.objects.filter(status=LeadStatus.SOLD).exists(), 60)
        durable_redis.stop()  # some auctions running, others still queued
        time.sleep(1)
        durable_redis.start()
        time.sleep(2.5)  # the worker is reconnecting (its first retry is after 2 s)
        durable_redis.stop()
        durable_redis.start()
        submit(5)
        time.sleep(1)
        durable_redis.stop()
        time.sleep(6)
        durable_redis.start()
        submit(5)
        wait_for(all_sold, 60)
        settings.LEAD_REDRIVE_RECEIVED_S = 0
        leads_redrive()  # what beat runs every 30 s
        sold = wait_for(all_sold, 60)
        alive = worker.poll() is None
    finally:
        log = worker_stop(worker)
    statuses = sorted(Lead.objects.filter(uuid__in=submitted).values_list("status", flat=True))
    assert "Unrecoverable error" not in log, log
    assert "Error on restarting" not in log, log
    assert alive, log
    assert sold, (statuses, log)
