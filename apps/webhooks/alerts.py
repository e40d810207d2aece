"""Telling a source's account manager that one of its webhook endpoints was switched off.

Sent from a task (``endpoint_disabled_alert_task``), never from a delivery: a mail server
that is slow or down costs the alert, not a message. ``EMAIL_TIMEOUT`` bounds each attempt.
"""

from __future__ import annotations

from django.core.mail import send_mail

from apps.webhooks.models import WebhookEndpoint


def endpoint_disabled_alert_send(endpoint_id: int) -> bool:
    """E-mail the account manager of the endpoint's source why the endpoint is off.
    Returns whether a message went out (no manager or no address: nothing to do). Raises
    what the mail backend raises, so the task can retry."""
    endpoint = (WebhookEndpoint.objects.select_related("source__account_manager")
                .filter(pk=endpoint_id).first())
    manager = endpoint.source.account_manager if endpoint is not None else None
    if endpoint is None or manager is None or not manager.email:
        return False
    send_mail(
        subject=f"[leadexchange] webhook endpoint of {endpoint.source} disabled",
        message=(f"The webhook endpoint {endpoint.url} of source {endpoint.source} was "
                 f"switched off: {endpoint.disabled_reason or 'disabled'}.\n"
                 "Its deliveries are kept. Once the receiver works again, switch the endpoint "
                 "on and redeliver what it missed (admin: Webhook deliveries, or "
                 "POST /api/v1/sources/<id>/deliveries/redeliver)."),
        from_email=None, recipient_list=[manager.email])
    return True
