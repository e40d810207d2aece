"""Heartbeats: long-running processes say they are alive, ``/readyz`` and ``/metrics`` read it.

A Celery worker beats from its own event loop (a bootstep in ``leadexchange.celery``: a
worker whose loop is stuck stops beating), the embedded scheduler (``run_periodic``) from
its loop. Each beat is one ``ZADD`` of ``role:name`` with the current time to one sorted
set in Redis (``REDIS_URL``, else the broker's Redis), so every web process on every
machine sees every worker. Members that stopped beating are pruned when read, after a day.
Without Redis there is nowhere shared to beat: beating does nothing and there is nothing to
read (the embedded default, where ``/readyz`` does not ask for a worker).
"""

from __future__ import annotations

import logging
import time
from functools import cache

import redis
from django.conf import settings

from apps.core.logging import kv
from apps.core.redis_client import redis_get

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "leadexchange:heartbeats"
_FORGET_AFTER_S = 24 * 3600


@cache
def broker_redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def heartbeat_redis() -> redis.Redis | None:
    """Where heartbeats live: the ``REDIS_URL`` client, else a client of the broker when the
    broker is Redis, else None."""
    client = redis_get()
    if client is not None:
        return client
    broker = settings.CELERY_BROKER_URL
    if broker.startswith(("redis://", "rediss://", "unix://")):
        return broker_redis(broker)
    return None


def heartbeat_beat(role: str, name: str) -> None:
    """Record that process ``name`` of ``role`` (``worker``, ``scheduler``) is alive now.
    Never raises: a Redis outage is logged and the beat is lost (readiness then fails, as it
    should while the workers cannot be seen)."""
    client = heartbeat_redis()
    if client is None:
        return
    try:
        client.zadd(HEARTBEAT_KEY, {f"{role}:{name}": time.time()})
    except redis.RedisError as error:
        logger.warning(kv("heartbeat.failed", role=role, error=type(error).__name__))


def heartbeat_ages(role: str) -> dict[str, float] | None:
    """Seconds since each process of ``role`` last beat (those seen within a day), by name;
    None when there is no Redis to read them from. Raises ``redis.RedisError`` when Redis
    cannot be read."""
    client = heartbeat_redis()
    if client is None:
        return None
    now = time.time()
    client.zremrangebyscore(HEARTBEAT_KEY, "-inf", now - _FORGET_AFTER_S)
    prefix = f"{role}:"
    ages: dict[str, float] = {}
    beats: list[tuple[bytes, float]] = client.zrange(  # type: ignore[assignment]
        HEARTBEAT_KEY, 0, -1, withscores=True)
    for member, beat in beats:
        text = member.decode()
        if text.startswith(prefix):
            ages[text[len(prefix):]] = max(0.0, now - float(beat))
    return ages
