"""``/healthz``, ``/readyz`` and ``/metrics`` (apps.ops): readiness fails naming the check when
the database, Redis, the broker or the workers are gone; the metrics parse and move when a
lead flows through a simulated buyer; in multiprocess mode they sum every process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from apps.core.heartbeat import HEARTBEAT_KEY, heartbeat_beat, heartbeat_redis
from apps.core.redis_client import redis_get
from apps.leads.models import Lead
from apps.webhooks.models import WebhookDelivery
from tests.conftest import TEST_REDIS_URL
from tests.factories import lead_submit, sim_contract, source_with_key

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
CLOSED = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def client() -> Client:
    return Client(REMOTE_ADDR="127.0.0.1")


@pytest.fixture
def redis_at(settings):
    """Point ``REDIS_URL`` at another URL for one test (the process-wide client follows)."""
    def use(url: str) -> None:
        settings.REDIS_URL = url
        redis_get.cache_clear()

    yield use
    redis_get.cache_clear()


def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics``, parsed as Prometheus parses it, keyed by name and
    sorted labels."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/plain; version=")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.content.decode())
            for s in family.samples}


def sample(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# --- /healthz ------------------------------------------------------------------------------


def test_healthz_answers_ok_whatever_the_host_and_scheme(client, settings):
    settings.SECURE_SSL_REDIRECT = True  # a probe over plain HTTP, by the process's address
    settings.ALLOWED_HOSTS = ["leads.example.com"]

    response = client.get("/healthz", HTTP_HOST="10.0.0.5:8000")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_does_not_touch_the_database(client):
    with mock.patch.object(connection, "ensure_connection",
                           side_effect=OperationalError("connection refused")):
        assert client.get("/healthz").status_code == 200


# --- /readyz -------------------------------------------------------------------------------


def test_readyz_is_ready_in_the_embedded_default(client, redis_at):
    redis_at("")

    response = client.get("/readyz", HTTP_HOST="10.0.0.5:8000")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "failed": [], "checks": {
        "database": "ok", "redis": "not configured", "broker": "not configured",
        "worker": "not configured"}}


def test_readyz_fails_naming_the_database_when_it_is_down(client, redis_at):
    redis_at("")
    with mock.patch.object(connection, "ensure_connection",
                           side_effect=OperationalError("connection refused")):
        response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["failed"] == ["database"]
    assert body["checks"]["database"] == "fail"


def test_readyz_fails_naming_redis_when_redis_is_down(client, redis_at):
    redis_at(CLOSED)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failed"] == ["redis"]
    assert response.json()["checks"] == {"database": "ok", "redis": "fail",
                                         "broker": "not configured", "worker": "not configured"}


def test_readyz_reports_but_ignores_the_checks_left_out_of_readyz_required(
        client, settings, redis_at):
    redis_at(CLOSED)
    settings.READYZ_REQUIRED = ["database"]

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["failed"] == [] and response.json()["checks"]["redis"] == "fail"


def test_readyz_fails_naming_the_broker_and_the_workers_when_the_broker_is_down(
        client, settings, redis_at):
    redis_at("")
    settings.CELERY_BROKER_URL = CLOSED  # and the heartbeats live in the broker's Redis

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failed"] == ["broker", "worker"]


@pytest.mark.redis
def test_readyz_with_a_broker_wants_a_worker_that_beat_recently(client, settings):
    settings.CELERY_BROKER_URL = TEST_REDIS_URL
    settings.WORKER_HEARTBEAT_MAX_AGE_S = 60

    no_worker = client.get("/readyz")
    heartbeat_beat("worker", "celery@a")
    beating = client.get("/readyz")
    heartbeat_redis().zadd(HEARTBEAT_KEY, {"worker:celery@a": time.time() - 61})
    stale = client.get("/readyz")

    assert (no_worker.status_code, no_worker.json()["failed"]) == (503, ["worker"])
    assert beating.status_code == 200
    assert beating.json()["checks"] == {"database": "ok", "redis": "ok", "broker": "ok",
                                        "worker": "ok"}
    assert (stale.status_code, stale.json()["failed"]) == (503, ["worker"])


# --- /metrics: who may read them ------------------------------------------------------------


def test_metrics_without_a_token_are_for_loopback_clients_only(settings):
    settings.METRICS_TOKEN = ""
    settings.TRUSTED_PROXY_COUNT = 1

    local = Client(REMOTE_ADDR="127.0.0.1").get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1")
    proxied = Client(REMOTE_ADDR="127.0.0.1").get("/metrics",
                                                  HTTP_X_FORWARDED_FOR="203.0.113.9")
    remote = Client(REMOTE_ADDR="10.0.0.9").get("/metrics", HTTP_X_FORWARDED_FOR="10.0.0.9")

    assert local.status_code == 200
    assert proxied.status_code == 403 and proxied.json()["code"] == "permission_denied"
    assert remote.status_code == 403


def test_metrics_with_a_token_want_it_from_everyone(settings):
    settings.METRICS_TOKEN = "scrape-secret"
    anyone = Client(REMOTE_ADDR="10.0.0.9")

    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 401
    assert anyone.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    missing = anyone.get("/metrics")
    assert missing.status_code == 401 and missing["WWW-Authenticate"].startswith("Bearer")
    assert anyone.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200


# --- /metrics: what they say ----------------------------------------------------------------


def test_metrics_move_when_a_lead_sells(client, api_client, vertical, fresh_simulator):
    _, key = source_with_key(vertical)
    contract = sim_contract(vertical, fresh_simulator, query="bid=10")
    cid = str(contract.pk)
    before = scrape(client)

    assert lead_submit(api_client, key).json()["status"] == "sold"
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert moved("leadexchange_auction_duration_seconds_count", outcome="sold") == 1
    assert 0 < moved("leadexchange_auction_duration_seconds_sum", outcome="sold") < 5
    assert moved("leadexchange_pings_total", contract=cid, outcome="bid") == 1
    assert moved("leadexchange_ping_latency_seconds_count", contract=cid) == 1
    assert moved("leadexchange_ping_latency_seconds_bucket", contract=cid, le="+Inf") == 1
    assert sample(after, "leadexchange_leads_recent", status="sold") == 1
    assert sample(before, "leadexchange_leads_recent", status="sold") == 0
    assert sample(after, "leadexchange_contract_breaker_open", contract=cid) == 0
    assert sample(after, "leadexchange_collector_up", part="leads") == 1


def test_metrics_show_open_breakers_and_the_webhook_backlog(client, vertical):
    source, _ = source_with_key(vertical)
    paused = sim_contract(vertical, "http://127.0.0.1:9", auto_paused_at=timezone.now(),
                          auto_pause_reason="10 consecutive failed requests")
    lead = Lead.objects.create(source=source, vertical=vertical)
    now = timezone.now()
    for n, (status, due) in enumerate([("pending", now - timedelta(seconds=30)),
                                       ("pending", now + timedelta(seconds=30)),
                                       ("sending", now + timedelta(seconds=60)),
                                       ("succeeded", None)]):
        WebhookDelivery.objects.create(msg_id=f"msg_{n}", kind="webhook", source=source,
                                       lead=lead, event="lead.sold", status=status,
                                       next_attempt_at=due)

    samples = scrape(client)

    assert sample(samples, "leadexchange_contract_breaker_open", contract=str(paused.pk)) == 1
    assert sample(samples, "leadexchange_webhook_backlog", status="pending") == 2
    assert sample(samples, "leadexchange_webhook_backlog", status="sending") == 1
    assert 29 <= sample(samples, "leadexchange_webhook_oldest_due_seconds") < 40


def test_metrics_still_answer_when_the_database_is_down(client):
    with mock.patch.object(connection, "ensure_connection",
                           side_effect=OperationalError("connection refused")):
        samples = scrape(client)

    assert sample(samples, "leadexchange_collector_up", part="leads") == 0
    assert sample(samples, "leadexchange_collector_up", part="webhooks") == 0
    assert not any(name == "leadexchange_leads_recent" for name, _ in samples)


@pytest.mark.redis
def test_metrics_show_the_celery_queue_depth_and_the_workers(client, settings):
    settings.CELERY_BROKER_URL = TEST_REDIS_URL
    broker = heartbeat_redis()
    broker.lpush("celery", "task-1", "task-2")
    broker.lpush("celery\x06\x163", "task-3")  # kombu's list for priority 3
    heartbeat_beat("worker", "celery@a")

    samples = scrape(client)

    assert sample(samples, "leadexchange_celery_queue_depth", queue="celery") == 3
    assert 0 <= sample(samples, "leadexchange_heartbeat_age_seconds", role="worker",
                       process="celery@a") < 5


def test_a_contract_s_ping_metrics_are_looked_up_once_and_still_count_every_ping(client):
    from apps.auctions import metrics
    from apps.auctions.health import Observation

    def pings(outcome: str) -> list[Observation]:
        return [Observation(990_001, slow=False, failed=False, slow_limit=10, error_limit=10,
                            kind="ping", latency_ms=42.0, outcome=outcome)]

    before = scrape(client)
    with mock.patch.object(metrics.PING_LATENCY, "labels",
                           wraps=metrics.PING_LATENCY.labels) as latency_labels, \
            mock.patch.object(metrics.PINGS, "labels", wraps=metrics.PINGS.labels) as labels:
        for outcome in ("bid", "bid", "no_bid", "bid"):
            metrics.pings_record(pings(outcome))
    after = scrape(client)

    assert latency_labels.call_count == 1  # once per contract, not per ping
    assert labels.call_count == 2  # once per (contract, outcome)
    key = {"contract": "990001"}
    assert (sample(after, "leadexchange_pings_total", **key, outcome="bid")
            - sample(before, "leadexchange_pings_total", **key, outcome="bid")) == 3
    assert (sample(after, "leadexchange_pings_total", **key, outcome="no_bid")
            - sample(before, "leadexchange_pings_total", **key, outcome="no_bid")) == 1
    assert (sample(after, "leadexchange_ping_latency_seconds_count", **key)
            - sample(before, "leadexchange_ping_latency_seconds_count", **key)) == 4


CHILD = """
import django
django.setup()
from apps.auctions.health import Observation
from apps.auctions.metrics import auction_record, pings_record
auction_record("sold", 0.2)
pings_record([Observation(7, slow=False, failed=False, slow_limit=10, error_limit=10,
                          kind="ping", latency_ms=42.0, outcome="bid")])
