"""Where the circuit breaker keeps its streaks: one small interface, two stores.

Like Saleor's breaker board (``saleor/webhook/circuit_breaker/storage.py``), the breaker only
talks to a ``StreakStorage``; which one is used is a setting: Redis when ``REDIS_URL`` is set
(one Lua script call per auction, shared by every process), else
the contract row with atomic SQL updates (the embedded default). Either raises on an outage;
the breaker catches it (``apps.auctions.health.breaker``).
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
from apps.core.sql import sql_in


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


# One call per auction for all its observations, in order: KEYS are each observation's slow
# and error counters, ARGV its two flags; the answer is every observation's two streaks. A
# streak that ends is deleted (a missing counter is 0): a healthy contract's counters are
# already gone, so the auctions of healthy buyers write nothing.
_LUA_OBSERVE = """
local out = {}
for i = 1, #KEYS, 2 do
  local slow, err = 0, 0
  if ARGV[i] == '1' then slow = redis.call('INCR', KEYS[i]) end
  if ARGV[i + 1] == '1' then err = redis.call('INCR', KEYS[i + 1]) end
  if slow == 0 and err == 0 then redis.call('DEL', KEYS[i], KEYS[i + 1])
  elseif slow == 0 then redis.call('DEL', KEYS[i])
  elseif err == 0 then redis.call('DEL', KEYS[i + 1]) end
  out[#out + 1] = slow
  out[#out + 1] = err
end
return out
"""


class RedisStreaks:
    """Streaks as two Redis counters per contract."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.script: Script = client.register_script(_LUA_OBSERVE)

    @staticmethod
    def _keys(contract_id: int) -> list[str]:
        return [f"health:{contract_id}:slow", f"health:{contract_id}:err"]

    def count(self, observations: Sequence[Observation]) -> list[Streak]:
        """One script call for the whole auction (it was one per contract: 51 of an
        auction's Redis commands with 50 buyers)."""
        if not observations:
            return []
        keys = [key for o in observations for key in self._keys(o.contract_id)]
        args = [flag for o in observations for flag in (int(o.slow), int(o.failed))]
        counts = self.script(keys=keys, args=args)
        return [Streak(o.contract_id, int(counts[2 * n]), int(counts[2 * n + 1]))
                for n, o in enumerate(observations) if o.slow or o.failed]

    def reset(self, contract_id: int) -> None:
        self.client.delete(*self._keys(contract_id))


class DatabaseStreaks:
    """Streaks in the contract row (``consecutive_slow``, ``consecutive_errors``)."""

    def count(self, observations: Sequence[Observation]) -> list[Streak]:
        """One UPDATE for every observation, touching only rows whose streak changes (the
        counters of healthy contracts already at zero are left alone, so concurrent auctions
        rarely wait on each other's row locks). Plain SQL: it runs after every auction, and
        the ORM took longer to compile its four IN lists than the database took to run it."""
        seen = [o.contract_id for o in observations]
        slow = [o.contract_id for o in observations if o.slow]
        failed = [o.contract_id for o in observations if o.failed]
        table = Contract._meta.db_table

        def bump(column: str, ids: list[int]) -> tuple[str, list[int]]:
            if not ids:
                return f"{column} = 0", []
            return f"{column} = CASE WHEN id IN {sql_in(ids)} THEN {column} + 1 ELSE 0 END", ids

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
