"""A private ``redis-server`` a test may stop and start again (the shared Redis on 6379
serves other test runs and is never stopped)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRedis:
    """One redis-server on a free port; ``url(db)`` names one of its databases. With
    ``durable`` it keeps an append-only file, so a restart keeps queued messages, as a
    production broker's Redis does."""

    def __init__(self, directory: Path, *, durable: bool) -> None:
        self.port = free_port()
        self.directory = directory
        self.durable = durable
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        persistence = (["--appendonly", "yes", "--appendfsync", "always"] if self.durable
                       else ["--appendonly", "no"])
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--dir", str(self.directory),
             *persistence],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        """Shut down as a restart does (SIGTERM: redis-server closes every connection)."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    """A started private Redis (not durable), stopped at the end of the test."""
    server = PrivateRedis(tmp_path, durable=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def durable_redis(tmp_path) -> Iterator[PrivateRedis]:
    """A started private Redis that keeps its data across a restart."""
    server = PrivateRedis(tmp_path, durable=True)
    server.start()
    yield server
    server.stop()


def celery_broker_use(url: str) -> None:
    """Point this process's Celery app at the broker ``url``: its connection and producer
    pools are made for the first broker they saw, so they are dropped too."""
    from leadexchange.celery import app

    app.conf.broker_url = url
    app.conf.broker_transport = "apps.core.broker:Transport" if url.startswith("redis://") else None
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None
