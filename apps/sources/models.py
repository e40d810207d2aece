"""Verticals (lead types and their field schema) and sources (who sends leads)."""

from __future__ import annotations

import ipaddress
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from apps.core.models import ApiKeyBase, TimeStampedModel
from apps.sources.postback import POSTBACK_MACROS, postback_template_check


class FieldType(models.TextChoices):
    TEXT = "text"
    EMAIL = "email"
    PHONE = "phone"
    ZIP = "zip"
    STATE = "state"
    DATE = "date"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    CHOICE = "choice"
    URL = "url"
    IP = "ip"


class DedupeMatch(models.TextChoices):
    ANY = "any", "Any listed field matches"
    ALL = "all", "All listed fields match together"


class Vertical(TimeStampedModel):
    """A lead type (``auto-insurance``, ``solar``) with its field schema and dedupe rule."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=128)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    default_floor = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("0.00"),
        help_text="Bids under this price are dropped (a source or contract may raise it).",
    )
    dedupe_fields = models.JSONField(
        default=list, blank=True,
        help_text='Field keys that identify a consumer, e.g. ["email", "phone"].',
    )
    dedupe_match = models.CharField(
        max_length=8, choices=DedupeMatch.choices, default=DedupeMatch.ANY
    )
    dedupe_window_days = models.PositiveIntegerField(
        default=30, help_text="A lead matching an earlier one inside this window is a duplicate; "
        "0 disables the vertical rule.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not isinstance(self.dedupe_fields, list) or not all(
            isinstance(key, str) for key in self.dedupe_fields
        ):
            raise ValidationError({"dedupe_fields": "A list of field keys."})


field_key_validator = RegexValidator(
    r"^[a-z][a-z0-9_]{0,62}$", "Lower-case letters, digits and underscores, starting with a letter."
)


class VerticalField(models.Model):
    """One field of a vertical's schema. PII fields are never sent in a ping."""

    vertical = models.ForeignKey(Vertical, on_delete=models.CASCADE, related_name="fields")
    key = models.CharField(max_length=63, validators=[field_key_validator])
    label = models.CharField(max_length=128, blank=True)
    type = models.CharField(max_length=16, choices=FieldType.choices, default=FieldType.TEXT)
    required_for_ping = models.BooleanField(default=False)
    required_for_post = models.BooleanField(default=False)
    pii = models.BooleanField(default=False, help_text="Personal data: never sent in a ping.")
    choices = models.JSONField(default=list, blank=True)
    min_value = models.CharField(max_length=32, blank=True)
    max_value = models.CharField(max_length=32, blank=True)
    example = models.CharField(max_length=255, blank=True)
    help_text = models.CharField(max_length=255, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["vertical", "key"], name="uniq_vertical_field_key")
        ]

    def __str__(self) -> str:
        return self.key

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        self._vertical_touch()

    def delete(self, *args, **kwargs):
        deleted = super().delete(*args, **kwargs)
        self._vertical_touch()
        return deleted

    @property
    def required(self) -> bool:
        """Required at capture: a captured lead is the full lead, so both flags apply."""
        return self.required_for_ping or self.required_for_post

    def _vertical_touch(self) -> None:
        """A field is part of its vertical's schema: the vertical's ``updated_at`` is the
        schema's version, which the per-process schema and PII-key caches compare."""
        Vertical.objects.filter(pk=self.vertical_id).update(updated_at=timezone.now())

    def clean(self) -> None:
        if self.type == FieldType.CHOICE and not self.choices:
            raise ValidationError({"choices": "A choice field needs its allowed values."})
        if not isinstance(self.choices, list):
            raise ValidationError({"choices": "A list of allowed values."})


class SourceStatus(models.TextChoices):
    ACTIVE = "active"
    PAUSED = "paused"


class PayoutModel(models.TextChoices):
    FIXED = "fixed", "Fixed price per sold lead"
    REVSHARE = "revshare", "Revenue share (% of the sale price)"


class CaptureMode(models.TextChoices):
    SYNC = "sync"
    ASYNC = "async"


class PingMode(models.TextChoices):
    """How a source may sell: direct posts, ping then post, or either."""

    BOTH = "both", "Direct posts and ping-post"
    POST_ONLY = "post_only", "Direct posts only"
    PING_ONLY = "ping_only", "Ping-post only (every lead pinged first)"


