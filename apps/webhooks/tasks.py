"""Celery tasks: thin wrappers that call one service. Idempotent: a delivery is claimed with
a conditional UPDATE before it is sent, so a task run twice sends nothing twice."""

from __future__ import annotations

import logging
import smtplib

from celery import shared_task

from apps.core.logging import kv

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def webhook_deliver_task(msg_ids: list[str]) -> int:
    """Send these deliveries now (enqueued after the commit that recorded them, or by a
    redelivery). What it misses — a lost message, a worker killed mid-send — the due job
    sends later."""
    from apps.webhooks.services import deliveries_send

    return deliveries_send(msg_ids)


@shared_task
def webhook_deliveries_due() -> int:
    """Beat: send the deliveries whose time has come (retries, lost sends, expired leases)."""
    from apps.webhooks.services import deliveries_send_due

    return deliveries_send_due()


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def endpoint_disabled_alert_task(self, endpoint_id: int) -> None:
    """E-mail the source's account manager that one of its endpoints was switched off; a
    mail server that is down is tried again a few times, a minute apart."""
    from apps.webhooks.alerts import endpoint_disabled_alert_send

    try:
        endpoint_disabled_alert_send(endpoint_id)
    except (OSError, smtplib.SMTPException) as error:
        logger.warning(kv("webhook.alert_failed", endpoint=endpoint_id,
                          error=type(error).__name__))
        if not self.request.called_directly:
            raise self.retry(exc=error) from None
