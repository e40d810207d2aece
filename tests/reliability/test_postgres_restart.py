"""PostgreSQL restarted (``pg_ctlcluster … restart``, fast: every connection is cut) while a
Celery worker runs auctions: the worker stays up and reconnects, and with the sweeper it
finishes every lead — the auctions the restart broke included — with no lead sold twice and
the daily cap exact.

It restarts the cluster the tests run on, so it runs only where that cluster is local and
this process may control it (root, ``pg_ctlcluster``, the cluster listening on the tests'
port); elsewhere it is skipped, saying why. CI runs on such a machine."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.db.utils import Error as DatabaseError

from apps.auctions.models import Sale
from apps.leads.models import Lead
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
from tests.reliability.workers import (
    PRODUCTION_OPTIONS,
    wait_for,
    worker_kill,
    worker_log,
    worker_start,
)

LEADS = 12


def local_cluster() -> tuple[list[str], str]:
    """``(pg_ctlcluster's version and name, "")`` of the local cluster the tests' database is
    on, or ``([], why not)``."""
    db = django_settings.DATABASES["default"]
    if "postgresql" not in db["ENGINE"]:
        return [], "needs PostgreSQL (DATABASE_URL=postgres://…)"
    if db.get("HOST") not in ("127.0.0.1", "localhost", "::1"):
        return [], f"PostgreSQL at {db.get('HOST')!r} is not local: not restarting it"
    if shutil.which("pg_ctlcluster") is None or shutil.which("pg_lsclusters") is None:
        return [], "no pg_ctlcluster here (Debian's postgresql-common) to restart PostgreSQL"
    if os.geteuid() != 0:
        return [], "restarting PostgreSQL needs root"
    listed = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True,
                            check=False).stdout
    for line in listed.splitlines():
        version, name, port, status, *_ = line.split()
        if port == str(db.get("PORT") or 5432) and status == "online":
            return [version, name], ""
    return [], f"no online local cluster on port {db.get('PORT')}"


CLUSTER, NOT_LOCAL = local_cluster()
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.slow,
              pytest.mark.skipif(not CLUSTER, reason=NOT_LOCAL)]


def postgres_restart() -> None:
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", "--mode", "fast", *CLUSTER,
                    "restart"], check=True, capture_output=True, timeout=60)


def database_answers() -> bool:
    """Whether a query goes through on a fresh connection: the old ones died with the
    server, idle ones in this process's pool too (a fresh pool, so later tests get none)."""
    connection.close()
    connection.close_pool()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError:
        return False


@pytest.mark.timeout(120)
def test_a_postgres_restart_mid_run_loses_no_lead_sells_none_twice_keeps_caps_exact(
        api_client, sim_url, settings, private_redis):
    broker = private_redis.url(0)
    settings.CELERY_BROKER_URL = broker
    celery_broker_use(broker)
    market = market_create(sim_url)
    worker = worker_start(broker, *PRODUCTION_OPTIONS, "--loglevel", "WARNING",
                          new_session=True)
    try:
        for _ in range(LEADS):
            lead_accept(api_client, market)
        assert wait_for(lambda: Sale.objects.exists(), 30, every=0.05), worker_log(worker)
        connection.close()
        started = time.monotonic()
        postgres_restart()  # auctions in flight, others queued
        assert wait_for(database_answers, 30, every=0.5)
        restarted_in = time.monotonic() - started
        settings.LEAD_REDRIVE_RECEIVED_S = REDRIVE_RECEIVED_S
        settings.LEAD_REDRIVE_AUCTIONING_S = REDRIVE_AUCTIONING_S
        settled = wait_for(lambda: undecided(market.leads) == 0, 45, every=1.0,
                           tick=sweeper_run)
        alive = worker.poll() is None
    finally:
        if worker.poll() is None:
            worker_kill(worker)
        log = worker_log(worker)
    assert restarted_in < 30
    assert alive, log
    assert "OperationalError" in log  # the restart did cut the worker's connections
    assert settled, (market_statuses(market), log)
    assert Lead.objects.filter(uuid__in=market.leads).count() == LEADS
    assert_market_settled(market)
