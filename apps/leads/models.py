"""Leads, their de-duplication claims and idempotency records."""

from __future__ import annotations

import uuid

from django.db import models
from django.urls import reverse

from apps.sources.models import Source, SourceApiKey, Vertical


class LeadStatus(models.TextChoices):
    RECEIVED = "received"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    AUCTIONING = "auctioning"
    SOLD = "sold"
    UNSOLD = "unsold"
    ERROR = "error"
    RETURNED = "returned"  # sold, then every buyer's return of it approved (apps.billing)


# Statuses after which the auction never changes a lead again (only an approved return
# turns ``sold`` into ``returned``).
FINAL_STATUSES = frozenset(
    {LeadStatus.REJECTED, LeadStatus.DUPLICATE, LeadStatus.SOLD, LeadStatus.UNSOLD,
     LeadStatus.ERROR, LeadStatus.RETURNED}
)
# Leads that were sold: a returned lead was sold too (reports count it in sold and revenue,
# and its approved returns in the net figures).
SOLD_STATUSES = (LeadStatus.SOLD, LeadStatus.RETURNED)


class Lead(models.Model):
    """A consumer lead as a source submitted it, normalized and enriched.

    ``fields`` holds the normalized values keyed by the vertical's field keys. Rejected and
    duplicate submissions are stored too (with ``errors`` / ``duplicate_of``) so reports can show
    rejection rates per source; a rejected lead keeps only the fields that passed validation.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    vertical = models.ForeignKey(
        Vertical, on_delete=models.PROTECT, related_name="leads", null=True, blank=True
    )
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="leads")
    api_key = models.ForeignKey(
        SourceApiKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        max_length=12, choices=LeadStatus.choices, default=LeadStatus.RECEIVED
    )
    is_test = models.BooleanField(default=False)
    sub_id = models.CharField(max_length=255, blank=True, db_index=True)
    sub_ids = models.JSONField(default=dict, blank=True)
    fields = models.JSONField(default=dict, blank=True)
    enrichment = models.JSONField(default=dict, blank=True)
    consent = models.JSONField(default=dict, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    consumer_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=1000, blank=True)

    errors = models.JSONField(default=dict, blank=True)
    message = models.CharField(max_length=255, blank=True)
    duplicate_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    sale_price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    payout = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    margin = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)

    received_at = models.DateTimeField(auto_now_add=True)
    auction_started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["source", "-received_at"], name="lead_source_received"),
            models.Index(fields=["status", "received_at"], name="lead_status_received"),
            models.Index(fields=["vertical", "received_at"], name="lead_vertical_received"),
            models.Index(fields=["received_at"], name="lead_received"),
        ]

    def __str__(self) -> str:
        return str(self.uuid)

    def get_absolute_url(self) -> str:
        """The lead's status URL in the source API."""
        return reverse("api:lead-detail", kwargs={"lead_id": self.uuid})

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class DedupeClaim(models.Model):
    """Who owns a consumer identity (or a payload) until ``expires_at``.

    ``key`` is a digest (never the e-mail or phone itself) scoped by vertical or by source.
    The unique index makes de-duplication exact under concurrency: of two identical leads
    inserted at once, the database lets exactly one claim the key.
    """

    key = models.CharField(max_length=64, unique=True)
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.key


class IdempotencyRecord(models.Model):
    """The stored answer to a request sent with an ``Idempotency-Key``.

    Inserted before the work starts (``completed_at`` empty) so that concurrent twins find it
    and wait; the answer is replayed to every later request with the same key and body.
    """

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "key"], name="uniq_idempotency_source_key")
        ]

    def __str__(self) -> str:
        return self.key
