"""Where the circuit breaker keeps its streaks: one small interface, two stores.

Like Saleor's breaker board (``saleor/webhook/circuit_breaker/storage.py``), the breaker only
talks to a ``StreakStorage``; which one is used is a setting: Redis when ``REDIS_URL`` is set
(one hash, one Lua script call per auction, shared by every process), else the contract row
with atomic SQL updates (the embedded default). Either raises on an outage; the breaker
catches it (``apps.auctions.health.breaker``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Protocol

import redis
from django.db import connection
from django.db.models import Q
from redis.commands.core import Script

from apps.buyers.models import Contract
from apps.core.redis_client import redis_get
from apps.core.sql import sql_in, sql_rows


@dataclass(frozen=True, slots=True)
class Observation:
    """One request to a contract: was it slower than its threshold, did it fail? A ping's
    also says how long it took and its outcome code (``apps.auctions.metrics`` counts
    them)."""

    contract_id: int
    slow: bool
    failed: bool
    slow_limit: int  # consecutive slow answers that pause
    error_limit: int  # consecutive failures that pause
    kind: str = ""  # "ping" for a ping round's answer
    latency_ms: float | None = None
    outcome: str = ""


@dataclass(frozen=True, slots=True)
class Streak:
    """A contract's consecutive slow answers and failures after an observation."""

    contract_id: int
    slow: int
    failed: int


class StreakStorage(Protocol):
    def count(self, observations: Sequence[Observation]) -> list[Streak]:
        """Add ``observations`` in order (a slow or failed one extends a streak, a good one
        ends it) and return the streaks of the contracts that had a slow or failed
        observation. Raises on a storage outage."""

    def reset(self, contract_id: int) -> None:
        """End both streaks of ``contract_id`` (it was resumed)."""


# One call per auction, for all its observations in order. The streaks live in one hash,
# two fields per contract with a streak (``<id>:s`` slow, ``<id>:e`` failed; a missing field
# is 0). ARGV holds each observation's contract id and two flags; the answer is each
# observation's two streaks. The script reads the auction's fields once (HMGET) and writes
# only those that changed, so an auction whose buyers were all healthy, and were before,
# writes nothing: one command instead of one script call and two SETs per contract.
_LUA_OBSERVE = """
local fields = {}
for i = 1, #ARGV, 3 do
  fields[#fields + 1] = ARGV[i] .. ':s'
  fields[#fields + 1] = ARGV[i] .. ':e'
end
local stored = redis.call('HMGET', KEYS[1], unpack(fields))
local before, now = {}, {}
for j, f in ipairs(fields) do
  before[f] = tonumber(stored[j]) or 0
  now[f] = before[f]
end
local out = {}
for i = 1, #ARGV, 3 do
  local s, e = ARGV[i] .. ':s', ARGV[i] .. ':e'
  if ARGV[i + 1] == '1' then now[s] = now[s] + 1 else now[s] = 0 end
  if ARGV[i + 2] == '1' then now[e] = now[e] + 1 else now[e] = 0 end
  out[#out + 1] = now[s]
  out[#out + 1] = now[e]
end
local set, gone = {}, {}
for f, v in pairs(now) do
  if v ~= before[f] then
    if v == 0 then gone[#gone + 1] = f else
      set[#set + 1] = f
      set[#set + 1] = v
    end
  end
end
if #set > 0 then redis.call('HSET', KEYS[1], unpack(set)) end
if #gone > 0 then redis.call('HDEL', KEYS[1], unpack(gone)) end
return out
"""
_STREAKS_KEY = "health:streaks"


class RedisStreaks:
    """Streaks as two fields per contract of one Redis hash."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.script: Script = client.register_script(_LUA_OBSERVE)

    def count(self, observations: Sequence[Observation]) -> list[Streak]:
        if not observations:
            return []
        args = [value for o in observations
                for value in (o.contract_id, int(o.slow), int(o.failed))]
        counts = self.script(keys=[_STREAKS_KEY], args=args)
        return [Streak(o.contract_id, int(counts[2 * n]), int(counts[2 * n + 1]))
                for n, o in enumerate(observations) if o.slow or o.failed]

    def reset(self, contract_id: int) -> None:
        self.client.hdel(_STREAKS_KEY, f"{contract_id}:s", f"{contract_id}:e")


class DatabaseStreaks:
    """Streaks in the contract row (``consecutive_slow``, ``consecutive_errors``)."""

    def count(self, observations: Sequence[Observation]) -> list[Streak]:
        """One UPDATE for every observation, touching only rows whose streak changes (the
        counters of healthy contracts already at zero are left alone, so concurrent auctions
        rarely wait on each other's row locks), and none at all when nothing would change.
        Plain SQL: it runs after every auction, and the ORM took longer to compile its four
        IN lists than the database took to run it."""
        seen = [o.contract_id for o in observations]
        slow = [o.contract_id for o in observations if o.slow]
        failed = [o.contract_id for o in observations if o.failed]
        table = Contract._meta.db_table

        def bump(column: str, ids: list[int]) -> tuple[str, list[int]]:
            if not ids:
                return f"{column} = 0", []
            return f"{column} = CASE WHEN id IN {sql_in(ids)} THEN {column} + 1 ELSE 0 END", ids

        if not slow and not failed and not sql_rows(
                f"SELECT 1 FROM {table} WHERE id IN {sql_in(seen)} "  # noqa: S608 - parameters
                "AND (consecutive_slow > 0 OR consecutive_errors > 0) LIMIT 1", seen):
            # Every answer was good and no streak is running: nothing to write. An UPDATE
            # that changes no row would still take SQLite's one write turn, as every auction
            # of healthy buyers did; the read does not. (A streak another auction starts in
            # between is left running: as if its answer had come after these.)
            return []
        set_slow, slow_params = bump("consecutive_slow", slow)
        set_errors, error_params = bump("consecutive_errors", failed)
        changed = [f"id IN {sql_in(ids)}" for ids in (slow, failed) if ids]
        changed.append("consecutive_slow > 0 OR consecutive_errors > 0")
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {set_slow}, {set_errors} "  # noqa: S608 - ids are parameters
                f"WHERE id IN {sql_in(seen)} AND ({' OR '.join(changed)})",
                [*slow_params, *error_params, *seen, *slow, *failed])
        if not slow and not failed:
            return []
        return [Streak(*row) for row in Contract.objects.filter(
            Q(pk__in=slow) | Q(pk__in=failed)
        ).values_list("pk", "consecutive_slow", "consecutive_errors")]

    def reset(self, contract_id: int) -> None:
        Contract.objects.filter(pk=contract_id).update(consecutive_slow=0, consecutive_errors=0)


@cache
def _redis_streaks(client: redis.Redis) -> RedisStreaks:
    return RedisStreaks(client)


def streak_storage() -> StreakStorage:
    """The store for this process: Redis when configured, else the database."""
    client = redis_get()
    return _redis_streaks(client) if client is not None else DatabaseStreaks()
