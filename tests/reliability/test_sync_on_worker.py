"""``SYNC_AUCTION_EXECUTOR=celery``: a sync lead's auction runs on a Celery worker while its
request waits for the worker's signal (Redis), so web and auction capacity scale apart."""

from __future__ import annotations

import json
import time

import pytest

from apps.leads.models import Lead, LeadStatus
from tests.factories import VerticalFactory, consumer_fields, sim_contract, source_with_key
from tests.reliability.conftest import celery_broker_use
from tests.reliability.test_celery_worker import wait_for
from tests.reliability.workers import PRODUCTION_OPTIONS, worker_start, worker_stop

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def submit(api_client, key, n):
    return api_client.post(
        "/api/v1/leads?mode=sync",
        data=json.dumps({"vertical": "auto-insurance", "fields": consumer_fields(n)}),
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.fixture
def on_workers(settings, monkeypatch, private_redis):
    """The executor switched to Celery, on a broker of its own (no other test's worker can
    take its tasks); the web process's own auction pool must not run."""
    settings.RUN_TASKS_INLINE = False
    settings.SYNC_AUCTION_EXECUTOR = "celery"
    settings.CELERY_BROKER_URL = private_redis.url(0)
    celery_broker_use(settings.CELERY_BROKER_URL)

    def here(*args, **kwargs):
        raise AssertionError("the auction ran in the web process")

    monkeypatch.setattr("apps.leads.services.background_submit", here)
    return settings


def test_a_sync_lead_is_auctioned_on_a_worker_and_answered_within_its_budget(
        api_client, sim_url, on_workers):
    vertical = VerticalFactory(slug="auto-insurance")
    _, key = source_with_key(vertical, time_budget_ms=3000)
    sim_contract(vertical, sim_url, query="bid=11")
    worker = worker_start(on_workers.CELERY_BROKER_URL, *PRODUCTION_OPTIONS, "--loglevel",
                          "WARNING", REDIS_URL=on_workers.REDIS_URL)
    try:
        # the worker is up once it has sold an async lead (starting one takes seconds on a
        # busy machine: longer than a sync lead's budget)
        warm = api_client.post(
            "/api/v1/leads?mode=async",
            data=json.dumps({"vertical": "auto-insurance", "fields": consumer_fields(99)}),
            content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")
        up = wait_for(lambda: Lead.objects.get(uuid=warm.json()["id"]).status
                      == LeadStatus.SOLD, timeout=60)
        if up:
            first = submit(api_client, key, 0)
            started = time.monotonic()
            answers = [submit(api_client, key, n) for n in range(1, 6)]
            elapsed = time.monotonic() - started
    finally:
        log = worker_stop(worker)
    assert up, f"the worker never came up; it said:\n{log[-3000:]}"

    for response in [first, *answers]:
        assert response.status_code == 200, (response.json(), log[-3000:])
        assert response.json()["status"] == "sold"
    assert Lead.objects.filter(status=LeadStatus.SOLD).count() == 7
    assert elapsed < 5 * 1.0  # answered on the worker's signal, not at the budget's end


def test_with_no_broker_to_take_it_the_web_process_runs_the_auction(
        api_client, sim_url, settings):
    settings.RUN_TASKS_INLINE = False
    settings.SYNC_AUCTION_EXECUTOR = "celery"
    closed = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_URL = closed
    celery_broker_use(closed)
    vertical = VerticalFactory(slug="auto-insurance")
    _, key = source_with_key(vertical, time_budget_ms=20000)
    sim_contract(vertical, sim_url, query="bid=11")

    response = submit(api_client, key, 0)

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "sold"
