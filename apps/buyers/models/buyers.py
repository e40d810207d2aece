"""Buyers and their contracts (one per vertical and offer)."""

from __future__ import annotations

import secrets
import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.text import slugify

from apps.buyers.mapping import CONSTANT_TYPES
from apps.core.models import TimeStampedModel
from apps.sources.models import Source, Vertical


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. America/New_York).")


def postback_token_new() -> str:
    """A buyer's conversion postback token: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


class BuyerStatus(models.TextChoices):
    ACTIVE = "active"
    PAUSED = "paused"


class Buyer(TimeStampedModel):
    """A company that buys leads. Caps and schedules run in its time zone."""

    company = models.CharField(max_length=128, unique=True)
    status = models.CharField(max_length=8, choices=BuyerStatus.choices,
                              default=BuyerStatus.ACTIVE)
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="managed_buyers",
    )
    timezone = models.CharField(max_length=64, default="America/New_York",
                                validators=[validate_timezone])
    quality_multiplier = models.DecimalField(
        max_digits=4, decimal_places=2, default=Decimal("1.00"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("5"))],
        help_text="Scales this buyer's bids when ranking (1.00 = neutral).",
    )
    dedupe_window_days = models.PositiveIntegerField(
        default=30, help_text="Never offer a consumer this buyer bought inside this window.",
    )
    contact_email = models.EmailField(blank=True)
    notes = models.TextField(blank=True)
    postback_token = models.CharField(
        max_length=64, unique=True, default=postback_token_new, editable=False,
        help_text="The secret part of the buyer's conversion postback URL "
                  "(/postback/b/<token>?lead=…&event=…&value=…).")

    class Meta:
        ordering = ["company"]

    def __str__(self) -> str:
        return self.company


class ContractMode(models.TextChoices):
    PING_POST = "ping_post", "Ping-post (dynamic bid)"
    DIRECT_POST = "direct_post", "Direct post (fixed price)"


class ContractStatus(models.TextChoices):
    """``testing``: a new contract takes no live traffic until staff switch it live (after
    a test round trip); ``active`` takes leads; ``paused`` is switched off by staff."""

    ACTIVE = "active"
    PAUSED = "paused"
    TESTING = "testing", "Testing (no live traffic)"


class TestFlag(models.TextChoices):
    """How a buyer wants a test request told apart from a live one (the test ping and the
    test round trip send it; live auctions never do)."""

    NONE = "none", "Not flagged (the buyer reads @test from a mapping row, or nothing)"
    FIELD = "field", "A field in the body: key = value"
    HEADER = "header", "A header: name: value"
    SANDBOX = "sandbox", "Sandbox URLs (each endpoint's sandbox URL)"


class Contract(TimeStampedModel):
    """What a buyer buys in a vertical, at what price, under which rules.

    Health fields (``auto_paused_at`` …) are written by the circuit breaker only.
    """

    buyer = models.ForeignKey(Buyer, on_delete=models.CASCADE, related_name="contracts")
    vertical = models.ForeignKey(Vertical, on_delete=models.PROTECT, related_name="contracts")
    name = models.CharField(max_length=128)
    status = models.CharField(
        max_length=8, choices=ContractStatus.choices, default=ContractStatus.TESTING,
        db_index=True, help_text="A new contract starts in testing: no live lead reaches it "
                                 "until staff switch it live.")
    mode = models.CharField(max_length=12, choices=ContractMode.choices,
                            default=ContractMode.PING_POST)

    fixed_price = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True,
        help_text="Direct post: the price paid per accepted lead.")
    min_bid = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True,
        help_text="Bids under this are dropped (on top of the vertical and source floors).")
    bid_multiplier = models.DecimalField(
        max_digits=5, decimal_places=3, default=Decimal("1.000"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Ranking adjustment: effective bid = bid × multiplier × quality − penalty.")
    bid_penalty = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0"))])
    priority = models.SmallIntegerField(default=0, help_text="Higher wins ties.")
    weight = models.PositiveIntegerField(default=100,
                                         help_text="Weighted-random share among equal ties.")
    traffic_share_pct = models.PositiveSmallIntegerField(
        default=100, validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="A pilot contract sees only this share of eligible leads.")
    exclusive = models.BooleanField(
        default=True, help_text="Buys leads exclusively; unticked = buys shared leads.")
    shared_max_sales = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(2), MaxValueValidator(10)],
        help_text="Shared: joins a sale only when at most this many buyers share the lead.")
    is_secondary = models.BooleanField(
        default=False, help_text="Re-pinged when every bidder of the first round rejected.")
    accepts_test_leads = models.BooleanField(default=False)
    consent_brand = models.CharField(
        max_length=100, blank=True,
        help_text="One-to-one consent: the public brand name consumers see and pick. Listed "
                  "(no price) in the pings of sources that ask for brands; a lead with "
                  "one-to-one consent reaches this contract only when the consumer picked "
                  "this brand. Blank: takes no part in such leads.")
    # how the staff's test requests are marked on the wire, the way this buyer wants it
    test_flag = models.CharField(
        max_length=8, choices=TestFlag.choices, default=TestFlag.NONE,
        help_text="How test pings and test round trips are marked as tests for this buyer.")
    test_flag_key = models.CharField(
        max_length=255, blank=True,
        help_text='Field: a mapping target (e.g. "test", "Lead.TestMode"); header: its name.')
    test_flag_value = models.CharField(max_length=255, blank=True,
                                       help_text='e.g. "true", "1", "Yes".')
    test_flag_type = models.CharField(
        max_length=8, choices=[(kind, kind.capitalize()) for kind in CONSTANT_TYPES],
        default="string", help_text="Field: how the value is typed (a JSON true, not "
                                    '"true").')
    allowed_sources = models.ManyToManyField(
        Source, blank=True, related_name="+", help_text="Empty: every source.")
    blocked_sources = models.ManyToManyField(Source, blank=True, related_name="+")

    # returns (apps.billing): how long after the sale, and how many per period
    return_window_days = models.PositiveSmallIntegerField(
        default=7, help_text="Days after the sale during which the buyer may return a lead "
                             "(0: no returns).")
    return_cap_pct = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text="Most returns allowed, as a percent of the contract's sales over the "
                  "cap period (empty: no cap).")
    return_cap_days = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(1)],
        help_text="The period the return cap counts over, in days up to now.")

    # health (circuit breaker) settings
    slow_threshold_ms = models.PositiveIntegerField(default=200)
    slow_count = models.PositiveIntegerField(
        default=10, help_text="Consecutive slow answers that auto-pause the contract.")
    error_count = models.PositiveIntegerField(
        default=10, help_text="Consecutive failed requests that auto-pause the contract.")
    health_ping_interval_s = models.PositiveIntegerField(default=60)
    # health state
    # (the last latency and error are read from the newest Ping rows, not stored here)
    auto_paused_at = models.DateTimeField(null=True, blank=True, db_index=True)
    auto_pause_reason = models.CharField(max_length=255, blank=True)
    last_health_ping_at = models.DateTimeField(null=True, blank=True)
    # consecutive slow / failed answers, when Redis is not configured (else kept in Redis)
    consecutive_slow = models.PositiveIntegerField(default=0)
    consecutive_errors = models.PositiveIntegerField(default=0)
    # post acceptance, for ranking (rolling counts, refreshed from Post rows)
    posts_recent = models.PositiveIntegerField(default=0)
    accepted_recent = models.PositiveIntegerField(default=0)
    # the same, recency-weighted: each answered post multiplies both by
    # AUCTION_ACCEPTANCE_RECENT_DECAY before adding itself (a memory of the last ~10 posts),
    # so a run of rejects pulls the estimate down at once (apps.auctions.setups)
    posts_decayed = models.FloatField(default=0)
    accepted_decayed = models.FloatField(default=0)

    class Meta:
        ordering = ["buyer__company", "name"]
        indexes = [models.Index(fields=["vertical", "status"], name="contract_vertical_status")]

    def __str__(self) -> str:
        return f"{self.buyer} · {self.name}"

    @property
    def consent_brand_key(self) -> str:
        """The brand as pings list it and posts pick it: ``Apex Auto`` → ``apex-auto``."""
        return slugify(self.consent_brand)

    def clean(self) -> None:
        if self.mode == ContractMode.DIRECT_POST and self.fixed_price is None:
            raise ValidationError({"fixed_price": "A direct-post contract needs a fixed price."})
