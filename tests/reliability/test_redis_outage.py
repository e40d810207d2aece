"""Redis or the Celery broker down: every request still gets a sane answer, never a 500.

- the rate limiter falls back to a per-process bucket, says so once, and goes back to Redis
  when it answers again;
- a lead stored while the broker is down answers 202; its Idempotency-Key retry replays that
  answer; the sweeper enqueues it once the broker is back.

Redis here is a private ``redis-server`` (tests/reliability/conftest.py) stopped and started
by the test; the shared one is never touched."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

import pytest
import redis

from apps.auctions.services.maintenance import leads_redrive
from apps.core import ratelimit
from apps.core.ratelimit import rate_limit_take
from apps.core.redis_client import redis_get
from apps.leads.models import IdempotencyRecord, Lead, LeadStatus
from tests.factories import BuyerFactory, consumer_fields, source_with_key
from tests.reliability.conftest import celery_broker_use, free_port

pytestmark = [pytest.mark.redis]


@pytest.fixture
def limiter_redis(private_redis, settings, monkeypatch):
    """The app's Redis (rate limits) is the private server; Redis is retried at once."""
    settings.REDIS_URL = private_redis.url(0)
    redis_get.cache_clear()
    monkeypatch.setattr(ratelimit, "REDIS_RETRY_S", 0.0, raising=False)
    yield private_redis
    redis_get.cache_clear()


def _records(caplog, event: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith(event)]


def test_the_rate_limit_falls_back_to_this_process_and_back_to_redis(limiter_redis, caplog):
    server = redis.Redis.from_url(limiter_redis.url(0))
    assert rate_limit_take("source-key:1", limit=2).allowed
    assert server.exists("rl:source-key:1")

    limiter_redis.stop()
    with caplog.at_level(logging.INFO, logger="apps.core.ratelimit"):
        decisions = [rate_limit_take("source-key:2", limit=2) for _ in range(4)]

        assert [d.allowed for d in decisions] == [True, True, False, False]  # still a limit
        assert decisions[2].retry_after >= 1
        [warning] = _records(caplog, "ratelimit.redis_unavailable")  # once per outage
        assert warning.levelno == logging.WARNING
        assert "source-key" not in warning.getMessage()
        assert "fallback=per-process" in warning.getMessage()

        limiter_redis.start()
        assert rate_limit_take("source-key:3", limit=2).allowed

    assert server.exists("rl:source-key:3")  # counted in Redis again
    assert len(_records(caplog, "ratelimit.redis_back")) == 1


def test_during_an_outage_redis_is_tried_again_only_after_a_pause(limiter_redis, monkeypatch):
    monkeypatch.setattr(ratelimit, "REDIS_RETRY_S", 60.0, raising=False)
    limiter_redis.stop()
    rate_limit_take("source-key:1", limit=5)  # the failure that starts the outage
    limiter_redis.start()

    rate_limit_take("source-key:2", limit=5)  # within the pause: not even tried

    assert not redis.Redis.from_url(limiter_redis.url(0)).exists("rl:source-key:2")


@pytest.mark.django_db
def test_the_api_and_the_pages_answer_while_redis_is_down(limiter_redis, api_client,
                                                          admin_client, vertical):
    _, key = source_with_key(vertical, default_mode="async", rate_limit_per_minute=3)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    limiter_redis.stop()

    json_lead = api_client.post("/api/v1/leads", content_type="application/json", **auth,
                                data=json.dumps({"vertical": "auto-insurance",
                                                 "fields": consumer_fields(1)}))
    form_lead = api_client.post("/api/v1/leads", **auth,
                                content_type="application/x-www-form-urlencoded",
                                data=urlencode({"vertical": "auto-insurance",
                                                **consumer_fields(2)}))
    listed = api_client.get("/api/v1/leads", **auth)
    over_limit = api_client.get("/api/v1/leads", **auth)

    assert json_lead.status_code == 202, json_lead.content
    assert form_lead.status_code == 202, form_lead.content
    assert listed.status_code == 200
    assert over_limit.status_code == 429 and over_limit.json()["code"] == "throttled"
    assert int(over_limit["Retry-After"]) >= 1
    BuyerFactory()
    assert admin_client.get("/api/v1/buyers").status_code == 200
    assert admin_client.get("/admin/").status_code == 200
    assert admin_client.get("/admin/buyers/buyer/").status_code == 200
    assert admin_client.get("/dashboard/").status_code == 200


# --- the broker -------------------------------------------------------------------------------

@pytest.fixture
def broker_down(settings):
    """CELERY_BROKER_URL names a port nothing listens on."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    settings.CELERY_BROKER_URL = url
    celery_broker_use(url)
    yield url
    celery_broker_use(settings.CELERY_BROKER_URL or "memory://")


@pytest.mark.django_db(transaction=True)
def test_a_lead_stored_while_the_broker_is_down_answers_202_and_its_retry_replays_it(
        broker_down, api_client, vertical, caplog, settings, private_redis):
    _, key = source_with_key(vertical, default_mode="async")

    def submit():
        return api_client.post(
            "/api/v1/leads", data=json.dumps({"vertical": "auto-insurance",
                                              "fields": consumer_fields(7)}),
            content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}",
            HTTP_IDEMPOTENCY_KEY="order-7")

    with caplog.at_level(logging.WARNING, logger="apps.core.dispatch"):
        first = submit()
    retried = submit()

    assert first.status_code == 202, first.content
    assert first.json()["status"] == "received"
    assert retried.status_code == 202 and retried.json() == first.json()
    lead = Lead.objects.get()
    assert str(lead.uuid) == first.json()["id"] and lead.status == LeadStatus.RECEIVED
    assert IdempotencyRecord.objects.get().status_code == 202
    [failed] = _records(caplog, "task.enqueue_failed")
    assert f"args={lead.pk}" in failed.getMessage()

    # the sweeper, run while the broker is still down, does not fail either …
    settings.LEAD_REDRIVE_RECEIVED_S = 0
    assert leads_redrive() == 1
    # … and once a broker answers, it queues the stored lead's auction
    settings.CELERY_BROKER_URL = private_redis.url(0)
    celery_broker_use(private_redis.url(0))
    assert leads_redrive() == 1
    assert redis.Redis.from_url(private_redis.url(0)).llen("celery") == 1
