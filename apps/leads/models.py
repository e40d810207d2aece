"""Leads, their de-duplication claims and idempotency records."""

from __future__ import annotations

import functools
import uuid

from django.db import models
from django.db.models import Q
from django.urls import get_script_prefix, get_urlconf, reverse

from apps.core.sealing import SealedJSONField, SealedTextField
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
    SUPPRESSED = "suppressed"  # its consumer is on the suppression list: refused, stored


# Statuses after which the auction never changes a lead again (only an approved return
# turns ``sold`` into ``returned``).
FINAL_STATUSES = frozenset(
    {LeadStatus.REJECTED, LeadStatus.DUPLICATE, LeadStatus.SOLD, LeadStatus.UNSOLD,
     LeadStatus.ERROR, LeadStatus.RETURNED, LeadStatus.SUPPRESSED}
)
# Submissions refused at capture and counted as rejections in the reports (a suppressed lead
# under the reason ``suppressed``, a rejected one under its first invalid field).
REFUSED_STATUSES = (LeadStatus.REJECTED, LeadStatus.SUPPRESSED)
# Leads that were sold: a returned lead was sold too (reports count it in sold and revenue,
# and its approved returns in the net figures).
SOLD_STATUSES = (LeadStatus.SOLD, LeadStatus.RETURNED)


class Lead(models.Model):
    """A consumer lead as a source submitted it, normalized and enriched.

    ``fields`` holds the normalized values keyed by the vertical's field keys. Rejected and
    duplicate submissions are stored too (with ``errors`` / ``duplicate_of``) so reports can show
    rejection rates per source; a rejected lead keeps only the fields that passed validation,
    a suppressed one only its non-PII fields.

    ``email_digest`` / ``phone_digest`` are keyed digests (apps.core.pii) of the consumer's
    e-mail and phone (the vertical's first field of each type), set on the insert: how an
    erasure finds every lead of a consumer. An erased lead has neither, no PII fields and
    ``erased_at`` set.
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
    fields = SealedJSONField(default=dict, blank=True, purpose="lead.fields")
    enrichment = models.JSONField(default=dict, blank=True)
    consent = SealedJSONField(default=dict, blank=True, purpose="lead.consent")
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    # the consumer's IP and browser identify them too: sealed like the fields (validated as an
    # IP address at capture, apps.leads.intake)
    consumer_ip = SealedTextField(null=True, blank=True, max_length=45, purpose="lead.consumer_ip")
    user_agent = SealedTextField(max_length=1000, blank=True, purpose="lead.user_agent")

    errors = models.JSONField(default=dict, blank=True)
    message = models.CharField(max_length=255, blank=True)
    duplicate_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # NULL, not "", for "no such field": SQLite uses a partial index only when its condition
    # is IS NOT NULL, and then the index holds just the leads that have the field.
    email_digest = models.CharField(max_length=64, null=True, blank=True, editable=False)
    phone_digest = models.CharField(max_length=64, null=True, blank=True, editable=False)
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)

    sale_price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    payout = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    margin = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)

    received_at = models.DateTimeField(auto_now_add=True)
    auction_started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at"]
        # Seeing a consumer's personal data (the vertical's PII fields, IP, browser, consent
        # tokens) in the admin, the dashboards or the staff API; each reveal is audited.
        permissions = [("view_pii", "Can reveal consumers' personal data")]
        indexes = [
            models.Index(fields=["source", "-received_at"], name="lead_source_received"),
            models.Index(fields=["status", "received_at"], name="lead_status_received"),
            models.Index(fields=["vertical", "received_at"], name="lead_vertical_received"),
            models.Index(fields=["received_at"], name="lead_received"),
            # an erasure's lookups; partial, so leads without the field cost no index entry
            models.Index(fields=["email_digest"], name="lead_email_digest",
                         condition=Q(email_digest__isnull=False)),
            models.Index(fields=["phone_digest"], name="lead_phone_digest",
                         condition=Q(phone_digest__isnull=False)),
        ]

    def __str__(self) -> str:
        return str(self.uuid)

    def get_absolute_url(self) -> str:
        """The lead's status URL in the source API: every capture answers with it, so the
        route is reversed once per URLconf and script prefix, not per lead."""
        head, tail = _status_path_parts(get_urlconf(), get_script_prefix())
        return f"{head}{self.uuid}{tail}"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


_PROBE_ID = uuid.UUID(int=0)


@functools.lru_cache(maxsize=8)
def _status_path_parts(urlconf: str | None, prefix: str) -> tuple[str, str]:
    """What comes before and after the id in a lead's status path, for the URLconf and
    script prefix this thread resolves with (the arguments: the cache's key)."""
    path = reverse("api:lead-detail", kwargs={"lead_id": _PROBE_ID})
    head, _, tail = path.partition(str(_PROBE_ID))
    return head, tail


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
    response = SealedJSONField(null=True, blank=True, purpose="idempotency.response")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "key"], name="uniq_idempotency_source_key")
        ]

    def __str__(self) -> str:
        return self.key


class SuppressionReason(models.TextChoices):
    ERASED = "erased", "Erased on request"
    OPT_OUT = "opt_out", "Opted out"


class SuppressedConsumer(models.Model):
    """A consumer whose new leads are refused (``409 suppressed``): the keyed digest of an
    e-mail or a phone (apps.core.pii), never the value itself."""

    digest = models.CharField(max_length=64, unique=True)
    reason = models.CharField(max_length=8, choices=SuppressionReason.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "suppressed consumer"

    def __str__(self) -> str:
        return f"{self.digest[:12]}… ({self.reason})"


# The bounds of ``VerticalPrivacy.retention_days`` the admin and the staff API accept (empty:
# kept forever), and how they explain it.
RETENTION_DAYS_MIN, RETENTION_DAYS_MAX = 1, 3650
RETENTION_DAYS_HELP = ("Purge the personal data of this vertical's leads this many days after "
                       "they were received (1–3650; empty: keep it). Statuses, prices and "
                       "sales stay for the reports.")


class VerticalPrivacy(models.Model):
    """A vertical's privacy settings. No row: the defaults (suppression enforced, PII kept).
    Kept here, not on Vertical, so that capture (this app) reads it without the sources app
    changing. ``retention_days`` is enforced by the ``pii-retention`` job
    (apps.privacy.retention); the admin and the staff API bound it (``RETENTION_DAYS_*``)."""

    vertical = models.OneToOneField(Vertical, on_delete=models.CASCADE, related_name="privacy")
    suppression_enforced = models.BooleanField(
        default=True, help_text="Refuse new leads of suppressed consumers (409 suppressed).")
    retention_days = models.PositiveIntegerField(null=True, blank=True,
                                                 help_text=RETENTION_DAYS_HELP)

    class Meta:
        verbose_name = "vertical privacy setting"

    def __str__(self) -> str:
        return f"privacy of {self.vertical_id}"
