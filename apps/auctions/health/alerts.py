"""Telling a buyer's account manager that the breaker opened or closed on one of its contracts.

Sent from a task (``contract_alert_task``), never inside an auction: an SMTP server that is
slow or down costs the alert, not a lead. ``EMAIL_TIMEOUT`` bounds each attempt.
"""

from __future__ import annotations

from django.core.mail import send_mail

from apps.buyers.models import Contract


def contract_alert_send(contract_id: int, what: str) -> bool:
    """E-mail the account manager of ``contract_id`` that it was ``what`` ("auto-paused: …",
    "resumed: …"). Returns whether a message went out (no manager or address: nothing to
    do). Raises what the mail backend raises, so the task can retry."""
    contract = (Contract.objects.select_related("buyer__account_manager")
                .filter(pk=contract_id).first())
    manager = contract.buyer.account_manager if contract is not None else None
    if manager is None or not manager.email:
        return False
    send_mail(subject=f"[leadexchange] {contract} {what.split(':')[0]}",
              message=f"Contract {contract} was {what}.",
              from_email=None, recipient_list=[manager.email])
    return True
