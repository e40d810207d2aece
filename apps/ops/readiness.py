"""Readiness: can this process serve leads now? One check per dependency, each ``ok``,
``fail`` or ``not configured``; ready when none fails.

- ``database``: a ``SELECT 1`` on the default connection.
- ``redis``: a ``PING`` to ``REDIS_URL`` (not configured in the embedded default).
- ``broker``: the Celery broker answers (``PING`` for Redis, a kombu connection otherwise);
  not configured without ``CELERY_BROKER_URL`` (the embedded default runs work in-process).
- ``worker``: some Celery worker beat within ``WORKER_HEARTBEAT_MAX_AGE_S``
  (``apps.core.heartbeat``); not configured without a broker, or without a Redis to keep
  the beats in.

A check says only its name and ok/fail — nothing an anonymous load balancer should not see;
why it failed goes to the log. Each network call is bounded by the clients' 2 s timeouts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import connections

from apps.core.heartbeat import broker_redis, heartbeat_ages
from apps.core.logging import kv
from apps.core.redis_client import redis_get

logger = logging.getLogger(__name__)

OK, FAIL, NOT_CONFIGURED = "ok", "fail", "not configured"


def _database() -> str:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return OK


def _redis() -> str:
    client = redis_get()
    if client is None:
        return NOT_CONFIGURED
    return OK if client.ping() else FAIL


def _broker() -> str:
    url = settings.CELERY_BROKER_URL
    if not url:
        return NOT_CONFIGURED
    if url.startswith(("redis://", "rediss://", "unix://")):
        return OK if broker_redis(url).ping() else FAIL
    from kombu import Connection

    with Connection(url, connect_timeout=2) as connection:
        connection.ensure_connection(max_retries=1, timeout=2)
    return OK


def _worker() -> str:
    if not settings.CELERY_BROKER_URL:
        return NOT_CONFIGURED
    ages = heartbeat_ages("worker")
    if ages is None:
        return NOT_CONFIGURED
    fresh = [age for age in ages.values() if age <= settings.WORKER_HEARTBEAT_MAX_AGE_S]
    return OK if fresh else FAIL


CHECKS: dict[str, Callable[[], str]] = {
    "database": _database, "redis": _redis, "broker": _broker, "worker": _worker,
}


def readiness_checks() -> dict[str, str]:
    """Every check's result by name, in a fixed order. Never raises: a check that raises
    failed (its error class is logged)."""
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception as error:
            logger.warning(kv("readiness.failed", check=name, error=type(error).__name__))
            results[name] = FAIL
    return results
