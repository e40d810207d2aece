"""``/readyz`` sees a real Celery worker through its heartbeat (``leadexchange.celery``'s
bootstep), run as README's production section runs it, and stops seeing it once it is gone."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.core.redis_client import redis_get
from tests.reliability.test_celery_worker import (
    PRODUCTION_OPTIONS,
    wait_for,
    worker_start,
    worker_stop,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow,
              pytest.mark.django_db(transaction=True)]


def test_readyz_follows_a_real_workers_heartbeat(settings, private_redis):
    broker = private_redis.url(0)
    settings.CELERY_BROKER_URL = broker
    settings.REDIS_URL = ""  # the beats live in the broker's Redis
    settings.WORKER_HEARTBEAT_MAX_AGE_S = 3
    redis_get.cache_clear()
    client = Client(REMOTE_ADDR="127.0.0.1")

    def worker_check() -> str:
        return client.get("/readyz").json()["checks"]["worker"]

    try:
        before = worker_check()
        worker = worker_start(broker, *PRODUCTION_OPTIONS, "--loglevel", "WARNING",
                              REDIS_URL="", WORKER_HEARTBEAT_INTERVAL_S="0.5")
        try:
            seen = wait_for(lambda: worker_check() == "ok", timeout=30)
            ready = client.get("/readyz")
        finally:
            log = worker_stop(worker)
        assert seen, f"no heartbeat; the worker said:\n{log[-3000:]}"
        gone = wait_for(lambda: worker_check() == "fail", timeout=10)
    finally:
        redis_get.cache_clear()

    assert before == "fail"
    assert ready.status_code == 200
    assert gone
