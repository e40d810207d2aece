"""Token-bucket rate limits, atomic across processes when Redis is configured.

A bucket holds ``limit`` tokens and refills at ``limit`` per ``period`` seconds, so a client
may burst its whole quota and then proceeds at the steady rate. With ``REDIS_URL`` the bucket
lives in Redis and is updated by one Lua script (read-modify-write in a single atomic step,
clocked by the Redis server so every web process agrees). Without Redis — the embedded
default, which runs one web process — it lives in this process's memory behind a lock.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from functools import cache

from redis.commands.core import Script

from apps.core.redis_client import redis_get

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


@cache
def _take_script() -> Script:
    client = redis_get()
    assert client is not None
    return client.register_script(_LUA_TAKE)


def rate_limit_take(key: str, *, limit: int, period: float = 60.0) -> RateDecision:
    """Take one token from bucket ``key``; never blocks. ``limit <= 0`` means unlimited."""
    if limit <= 0:
        return RateDecision(True, 0)
    rate = limit / period
    client = redis_get()
    if client is None:
        allowed, wait = _memory.take(key, float(limit), rate)
    else:
        allowed_raw, wait_raw = _take_script()(keys=[f"rl:{key}"], args=[limit, rate])
        allowed, wait = bool(int(allowed_raw)), float(wait_raw)
    return RateDecision(allowed, 0 if allowed else max(1, math.ceil(wait)))


def rate_limit_reset() -> None:
    """Forget in-memory buckets (tests)."""
    _memory.clear()
