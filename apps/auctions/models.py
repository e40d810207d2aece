"""The record of every auction: one Ping row per contract considered, every Post attempt, and
the Sale rows. These rows are the audit log a manager replays to see why a lead went where."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from apps.auctions.engine import Outcome
from apps.buyers.models import Buyer, Contract
from apps.core.sealing import SealedJSONField, SealedTextField
from apps.leads.models import Lead


class Auction(models.Model):
    """One run of the auction for a lead (a lead re-driven after a crash gets another)."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="auctions")
    started_at = models.DateTimeField()
    ping_deadline_at = models.DateTimeField()
    bids_at = models.DateTimeField(null=True, blank=True)  # when the ping phase ended
    finished_at = models.DateTimeField(null=True, blank=True)
    rounds = models.PositiveSmallIntegerField(default=0)
    outcome = models.CharField(max_length=12, blank=True)  # sold / unsold / pending
    reason = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return f"auction of {self.lead_id}"


class Ping(models.Model):
    """One contract's outcome in one round of an auction (pinged or not)."""

    auction = models.ForeignKey(Auction, on_delete=models.CASCADE, related_name="pings")
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="pings")
    round = models.PositiveSmallIntegerField(default=1)
    outcome = models.CharField(max_length=20, choices=[(o.value, o.label) for o in Outcome])
    bid = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    effective_bid = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    token = models.CharField(max_length=255, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    detail = models.CharField(max_length=255, blank=True)
    request_body = models.TextField(blank=True)  # pings never carry PII fields
    response_body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["contract", "created_at"], name="ping_contract_created"),
                   models.Index(fields=["created_at"], name="ping_created")]

    def __str__(self) -> str:
        return f"{self.contract_id} {self.outcome}"


class PostOutcome(models.TextChoices):
    SENDING = "sending"  # recorded before the request leaves, so a crash leaves a trace
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ERROR = "error"
    TIMEOUT = "timeout"
    RETRY = "retry"  # waiting for ``next_attempt_at`` (driven by Celery beat)
    ABANDONED = "abandoned"  # a scheduled retry dropped: the lead was decided meanwhile


class Post(models.Model):
    """One delivery attempt of the full lead to a contract."""

    auction = models.ForeignKey(Auction, on_delete=models.CASCADE, related_name="posts")
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="posts")
    attempt = models.PositiveSmallIntegerField(default=1)
    outcome = models.CharField(max_length=10, choices=PostOutcome.choices)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    token = models.CharField(max_length=255, blank=True)
    reason = models.CharField(max_length=255, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # sealed at rest (apps.core.sealing): the request has its PII values masked, but a
    # mapping may derive text from them and a buyer's answer may echo the lead
    request_body = SealedTextField(blank=True, purpose="post.request_body")
    response_body = SealedTextField(blank=True, purpose="post.response_body")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["contract", "created_at"], name="post_contract_created"),
            models.Index(fields=["created_at"], name="post_created"),  # the report rollups
            models.Index(fields=["next_attempt_at"], name="post_retry_due",
                         condition=Q(outcome="retry")),
        ]

    def __str__(self) -> str:
        return f"{self.contract_id} #{self.attempt} {self.outcome}"


class Sale(models.Model):
    """A lead sold to a contract. An exclusive lead has at most one (database-enforced)."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="sales")
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="sales")
    buyer = models.ForeignKey(Buyer, on_delete=models.PROTECT, related_name="sales")
    price = models.DecimalField(max_digits=10, decimal_places=2)
    exclusive = models.BooleanField(default=True)
    is_test = models.BooleanField(default=False)
    # one-to-one consent: the brand sold to, the text the consumer saw for it, every brand
    # picked, when, and the certificate URL (apps.auctions.services.consent.sale_evidence)
    consent = SealedJSONField(null=True, blank=True, purpose="sale.consent")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["lead", "contract"], name="uniq_sale_lead_contract"),
            models.UniqueConstraint(fields=["lead"], condition=Q(exclusive=True),
                                    name="uniq_exclusive_sale_per_lead"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} → {self.contract_id} {self.price}"


class ConsumerPurchase(models.Model):
    """A buyer bought this consumer (digest of an e-mail or phone) until ``expires_at``:
    the lookup behind the ``duplicate_for_buyer`` exclusion."""

    buyer = models.ForeignKey(Buyer, on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["digest", "expires_at"], name="purchase_digest")]

    def __str__(self) -> str:
        return f"{self.buyer_id} bought {self.digest[:8]}…"


class HealthEventKind(models.TextChoices):
    PAUSED = "paused"
    RESUMED = "resumed"


class HealthEvent(models.Model):
    """The circuit breaker opened (auto-pause) or closed (resume) for a contract."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="health_events")
    kind = models.CharField(max_length=8, choices=HealthEventKind.choices)
    reason = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.contract_id} {self.kind}"


class SourcePingStatus(models.TextChoices):
    BID = "bid"
    NO_BID = "no_bid"


class SourcePing(models.Model):
    """A source's ping (``POST /api/v1/pings``): the non-PII fields it sent, the ping round's
    results and ranking, and what was promised, held in the database until ``expires_at`` so
    that its post (from any process, after any restart) goes to the reserved winner."""

    uuid = models.UUIDField(unique=True, editable=False)
    source = models.ForeignKey("sources.Source", on_delete=models.CASCADE,
                               related_name="pings")
    vertical = models.ForeignKey("sources.Vertical", on_delete=models.CASCADE,
                                 related_name="pings")
    fields = models.JSONField(default=dict)  # normalized, non-PII
    sub_id = models.CharField(max_length=255, blank=True)
    is_test = models.BooleanField(default=False)
    status = models.CharField(max_length=6, choices=SourcePingStatus.choices)
    bid = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    # the round as the post replays it: every contract's result, the exclusions, the
    # ranking (contract, price, token, effective) and the contracts of the reserved offer
    round = models.JSONField(default=dict)
    started_at = models.DateTimeField()
    bids_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    # the post: claimed once (conditional UPDATE), then its lead and its answer, replayed
    posted_at = models.DateTimeField(null=True, blank=True)
    lead = models.OneToOneField(Lead, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="source_ping")
    answer_status = models.PositiveSmallIntegerField(null=True, blank=True)
    answer = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["source", "created_at"], name="sourceping_source"),
                   models.Index(fields=["expires_at"], name="sourceping_expires")]

    def __str__(self) -> str:
        return f"ping {self.uuid} {self.status}"


class CapHoldState(models.TextChoices):
    HELD = "held"
    CONSUMED = "consumed"  # became a reservation of the post
    RELEASED = "released"  # the post went elsewhere, failed, or never came


class CapHold(models.Model):
    """Room in one cap window held for a pinged lead until ``expires_at``. Counted by every
    cap check (through ``CapCounter.held``) while ``held`` and not expired: an expired hold
    stops counting because the check compares with now, and is swept by the next check
    that needs its room or by the periodic cleanup."""

    ping = models.ForeignKey(SourcePing, on_delete=models.CASCADE, related_name="holds")
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="+")
    cap = models.ForeignKey("buyers.ContractCap", on_delete=models.CASCADE, related_name="+")
    window_start = models.DateTimeField()
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    expires_at = models.DateTimeField()
    state = models.CharField(max_length=8, choices=CapHoldState.choices,
                             default=CapHoldState.HELD)

    class Meta:
        indexes = [models.Index(fields=["cap", "window_start", "expires_at"],
                                name="caphold_live", condition=Q(state="held"))]

    def __str__(self) -> str:
        return f"hold {self.cap_id} {self.amount} {self.state}"
