"""Celery tasks: thin wrappers that load by id and call one service. Idempotent: each service
claims its work with a conditional UPDATE, so a redelivered task does nothing twice."""

from __future__ import annotations

import logging
import smtplib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from celery import shared_task

from apps.core.logging import kv

if TYPE_CHECKING:
    from apps.leads.models import Lead

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def auction_run_task(lead_id: int, *, deadline: float | None = None,
                     ping_id: int | None = None, deadline_at: float | None = None,
                     done_key: str | None = None,
                     on_decided: Callable[[Lead], object] | None = None) -> Lead:
    """A lead's auction (``auction_run``): queued for an async lead or a re-driven one, or
    called in-process by a sync capture with the source's ``deadline`` (``time.monotonic()``
    of this process) and ``on_decided`` (so never sent through the broker). A sync lead
    sent to a worker (``SYNC_AUCTION_EXECUTOR=celery``) carries its deadline as wall-clock
    ``deadline_at`` and the key its request waits on (``done_key``), signalled once the
    outcome is recorded, before the auction's bookkeeping (or at the end, when it ends
    undecided). Returns the lead as the auction left it (results are not stored)."""
    from apps.auctions.services import auction_run
    from apps.core.handoff import handoff_done

    if deadline_at is not None:
        deadline = time.monotonic() + (deadline_at - time.time())
    told = False

    def decided(lead: Lead) -> None:
        nonlocal told
        told = True
        handoff_done(done_key)
        if on_decided is not None:
            on_decided(lead)

    try:
        return auction_run(lead_id, deadline=deadline, ping_id=ping_id, on_decided=decided)
    finally:
        if not told:
            handoff_done(done_key)


@shared_task
def post_retries_due() -> int:
    from apps.auctions.services.maintenance import post_retries_run_due

    return post_retries_run_due()


@shared_task
def health_pings() -> None:
    from apps.auctions.services.maintenance import health_pings_run

    health_pings_run()


@shared_task
def leads_redrive() -> int:
    from apps.auctions.services.maintenance import leads_redrive as redrive

    return redrive()


@shared_task
def cap_holds_purge() -> int:
    from django.utils import timezone

    from apps.auctions.caps import cap_holds_purge as purge

    return purge(now=timezone.now())


@shared_task
def acceptance_refresh() -> None:
    from apps.auctions.services.maintenance import acceptance_refresh as refresh

    refresh()


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def contract_alert_task(self, contract_id: int, what: str) -> None:
    """E-mail a contract's account manager that its breaker opened or closed; a mail server
    that is down is tried again a few times, a minute apart (in a worker)."""
    from apps.auctions.health.alerts import contract_alert_send

    try:
        contract_alert_send(contract_id, what)
    except (OSError, smtplib.SMTPException) as error:
        logger.warning(kv("contract.alert_failed", contract=contract_id,
                          error=type(error).__name__))
        if not self.request.called_directly:
            raise self.retry(exc=error) from None
