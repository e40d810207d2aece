"""The circuit breaker: auto-pause a contract after N consecutive slow or failed answers,
resume it when a health ping succeeds.

The consecutive counters are shared by every web and worker process: in Redis when
``REDIS_URL`` is set (one Lua script per contract, all in one pipeline round trip), else in
the contract row with ``F()`` updates (the embedded default). Pausing is a conditional UPDATE
(``auto_paused_at IS NULL``), so of several processes crossing the threshold at once exactly
one pauses, logs and alerts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from django.core.mail import send_mail
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from redis.commands.core import Script

from apps.auctions.models import HealthEvent, HealthEventKind
from apps.buyers.models import Contract, ContractStatus
from apps.core.logging import kv
from apps.core.redis_client import redis_get
from apps.core.sql import sql_in

logger = logging.getLogger(__name__)

_LUA_OBSERVE = """
local slow, err
if ARGV[1] == '1' then slow = redis.call('INCR', KEYS[1]) else
  redis.call('SET', KEYS[1], 0); slow = 0 end
if ARGV[2] == '1' then err = redis.call('INCR', KEYS[2]) else
  redis.call('SET', KEYS[2], 0); err = 0 end
return {slow, err}
"""


@dataclass(frozen=True, slots=True)
class Observation:
    """One request to a contract: was it slower than its threshold, did it fail?"""

    contract_id: int
    slow: bool
    failed: bool
    slow_limit: int  # consecutive slow answers that pause
    error_limit: int  # consecutive failures that pause


@cache
def _observe_script() -> Script:
    return redis_get().register_script(_LUA_OBSERVE)


def _keys(contract_id: int) -> list[str]:
    return [f"health:{contract_id}:slow", f"health:{contract_id}:err"]


def health_observe(observations: Iterable[Observation]) -> list[int]:
    """Count ``observations``; pause the contracts whose streak reached its limit. Returns
    the ids of the contracts this call paused."""
    observations = list(observations)
    if not observations:
        return []
    client = redis_get()
    tripped: list[tuple[int, str]] = []
    if client is not None:
        pipe = client.pipeline(transaction=False)
        for o in observations:
            _observe_script()(keys=_keys(o.contract_id), args=[int(o.slow), int(o.failed)],
                              client=pipe)
        for o, (slow, err) in zip(observations, pipe.execute(), strict=True):
            reason = _trip_reason(o, int(slow), int(err))
            if reason:
                tripped.append((o.contract_id, reason))
    else:
        tripped = _observe_in_database(observations)
    return [cid for cid, reason in tripped if contract_pause(cid, reason)]


def _trip_reason(o: Observation, slow: int, err: int) -> str:
    if o.error_limit and err >= o.error_limit:
        return f"{err} consecutive failed requests"
    if o.slow_limit and slow >= o.slow_limit:
        return f"{slow} consecutive slow answers"
    return ""


def _observe_in_database(observations: list[Observation]) -> list[tuple[int, str]]:
    """One UPDATE for every observation, touching only rows whose streak changes (the
    counters of healthy contracts already at zero are left alone, so concurrent auctions
    rarely wait on each other's row locks). Plain SQL: it runs after every auction, and the
    ORM took longer to compile its four IN lists than the database took to run it."""
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
    streaks = Contract.objects.filter(
        Q(pk__in=slow) | Q(pk__in=failed), auto_paused_at__isnull=True
    ).values_list("pk", "consecutive_slow", "consecutive_errors")
    by_id = {o.contract_id: o for o in observations}
    return [(cid, reason) for cid, slow, err in streaks
            if (reason := _trip_reason(by_id[cid], slow, err))]


def contract_pause(contract_id: int, reason: str) -> bool:
    """Open the breaker; True when this call did it (it was not already paused)."""
    now = timezone.now()
    if not Contract.objects.filter(pk=contract_id, auto_paused_at__isnull=True).update(
            auto_paused_at=now, auto_pause_reason=reason[:255]):
        return False
    HealthEvent.objects.create(contract_id=contract_id, kind=HealthEventKind.PAUSED,
                               reason=reason[:255])
    logger.warning(kv("contract.auto_paused", contract=contract_id, reason=reason))
    _alert(contract_id, f"auto-paused: {reason}")
    return True


def contract_resume(contract_id: int, reason: str) -> bool:
    """Close the breaker and reset the streaks; True when this call did it."""
    if not Contract.objects.filter(pk=contract_id, auto_paused_at__isnull=False).update(
            auto_paused_at=None, auto_pause_reason="", consecutive_slow=0,
            consecutive_errors=0):
        return False
    client = redis_get()
    if client is not None:
        client.delete(*_keys(contract_id))
    HealthEvent.objects.create(contract_id=contract_id, kind=HealthEventKind.RESUMED,
                               reason=reason[:255])
    logger.info(kv("contract.resumed", contract=contract_id, reason=reason))
    _alert(contract_id, f"resumed: {reason}")
    return True


def _alert(contract_id: int, what: str) -> None:
    """E-mail the buyer's account manager (through Django's mail backend)."""
    contract = Contract.objects.select_related("buyer__account_manager").get(pk=contract_id)
    manager = contract.buyer.account_manager
    if manager is None or not manager.email:
        return
    send_mail(subject=f"[leadexchange] {contract} {what.split(':')[0]}",
              message=f"Contract {contract} was {what}.",
              from_email=None, recipient_list=[manager.email], fail_silently=True)


def contract_switch(contract: Contract, *, on: bool, reason: str) -> None:
    """Staff switch a contract off (``status`` paused) or on; switching on also closes an
    open circuit breaker. Takes effect on the next auction in every process."""
    Contract.objects.filter(pk=contract.pk).update(
        status=ContractStatus.ACTIVE if on else ContractStatus.PAUSED)
    if on and contract.auto_paused_at is not None:
        contract_resume(contract.pk, reason)
    logger.info(kv("contract.switched", contract=contract.pk, on=on, reason=reason))
    contract.refresh_from_db()
