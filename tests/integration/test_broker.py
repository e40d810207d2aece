"""The Redis broker transport (apps.core.broker): one Redis client per channel."""

from __future__ import annotations

from unittest import mock

import pytest
import redis
from celery import Celery

from tests.conftest import TEST_REDIS_URL

pytestmark = pytest.mark.redis


def _app(transport: str | None) -> Celery:
    app = Celery("broker-test", broker=TEST_REDIS_URL, set_as_current=False)
    app.conf.broker_transport = transport
    app.conf.task_default_queue = "broker-test"

    @app.task(name="broker_test.echo")
    def echo(n: int) -> int:  # pragma: no cover - never run, only sent
        return n

    return app


def _clients_built_by_sends(app: Celery, count: int) -> int:
    app.send_task("broker_test.echo", (0,))  # the connection, channel and pool are made
    built = 0
    redis_init = redis.Redis.__init__

    def counting(self, *args, **kwargs) -> None:
        nonlocal built
        built += 1
        redis_init(self, *args, **kwargs)

    with mock.patch.object(redis.Redis, "__init__", counting):
        for n in range(1, count + 1):
            app.send_task("broker_test.echo", (n,))
    return built


def test_kombu_s_own_transport_builds_a_redis_client_for_every_task_sent() -> None:
    """Why the project has its own transport: if this fails, kombu stopped doing it and
    apps.core.broker can go."""
    assert _clients_built_by_sends(_app(None), 20) == 20


def test_ours_sends_every_task_through_one_client_and_each_arrives_in_order() -> None:
    app = _app("apps.core.broker:Transport")

    assert _clients_built_by_sends(app, 20) == 0
    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue("broker-test")
        received = [queue.get(timeout=2) for _ in range(21)]
        queue.close()
    assert [m.headers["task"] for m in received] == ["broker_test.echo"] * 21
    assert [m.decode()[0] for m in received] == [[n] for n in range(21)]


def test_a_channel_whose_pool_was_replaced_gets_a_client_of_the_new_pool() -> None:
    """After a fork (or a reconnect) kombu drops the channel's pools; the cached client
    must not keep using the old one."""
    app = _app("apps.core.broker:Transport")
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as again:
            assert again is first and first.connection_pool is channel.pool
        channel._disconnect_pools()  # what kombu does after a fork
        with channel.conn_or_acquire() as after:
            assert after is not first and after.connection_pool is channel.pool
        with channel.conn_or_acquire(client=first) as given:
            assert given is first  # a caller's own client is used as given
