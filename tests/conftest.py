"""Shared fixtures. Tests that need PostgreSQL or Redis are marked and skipped, with the
reason, when ``DATABASE_URL`` / the tests' Redis do not point at them (``.ci/run`` sets both).

The tests flush their Redis database before every test, so they use one only when it is
plainly theirs (``tests/redis_for_tests.py``: ``TEST_REDIS_URL``, or ``REDIS_URL`` at
database 15); otherwise the code under test, and every process a test starts, sees no
Redis at all."""

from __future__ import annotations

import os

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from apps.core.ratelimit import rate_limit_reset
from apps.core.redis_client import redis_get
from tests.redis_for_tests import redis_url_for_tests

IS_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres", "pgsql"))
TEST_REDIS_URL, NO_REDIS_REASON = redis_url_for_tests(os.environ)
# Processes the tests start (workers, servers) read REDIS_URL: the tests' database or none.
if TEST_REDIS_URL:
    os.environ["REDIS_URL"] = TEST_REDIS_URL
else:
    os.environ.pop("REDIS_URL", None)


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if "postgres" in item.keywords and not IS_POSTGRES:
            item.add_marker(pytest.mark.skip(
                reason="needs PostgreSQL: set DATABASE_URL=postgres://… (.ci/run does)"))
        if "redis" in item.keywords and not TEST_REDIS_URL:
            item.add_marker(pytest.mark.skip(reason=NO_REDIS_REASON))


@pytest.fixture(autouse=True, scope="session")
def _tests_redis_only():
    """Settings were read from the environment before this file ran: point REDIS_URL and
    the cache at the tests' Redis database, or at none."""
    cache = ({"BACKEND": "django.core.cache.backends.redis.RedisCache",
              "LOCATION": TEST_REDIS_URL} if TEST_REDIS_URL
             else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"})
    with override_settings(REDIS_URL=TEST_REDIS_URL, CACHES={"default": cache}):
        redis_get.cache_clear()
        yield
    redis_get.cache_clear()


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
    from apps.sources.selectors import vertical_schemas_clear

    contract_setups_clear()
    cached_rows_clear()
    vertical_schemas_clear()
    rate_limit_reset()
    client = redis_get()
    if client is not None:  # only ever the tests' own database (see _tests_redis_only)
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
