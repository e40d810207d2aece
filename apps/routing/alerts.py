"""E-mail about a firing: a contract's account manager (the breaker's own alert), or the
site's admins (``ADMINS``) for a source, which has no account manager."""

from __future__ import annotations

from django.core.mail import mail_admins

from apps.auctions.health.alerts import contract_alert_send
from apps.routing.models import RuleFiring


def firing_alert_send(firing_id: int, what: str) -> bool:
    """Send the alert about ``firing_id``; returns whether a message went out. Raises what
    the mail backend raises, so the task can retry."""
    firing = RuleFiring.objects.select_related("source").filter(pk=firing_id).first()
    if firing is None:
        return False
    if firing.contract_id is not None:
        return contract_alert_send(firing.contract_id, what)
    mail_admins(subject=f"Source {firing.source} {what.split(':')[0]}",
                message=f"Source {firing.source} was {what}.")
    return True
