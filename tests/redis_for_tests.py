"""Which Redis database the test suite may use — and flush before every test.

Only a database that is plainly the tests' own: ``TEST_REDIS_URL`` (any database but 0), or
``REDIS_URL`` when it names database 15, the one ``.ci/run`` gives the tests. Anything else
(a developer's or a production ``REDIS_URL``, database 0) is never touched: the suite runs
without Redis and the Redis tests are skipped, saying why.
"""

from __future__ import annotations

from collections.abc import Mapping

from redis.connection import parse_url

TEST_DB = 15


def redis_url_for_tests(environ: Mapping[str, str]) -> tuple[str, str]:
    """``(url, "")`` when the tests may use and flush ``url``; else ``("", why not)``."""
    explicit = environ.get("TEST_REDIS_URL", "")
    url = explicit or environ.get("REDIS_URL", "")
    if not url:
        return "", ("needs Redis: set TEST_REDIS_URL=redis://HOST:PORT/N, a database only the "
                    "tests use (or REDIS_URL=…/15, as .ci/run does)")
    try:
        db = int(parse_url(url).get("db") or 0)
    except ValueError as error:
        return "", f"needs Redis: {'TEST_REDIS_URL' if explicit else 'REDIS_URL'}: {error}"
    if db == 0:
        return "", ("needs Redis: the tests flush their database before every test, and "
                     "database 0 is never a test database: set TEST_REDIS_URL=…/N (N ≠ 0)")
    if not explicit and db != TEST_DB:
        return "", (f"needs Redis: REDIS_URL names database {db}, which the tests would flush; "
                    f"they take REDIS_URL only at database {TEST_DB}. Set TEST_REDIS_URL to a "
                    "database only the tests use")
    return url, ""
