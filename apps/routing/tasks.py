"""Celery tasks of the routing rules: thin wrappers over one service each."""

from __future__ import annotations

import logging
import smtplib

from celery import shared_task

from apps.core.logging import kv

logger = logging.getLogger(__name__)


@shared_task
def routing_rules_evaluate() -> int:
    """Evaluate every rule (periodic); returns the firings opened plus closed."""
    from apps.routing.evaluation import rules_evaluate

    result = rules_evaluate()
    return result.opened + result.closed


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def routing_alert_task(self, firing_id: int, what: str) -> None:
    """Tell people a rule fired or cleared: the contract's account manager, or the site's
    admins for a source; a mail server that is down is tried again a few times."""
    from apps.routing.alerts import firing_alert_send

    try:
        firing_alert_send(firing_id, what)
    except (OSError, smtplib.SMTPException) as error:
        logger.warning(kv("routing.alert_failed", firing=firing_id, error=type(error).__name__))
        if not self.request.called_directly:
            raise self.retry(exc=error) from error
