"""The circuit breaker: auto-pause a contract after N consecutive slow or failed answers,
resume it when a health ping succeeds.

The streaks live behind ``StreakStorage`` (Redis or the database: shared by every web and
worker process). Pausing is a conditional UPDATE (``auto_paused_at IS NULL``), so of several
processes crossing the threshold at once exactly one pauses, logs and alerts. The breaker
watches auctions but never decides one: ``health_observe`` runs after the lead's outcome is
recorded and swallows (and logs) any failure of its own, and the account manager's e-mail is
sent by a task, never on the auction's thread.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.auctions.health.storage import Observation, Streak, streak_storage
from apps.auctions.metrics import pings_record
from apps.auctions.models import HealthEvent, HealthEventKind
from apps.buyers.models import Contract, ContractStatus
from apps.core.dispatch import task_enqueue
from apps.core.exceptions import ApplicationError
from apps.core.logging import kv

logger = logging.getLogger(__name__)


def health_observe(observations: Iterable[Observation]) -> list[int]:
    """Count ``observations`` (and record the pings among them in the metrics); pause the
    contracts whose streak reached its limit. Returns the ids of the contracts this call
    paused. Never raises: a storage outage (Redis down) or any other fault is logged and
    the observations are dropped."""
    observations = list(observations)
    if not observations:
        return []
    pings_record(observations)  # every caller's pings reach the metrics here (never raises)
    try:
        streaks = streak_storage().count(observations)
        limits = {o.contract_id: o for o in observations}
        return [s.contract_id for s in streaks
                if (reason := _trip_reason(limits[s.contract_id], s))
                and contract_pause(s.contract_id, reason)]
    except Exception as error:
        logger.warning(kv("breaker.unavailable", error=type(error).__name__,
                          observations=len(observations)))
        return []


def _trip_reason(o: Observation, streak: Streak) -> str:
    if o.error_limit and streak.failed >= o.error_limit:
        return f"{streak.failed} consecutive failed requests"
    if o.slow_limit and streak.slow >= o.slow_limit:
        return f"{streak.slow} consecutive slow answers"
    return ""


# An auto-pause whose reason starts so was a routing rule's (apps.routing): health pings
# leave it alone (a fast ping does not say the rule's condition cleared); the rule undoes it.
RULE_PAUSE_PREFIX = "rule "


def contract_pause(contract_id: int, reason: str, *, at: datetime | None = None) -> bool:
    """Open the breaker (at ``at``, default now); True when this call did it (it was not
    already paused). The account manager is told by ``contract_alert_task``, after the
    pause is committed."""
    with transaction.atomic():
        if not Contract.objects.filter(pk=contract_id, auto_paused_at__isnull=True).update(
                auto_paused_at=at or timezone.now(), auto_pause_reason=reason[:255]):
            return False
        HealthEvent.objects.create(contract_id=contract_id, kind=HealthEventKind.PAUSED,
                                   reason=reason[:255])
        _alert(contract_id, f"auto-paused: {reason}")
    logger.warning(kv("contract.auto_paused", contract=contract_id, reason=reason))
    return True


def contract_resume(contract_id: int, reason: str, *,
                    paused_at: datetime | None = None) -> bool:
    """Close the breaker and end the streaks; True when this call did it. With
    ``paused_at``, only the pause made at that instant is closed (a routing rule undoing
    its own pause leaves a later one, or none, alone)."""
    paused = ({"auto_paused_at": paused_at} if paused_at is not None
              else {"auto_paused_at__isnull": False})
    with transaction.atomic():
        if not Contract.objects.filter(pk=contract_id, **paused).update(
                auto_paused_at=None, auto_pause_reason="", consecutive_slow=0,
                consecutive_errors=0):
            return False
        HealthEvent.objects.create(contract_id=contract_id, kind=HealthEventKind.RESUMED,
                                   reason=reason[:255])
        _alert(contract_id, f"resumed: {reason}")
    try:
        streak_storage().reset(contract_id)
    except Exception as error:
        logger.warning(kv("breaker.unavailable", error=type(error).__name__,
                          contract=contract_id))
    logger.info(kv("contract.resumed", contract=contract_id, reason=reason))
    return True


def _alert(contract_id: int, what: str) -> None:
    from apps.auctions.tasks import contract_alert_task

    task_enqueue(contract_alert_task, contract_id, what)


def contract_switch(contract: Contract, *, on: bool, reason: str) -> None:
    """Staff switch a contract off (``status`` paused) or on; switching on also closes an
    open circuit breaker. Takes effect on the next auction in every process.

    A contract in ``testing`` is neither: it goes live through ``contract_go_live`` only,
    so pausing and resuming it raise ``ApplicationError`` (409) and change nothing."""
    switched = Contract.objects.filter(pk=contract.pk).exclude(
        status=ContractStatus.TESTING).update(
        status=ContractStatus.ACTIVE if on else ContractStatus.PAUSED)
    if not switched:
        raise ApplicationError(
            "This contract is in testing and takes no live traffic yet: run a test round "
            "trip, then switch it live (go-live).", status_code=409, code="testing")
    if on and contract.auto_paused_at is not None:
        contract_resume(contract.pk, reason)
    logger.info(kv("contract.switched", contract=contract.pk, on=on, reason=reason))
    contract.refresh_from_db()


def contract_go_live(contract: Contract, *, reason: str) -> None:
    """Staff switch a contract in ``testing`` live (``active``): from the next auction in
    every process it takes live leads. Idempotent for a contract already live; raises
    ``ApplicationError`` (409) for a paused one, which staff resume instead."""
    went_live = Contract.objects.filter(pk=contract.pk, status=ContractStatus.TESTING).update(
        status=ContractStatus.ACTIVE)
    contract.refresh_from_db()
    if not went_live and contract.status == ContractStatus.PAUSED:
        raise ApplicationError("This contract is live but paused: resume it instead.",
                               status_code=409, code="paused")
    if went_live:
        logger.info(kv("contract.live", contract=contract.pk, reason=reason))
