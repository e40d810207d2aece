"""What a source hears after the auction: its webhook endpoints, and the outbox of deliveries
(webhooks and postbacks) with every attempt.

A delivery row is written in the same transaction as the lead's outcome
(``services.source_event_record``), so an outcome that committed always has its
notifications; the row is then the work item — claimed, sent, retried with growing delays,
and logged attempt by attempt (``WebhookAttempt``) — until it succeeds or its retry schedule
runs out.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.core.http import BlockedUrl, url_check
from apps.core.models import TimeStampedModel
from apps.core.sealing import SealedTextField
from apps.leads.models import Lead
from apps.sources.models import Source


class SourceEvent(models.TextChoices):
    LEAD_SOLD = "lead.sold", "lead.sold"
    LEAD_UNSOLD = "lead.unsold", "lead.unsold"
    LEAD_RETURNED = "lead.returned", "lead.returned"
    LEAD_ERROR = "lead.error", "lead.error"


# The lead's status as the event tells it (the payload's ``status``, the ``{status}`` macro).
EVENT_STATUS: dict[str, str] = {
    SourceEvent.LEAD_SOLD: "sold",
    SourceEvent.LEAD_UNSOLD: "unsold",
    SourceEvent.LEAD_RETURNED: "returned",
    SourceEvent.LEAD_ERROR: "error",
}
# A tracker hears of money only: a sale, and an approved return (negative payout).
POSTBACK_EVENTS = frozenset({SourceEvent.LEAD_SOLD, SourceEvent.LEAD_RETURNED})


def all_events() -> list[str]:
    return list(SourceEvent.values)


def validate_events(value: object) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("A non-empty list of events: " + ", ".join(SourceEvent.values))
    for event in value:
        if event not in SourceEvent.values:
            raise ValidationError(f"Unknown event {event!r}. Events: "
                                  + ", ".join(SourceEvent.values) + ".")
    if len(set(value)) != len(value):
        raise ValidationError("An event is listed twice.")


def validate_reachable_url(value: str) -> None:
    """Refuse a URL outbound HTTP may not request (the SSRF guard: private, loopback,
    link-local and metadata addresses unless ``HTTP_ALLOWED_NETWORKS`` admits them)."""
    try:
        url_check(value)
    except BlockedUrl as error:
        raise ValidationError(f"This address is refused: {error}.") from None


class WebhookEndpoint(TimeStampedModel):
    """A URL of a source that receives signed event payloads (Standard Webhooks).

    ``secret`` (``whsec_`` + base64 of 32 random bytes) is the HMAC key: shown once when the
    endpoint is created or rotated, never again; it is stored because signing needs it.
    After a rotation the previous secret signs too until ``previous_secret_expires_at``
    (both signatures in ``webhook-signature``), so the receiver can switch without losing a
    delivery. ``failing_since`` is the first failed attempt with no success after it; an
    endpoint failing for ``WEBHOOK_DISABLE_AFTER_S`` is switched off (``is_active`` false,
    ``disabled_at``) and the source's account manager told.
    """

    source = models.ForeignKey(Source, on_delete=models.CASCADE,
                               related_name="webhook_endpoints")
    url = models.URLField(max_length=1000, validators=[validate_reachable_url])
    description = models.CharField(max_length=255, blank=True)
    events = models.JSONField(default=all_events, validators=[validate_events],
                              help_text="Events sent here: " + ", ".join(SourceEvent.values))
    is_active = models.BooleanField(default=True)
    # the signing secrets, sealed at rest (apps.core.sealing)
    secret = SealedTextField(max_length=100, editable=False, purpose="webhook.secret")
    previous_secret = SealedTextField(max_length=100, blank=True, editable=False,
                                      purpose="webhook.previous_secret")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["source", "id"]
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return f"{self.url} ({self.source_id})"

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets that sign a message sent at ``now``: the current one, and the previous
        one while its grace period after a rotation lasts."""
        secrets = [self.secret]
        if (self.previous_secret and self.previous_secret_expires_at is not None
                and self.previous_secret_expires_at > now):
            secrets.append(self.previous_secret)
        return secrets


class DeliveryKind(models.TextChoices):
    WEBHOOK = "webhook"
    POSTBACK = "postback"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"  # due at next_attempt_at
    SENDING = "sending"  # claimed by a worker until next_attempt_at (its lease)
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the retry schedule ran out, or the endpoint was off: redeliver it


class WebhookDelivery(models.Model):
    """One event for one receiver (a webhook endpoint, or the source's postback URL): the
    outbox row and the delivery's state.

    ``msg_id`` is the ``webhook-id`` header, the same on every attempt and redelivery, so a
    receiver recognises a message it already has. ``body`` (webhooks) and ``url``
    (postbacks) are fixed at the first attempt and re-sent byte for byte. ``attempts``
    counts claims over the row's life (the claim token: a worker finishes only the claim it
    made); ``round_start`` is ``attempts`` when the current round began (creation or a
    redelivery), so the retry schedule restarts on a redelivery.
    """

    msg_id = models.CharField("webhook-id", max_length=40, unique=True)
    kind = models.CharField(max_length=8, choices=DeliveryKind.choices)
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.SET_NULL, null=True,
                                 blank=True, related_name="deliveries")
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=16, choices=SourceEvent.choices)
    payout = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)  # the event: payload timestamp
    body = models.TextField(blank=True)
    url = models.CharField("URL", max_length=2000, blank=True)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices,
                              default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    round_start = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # the due job's scan: only the rows still to send
            models.Index(fields=["next_attempt_at"], name="delivery_due",
                         condition=Q(status__in=["pending", "sending"])),
            models.Index(fields=["source", "-created_at"], name="delivery_source_created"),
            models.Index(fields=["endpoint", "created_at"], name="delivery_endpoint_created"),
            models.Index(fields=["created_at"], name="delivery_created"),
        ]

    def __str__(self) -> str:
        return self.msg_id

    @property
    def round_attempts(self) -> int:
        """Attempts made in the current round (what the retry schedule counts)."""
        return self.attempts - self.round_start


class WebhookAttempt(models.Model):
    """One try of a delivery: what was asked, how the receiver answered (or why it did not),
    how long it took. ``error`` is the outbound primitive's code (``timeout``, ``connect``,
    ``redirect``, ``too_large``, ``blocked``, ``protocol``), ``status`` for a complete non-2xx
    answer, or ``disabled`` when the endpoint was off and nothing was sent."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE,
                                 related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    url = models.CharField(max_length=2000)
    succeeded = models.BooleanField(default=False)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    error = models.CharField(max_length=16, blank=True)
    detail = models.CharField(max_length=255, blank=True)
    response_excerpt = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"],
                                               name="uniq_webhook_attempt_number")]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number}"