"""


def test_metrics_sum_every_process_in_multiprocess_mode(client, tmp_path, monkeypatch):
    """As under gunicorn workers and Celery prefork children: each process writes its own
    file in PROMETHEUS_MULTIPROC_DIR; any web process's /metrics sums them all."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
           "DJANGO_SETTINGS_MODULE": "leadexchange.settings"}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", CHILD], cwd=REPO, env=env, check=True)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    samples = scrape(client)

    assert sample(samples, "leadexchange_auction_duration_seconds_count", outcome="sold") == 2
    assert sample(samples, "leadexchange_pings_total", contract="7", outcome="bid") == 2
    assert sample(samples, "leadexchange_ping_latency_seconds_bucket", contract="7",
                  le="0.05") == 2
    assert sample(samples, "leadexchange_ping_latency_seconds_bucket", contract="7",
                  le="0.025") == 0


class _Stop(Exception):
    pass


def test_make_run_gives_its_processes_one_fresh_multiprocess_directory(
        monkeypatch, settings, tmp_path):
    """``make run``'s web server and periodic jobs are two processes: both count into one
    directory, emptied at every start."""
    from django.core.management import call_command

    from apps.auctions.management.commands import run_embedded

    settings.VAR_DIR = tmp_path
    stale = tmp_path / "prometheus-8123" / "counter_999.db"
    stale.parent.mkdir()
    stale.write_bytes(b"from an earlier run")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    seen = []

    def fake_start(port, *, env):
        seen.append(env["PROMETHEUS_MULTIPROC_DIR"])
        raise _Stop

    monkeypatch.setattr(run_embedded, "simulator_start", fake_start)
    with pytest.raises(_Stop):
        call_command("run_embedded", "--port", "8123", "--simulator-port", "9100")

    assert seen == [str(tmp_path / "prometheus-8123")]
    assert list((tmp_path / "prometheus-8123").iterdir()) == []
