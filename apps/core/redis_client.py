"""The process-wide Redis client (one connection pool), or None in the embedded default."""

from __future__ import annotations

from functools import cache

import redis
from django.conf import settings


@cache
def redis_get() -> redis.Redis | None:
    if not settings.REDIS_URL:
        return None
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
