"""The test suite flushes its Redis database before every test: it takes only one that is
plainly the tests' own (tests/redis_for_tests.py)."""

from __future__ import annotations

import pytest

from tests.redis_for_tests import redis_url_for_tests

P = pytest.param


@pytest.mark.parametrize(("environ", "url"), [
    P({"REDIS_URL": "redis://127.0.0.1:6379/15"}, "redis://127.0.0.1:6379/15", id="ci-db-15"),
    P({"REDIS_URL": "redis://127.0.0.1:6379?db=15"}, "redis://127.0.0.1:6379?db=15",
      id="db-15-as-a-query"),
    P({"REDIS_URL": "redis://127.0.0.1:6379/0", "TEST_REDIS_URL": "redis://127.0.0.1:6379/11"},
      "redis://127.0.0.1:6379/11", id="test-redis-url-wins"),
    P({"TEST_REDIS_URL": "redis://127.0.0.1:6379/3"}, "redis://127.0.0.1:6379/3",
      id="test-redis-url-alone"),
])
def test_it_takes_a_database_that_is_plainly_the_tests(environ, url):
    assert redis_url_for_tests(environ) == (url, "")


@pytest.mark.parametrize(("environ", "reason"), [
    P({}, "set TEST_REDIS_URL=redis://HOST:PORT/N", id="none"),
    P({"REDIS_URL": "redis://prod.internal:6379/0"}, "database 0 is never a test database",
      id="production-db-0"),
    P({"REDIS_URL": "redis://127.0.0.1:6379"}, "database 0 is never a test database",
      id="no-db-means-0"),
    P({"REDIS_URL": "redis://127.0.0.1:6379/11"}, "REDIS_URL names database 11, which the "
      "tests would flush", id="a-developers-db"),
    P({"TEST_REDIS_URL": "redis://127.0.0.1:6379/0"}, "database 0 is never a test database",
      id="test-redis-url-at-db-0"),
])
def test_it_refuses_any_other_database_and_says_why(environ, reason):
    url, why = redis_url_for_tests(environ)

    assert url == ""
    assert why.startswith("needs Redis: ") and reason in why
