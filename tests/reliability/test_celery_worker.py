"""An async lead through a real Celery worker process (Redis broker, PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from apps.leads.models import Lead, LeadStatus
from leadexchange.celery import app as celery_app
from tests.factories import VerticalFactory, sim_contract, source_with_key, valid_fields

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15").rsplit("/", 1)[0] + "/14"


@pytest.fixture
def celery_worker_process(settings):
    """A `celery worker` subprocess on the test database and a Redis broker."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": BROKER,
        "HTTP_ALLOWED_NETWORKS": "127.0.0.1/32",
    }
    import redis

    redis.Redis.from_url(BROKER).flushdb()
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "leadexchange", "worker", "--pool", "prefork",
         "--concurrency", "2", "--without-heartbeat", "--without-mingle", "--without-gossip",
         "--loglevel", "WARNING"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    settings.CELERY_BROKER_URL = BROKER
    celery_app.conf.broker_url = BROKER
    yield worker
    worker.terminate()
    try:
        worker.wait(timeout=15)
    except subprocess.TimeoutExpired:
        worker.kill()


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
        celery_worker_process.terminate()
        pytest.fail(f"lead not sold; worker said:\n{celery_worker_process.communicate()[0]}")
    status = api_client.get(f"/api/v1/leads/{lead_id}", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert status.json()["status"] == "sold"
