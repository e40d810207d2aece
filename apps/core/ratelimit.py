"""Token-bucket rate limits, atomic across processes when Redis is configured.

A bucket holds ``limit`` tokens and refills at ``limit`` per ``period`` seconds, so a client
may burst its whole quota and then proceeds at the steady rate. With ``REDIS_URL`` the bucket
lives in Redis and is updated by one Lua script (read-modify-write in a single atomic step,
clocked by the Redis server so every web process agrees). Without Redis — the embedded
default, which runs one web process — it lives in this process's memory behind a lock.

A limiter must never be why a request fails: when Redis cannot be reached the buckets fall
back to this process's memory (a per-process limit: each web process allows the full rate
until Redis is back), with one warning per outage. During the outage Redis is tried again
at most every ``REDIS_RETRY_S`` seconds, so requests do not each wait for a dead server.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from functools import cache

from redis import Redis
from redis.commands.core import Script
from redis.exceptions import RedisError

from apps.core.logging import kv
from apps.core.redis_client import redis_get

logger = logging.getLogger(__name__)

REDIS_RETRY_S = 5.0

_LUA_TAKE = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return {allowed, tostring(wait)}
"""


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after: int  # whole seconds until one token is back (0 when allowed)


class _MemoryBuckets:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, capacity: float, rate: float) -> tuple[bool, float]:
        now = time.monotonic()
        with self._lock:
            tokens, ts = self._buckets.get(key, (capacity, now))
            tokens = min(capacity, tokens + (now - ts) * rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return True, 0.0
            self._buckets[key] = (tokens, now)
            return False, (1 - tokens) / rate

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()


_memory = _MemoryBuckets()


class _RedisOutage:
    """Whether Redis is being skipped, since when, and when to try it again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.since: float | None = None
        self._retry_at = 0.0

    def should_skip(self) -> bool:
        if self.since is None:  # the usual case, without taking the lock
            return False
        with self._lock:
            return self.since is not None and time.monotonic() < self._retry_at

    def failed(self, error: Exception) -> None:
        now = time.monotonic()
        with self._lock:
            first = self.since is None
            if first:
                self.since = now
            self._retry_at = now + REDIS_RETRY_S
        if first:  # one line per outage, not one per request
            logger.warning(kv("ratelimit.redis_unavailable", fallback="per-process",
                              error=type(error).__name__, retry_s=REDIS_RETRY_S))

    def succeeded(self) -> None:
        if self.since is None:  # the usual case, without taking the lock
            return
        with self._lock:
            since, self.since = self.since, None
        if since is not None:
            logger.info(kv("ratelimit.redis_back", outage_s=round(time.monotonic() - since, 1)))

    def clear(self) -> None:
        with self._lock:
            self.since, self._retry_at = None, 0.0


_outage = _RedisOutage()


@cache
def _take_script(client: Redis) -> Script:
    return client.register_script(_LUA_TAKE)


def rate_limit_take(key: str, *, limit: int, period: float = 60.0) -> RateDecision:
    """Take one token from bucket ``key``; never blocks on an empty bucket and never raises
    for Redis (see the module docstring). ``limit <= 0`` means unlimited."""
    if limit <= 0:
        return RateDecision(True, 0)
    rate = limit / period
    taken = _redis_take(key, limit, rate)
    if taken is None:
        taken = _memory.take(key, float(limit), rate)
    allowed, wait = taken
    return RateDecision(allowed, 0 if allowed else max(1, math.ceil(wait)))


def _redis_take(key: str, limit: int, rate: float) -> tuple[bool, float] | None:
    """The Redis bucket's answer, or None without Redis or while it cannot be reached."""
    client = redis_get()
    if client is None or _outage.should_skip():
        return None
    try:
        allowed_raw, wait_raw = _take_script(client)(keys=[f"rl:{key}"], args=[limit, rate])
    except RedisError as error:  # connection refused, timeout, loading, read-only replica…
        _outage.failed(error)
        return None
    _outage.succeeded()
    return bool(int(allowed_raw)), float(wait_raw)


def rate_limit_reset() -> None:
    """Forget in-memory buckets and any Redis outage (tests)."""
    _memory.clear()
    _outage.clear()
