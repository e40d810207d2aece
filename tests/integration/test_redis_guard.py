"""The suite never flushes a Redis database that is not the tests' own: run against a
private redis-server, it leaves a developer's database alone and skips the Redis tests,
and flushes only the database TEST_REDIS_URL names."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

import apps

ROOT = Path(apps.__file__).parent.parent
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("redis-server") is None,
                                 reason="needs the redis-server program")]


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test's own on a free port (never the shared one)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "the private redis-server did not start"
            time.sleep(0.05)
    yield port
    server.terminate()
    server.wait(10)


def suite(**redis_env: str) -> subprocess.CompletedProcess[str]:
    """The Redis rate-limit tests in a pytest of their own, on SQLite, with ``redis_env``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "TEST_REDIS_URL", "DATABASE_URL")}
    env.setdefault("DJANGO_SECRET_KEY", "test-only-key")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "tests/integration/test_rate_limit_redis.py", "-q",
         "-rs", "-p", "no:cacheprovider"],
        cwd=ROOT, env={**env, **redis_env}, capture_output=True, text=True, timeout=300,
        check=False)


def seed(port: int, db: int) -> redis.Redis:
    client = redis.Redis(port=port, db=db)
    client.set("precious", "keep me")
    return client


def test_a_redis_url_that_is_not_the_tests_is_never_flushed(private_redis):
    developers = seed(private_redis, 3)

    done = suite(REDIS_URL=f"redis://127.0.0.1:{private_redis}/3")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 skipped" in done.stdout
    assert "REDIS_URL names database 3, which the tests would flush" in done.stdout
    assert developers.get("precious") == b"keep me"


def test_only_the_database_test_redis_url_names_is_flushed(private_redis):
    developers, tests = seed(private_redis, 3), seed(private_redis, 5)

    done = suite(REDIS_URL=f"redis://127.0.0.1:{private_redis}/3",
                 TEST_REDIS_URL=f"redis://127.0.0.1:{private_redis}/5")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    assert tests.get("precious") is None
    assert developers.get("precious") == b"keep me"
