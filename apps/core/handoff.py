"""A request that waits for work a Celery worker does (``SYNC_AUCTION_EXECUTOR=celery``).

The web process sends the task with a fresh key and blocks on that key in Redis (``BLPOP``)
for at most its budget; the worker pushes to the key once the work is recorded. The key
expires on its own, so a request that stopped waiting leaves nothing behind, and a signal
pushed before the request began to wait is still there when it does.
"""

from __future__ import annotations

import logging
import uuid
from functools import cache
from typing import Any

import redis
from django.conf import settings

from apps.core.logging import kv
from apps.core.redis_client import redis_get

logger = logging.getLogger(__name__)
_KEY = "lx:handoff:{}"
_TTL_S = 120


@cache
def _waiting_client() -> redis.Redis:
    """A pool whose reads may block as long as a request waits (``BLPOP``)."""
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=None,
                                socket_connect_timeout=2)


def handoff_send(task: Any, *args: Any, wait_s: float, **kwargs: Any) -> bool:
    """Send ``task(*args, **kwargs, done_key=…)`` to a worker and wait up to ``wait_s`` for
    its signal: True when the work was recorded in time. Raises what the broker raises when
    it cannot take the task (the caller then does the work itself)."""
    key = _KEY.format(uuid.uuid4().hex)
    task.apply_async(args=args, kwargs={**kwargs, "done_key": key})
    try:
        return _waiting_client().blpop([key], timeout=max(0.001, wait_s)) is not None
    except redis.RedisError as error:  # the outcome is in the database whatever happens here
        logger.warning(kv("handoff.wait_failed", error=type(error).__name__))
        return False


def handoff_done(key: str | None) -> None:
    """Tell the request waiting on ``key`` that the work is recorded; best-effort (a request
    that hears nothing answers from the database when its budget ends)."""
    client = redis_get() if key else None
    if client is None or key is None:
        return
    try:
        with client.pipeline(transaction=False) as pipe:
            pipe.lpush(key, 1)
            pipe.expire(key, _TTL_S)
            pipe.execute()
    except redis.RedisError as error:
        logger.warning(kv("handoff.signal_failed", error=type(error).__name__))
