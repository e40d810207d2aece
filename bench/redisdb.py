"""The two Redis databases the bench owns on 127.0.0.1:6379 (nothing else is touched).

- ``BROKER_URL`` (db 13): the Celery broker of the HTTP rows' web server. No worker
  consumes it, so ``?mode=async`` leads stop at the enqueue (row 7).
- ``CACHE_URL`` (db 14): ``REDIS_URL`` of production mode (PostgreSQL + Redis): rate
  limits, dedupe fast paths and the circuit breaker's counters live there instead of in
  database rows.

Both are emptied before and after a run.
"""

from __future__ import annotations

BROKER_URL = "redis://127.0.0.1:6379/13"
CACHE_URL = "redis://127.0.0.1:6379/14"


def redis_answers(url: str = BROKER_URL) -> bool:
    """True when the Redis server of ``url`` answers a PING within a second."""
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except Exception:
        return False


def redis_flush(url: str) -> int:
    """Empty the database of ``url``; return how many keys it held."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2)
    held = client.dbsize()
    client.flushdb()
    return held


def queue_length(url: str = BROKER_URL, queue: str = "celery") -> int:
    """Tasks waiting in a Celery queue of the broker at ``url``."""
    import redis

    return int(redis.Redis.from_url(url, socket_timeout=2).llen(queue))
