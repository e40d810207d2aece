"""Celery tasks: thin wrappers that load by id and call one service. Idempotent: each service
claims its work with a conditional UPDATE, so a redelivered task does nothing twice."""

from __future__ import annotations

import logging
import smtplib

from celery import shared_task

from apps.core.logging import kv

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def auction_run_task(lead_id: int) -> None:
    """An async lead's auction, or a re-driven one (a sync capture calls the service on its
    own thread pool, with the source's deadline)."""
    from apps.auctions.services import auction_run

    auction_run(lead_id)


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