def validate_cidr_list(value: object) -> None:
    if not isinstance(value, list):
        raise ValidationError("A list of IP addresses or CIDR networks.")
    for item in value:
        try:
            ipaddress.ip_network(str(item), strict=False)
        except ValueError:
            raise ValidationError(f"{item!r} is not an IP address or CIDR network.") from None


class ReturnPolicy(models.TextChoices):
    CLAWBACK = "clawback", "Claw back the source's payout"
    ABSORB = "absorb", "Absorb: the source keeps its payout"


class Source(TimeStampedModel):
    """An affiliate, publisher or landing page that submits leads."""

    name = models.CharField(max_length=128, unique=True)
    status = models.CharField(
        max_length=8, choices=SourceStatus.choices, default=SourceStatus.ACTIVE, db_index=True
    )
    verticals = models.ManyToManyField(Vertical, blank=True, related_name="sources")
    ip_allowlist = models.JSONField(
        default=list, blank=True, validators=[validate_cidr_list],
        help_text='CIDRs allowed to submit, e.g. ["203.0.113.0/24"]; empty allows any address.',
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        default=600, help_text="Requests per minute per API key; 0 means unlimited."
    )
    payout_model = models.CharField(
        max_length=10, choices=PayoutModel.choices, default=PayoutModel.REVSHARE
    )
    payout_value = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("70.00"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Price per sold lead (fixed) or percent of the sale price (revenue share).",
    )
    floor_price = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True,
        help_text="Minimum sale price for this source's leads (over the vertical's floor).",
    )
    default_mode = models.CharField(
        max_length=5, choices=CaptureMode.choices, default=CaptureMode.SYNC
    )
    time_budget_ms = models.PositiveIntegerField(
        default=2000, validators=[MinValueValidator(100)],
        help_text="How long a sync submission may wait for its outcome.",
    )
    # Default "both": every existing integration keeps posting directly, and a source can
    # start pinging without waiting for staff (what ping-post platforms' affiliates expect).
    ping_mode = models.CharField(
        max_length=9, choices=PingMode.choices, default=PingMode.BOTH,
        help_text="Whether this source may ping before posting, post directly, or both.")
    ping_ttl_seconds = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(5)],
        help_text="How long a ping's bid and the reserved buyer's cap room are held.")
    ping_budget_ms = models.PositiveIntegerField(
        default=1000, validators=[MinValueValidator(100)],
        help_text="How long a ping may wait for the buyers' bids before it answers.")
    postback_url_template = models.CharField(
        max_length=1000, blank=True, validators=[postback_template_check],
        help_text="Fired on a sale and on an approved return, e.g. "
        "https://track.example.com/pb?click={sub_id}&payout={payout}. Macros: "
        + ", ".join(f"{{{name}}}" for name in POSTBACK_MACROS) + " (URL-encoded).",
    )
    return_policy = models.CharField(
        max_length=9, choices=ReturnPolicy.choices, default=ReturnPolicy.CLAWBACK,
        help_text="When a buyer's return of this source's lead is approved: take the payout "
                  "back from the source, or absorb the loss.")
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="managed_sources",
        help_text="Told by e-mail when one of the source's webhook endpoints is disabled.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    # DRF treats the authenticated principal as ``request.user``.
    is_authenticated = True

    @property
    def is_active(self) -> bool:
        return self.status == SourceStatus.ACTIVE

    def payout_for(self, sale_price: Decimal) -> Decimal:
        """What this source earns for a lead sold at ``sale_price`` (rounded to cents)."""
        if self.payout_model == PayoutModel.FIXED:
            return self.payout_value
        share = sale_price * self.payout_value / Decimal(100)
        return share.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    def minimum_sale_price(self) -> Decimal:
        """A lead is never sold under this: the source's own floor and, for a fixed payout,
        the payout itself (the platform never sells at a loss)."""
        floor = self.floor_price or Decimal(0)
        if self.payout_model == PayoutModel.FIXED:
            floor = max(floor, self.payout_value)
        return floor


class SourceApiKey(ApiKeyBase):
    """A source's API key, stored as a digest; the clear key is shown once at creation."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="api_keys")

    class Meta(ApiKeyBase.Meta):
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"lx_{self.prefix}_…"
