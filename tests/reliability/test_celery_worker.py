"""Async leads through a real Celery worker process (Redis broker, PostgreSQL), and a worker
that outlives a restart of its broker's Redis while it is busy."""

from __future__ import annotations

import json
import os
import time

import pytest

from apps.leads.models import Lead, LeadStatus
from tests.factories import VerticalFactory, sim_contract, source_with_key, valid_fields
from tests.reliability.conftest import celery_broker_use
from tests.reliability.market import (
    REDRIVE_AUCTIONING_S,
    REDRIVE_RECEIVED_S,
    assert_market_settled,
    lead_accept,
    market_create,
    market_statuses,
    sweeper_run,
    undecided,
)
from tests.reliability.workers import PRODUCTION_OPTIONS, wait_for, worker_start, worker_stop

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

BROKER = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15").rsplit("/", 1)[0] + "/14"


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
    outage. The worker reconnects by itself each time and stays up, and every lead is sold
    (``assert_market_settled``: none sold twice, the cap exact): by the worker, or — for a
    message a restart lost (the unacked one being restored while Redis was down) — after
    the sweeper, as beat runs it, queued it again. The broker's Redis
    keeps an append-only file, as production's should, so what was queued survives."""
    market = market_create(sim_url)
    broker = durable_redis.url(0)
    settings.CELERY_BROKER_URL = broker
    celery_broker_use(broker)
    worker = worker_start(broker, *PRODUCTION_OPTIONS, "--loglevel", "INFO", REDIS_URL="")

    def submit(count: int) -> None:
        for _ in range(count):
            lead_accept(api_client, market)

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
        # beat's sweeper, thresholds shortened (production: 30 s received, 300 s auctioning;
        # both stay well above an auction's length, so a live auction is never re-driven)
        settings.LEAD_REDRIVE_RECEIVED_S = REDRIVE_RECEIVED_S
        settings.LEAD_REDRIVE_AUCTIONING_S = REDRIVE_AUCTIONING_S
        settled = wait_for(lambda: undecided(market.leads) == 0, 60, every=1.0,
                           tick=sweeper_run)
        alive = worker.poll() is None
    finally:
        log = worker_stop(worker)
    assert "Unrecoverable error" not in log, log
    assert "Error on restarting" not in log, log
    assert alive, log
    assert settled, (market_statuses(market), log)
    assert_market_settled(market)
