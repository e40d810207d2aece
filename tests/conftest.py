"""Shared fixtures. Tests that need PostgreSQL or Redis are marked and skipped, with the
reason, when ``DATABASE_URL`` / ``REDIS_URL`` do not point at them (``.ci/run`` sets both)."""

from __future__ import annotations

import os

import pytest
from rest_framework.test import APIClient

from apps.core.ratelimit import rate_limit_reset
from apps.core.redis_client import redis_get

IS_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres", "pgsql"))
HAS_REDIS = bool(os.environ.get("REDIS_URL"))


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if "postgres" in item.keywords and not IS_POSTGRES:
            item.add_marker(pytest.mark.skip(
                reason="needs PostgreSQL: set DATABASE_URL=postgres://… (.ci/run does)"))
        if "redis" in item.keywords and not HAS_REDIS:
            item.add_marker(pytest.mark.skip(reason="needs Redis: set REDIS_URL (.ci/run does)"))


@pytest.fixture(autouse=True, scope="session")
def _warm_zip_index():
    """Build the offline ZIP index once (~0.6 s), as wsgi.py does at start-up, so it does
    not eat the time budget of the first lead of a test."""
    from apps.leads.enrich import zip_lookup

    zip_lookup("10001")


@pytest.fixture(autouse=True)
def _test_settings(settings):
    """Work runs on the test's thread (its transaction stays visible); buyers are local
    simulators, so 127.0.0.1 is allowed past the SSRF guard."""
    settings.RUN_TASKS_INLINE = True
    settings.CELERY_BROKER_URL = ""
    settings.HTTP_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.AXES_ENABLED = False  # tests/functional/test_login_lockout.py turns it on
    # pages render without `collectstatic` (a fresh clone has no manifest)
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


@pytest.fixture(autouse=True)
def _fresh_counters():
    """Rate-limit buckets, Redis keys and cached contract set-ups never leak from one test
    into the next."""
    from apps.auctions.setups import contract_setups_clear
    from apps.core.cache import cached_rows_clear

    contract_setups_clear()
    cached_rows_clear()
    rate_limit_reset()
    client = redis_get()
    if client is not None:
        client.flushdb()
    yield


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def vertical():
    """The auto-insurance vertical with its field rows (a module may override it)."""
    from tests.factories import VerticalFactory

    return VerticalFactory(slug="auto-insurance")


@pytest.fixture(scope="session")
def sim_url():
    """The bundled buyer simulator, one process for the session (started on first use)."""
    from apps.demo.simulator.testing import simulator_process

    with simulator_process(seed=7) as url:
        yield url
