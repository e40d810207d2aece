"""After the sale: buyers' returns and conversions, and the API keys buyers use for them.

The ledger (charges, credits, payouts, clawbacks) is not stored: it is derived from the
``Sale`` rows and the approved ``Return`` rows (``apps.billing.ledger``), so it can never
disagree with them and a sale costs the auction no extra write.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from apps.auctions.models import Sale
from apps.buyers.models import Buyer, Contract
from apps.core.models import ApiKeyBase
from apps.leads.models import Lead
from apps.sources.models import Source, Vertical

# The reason codes a vertical without reasons of its own accepts.
DEFAULT_RETURN_REASONS: dict[str, str] = {
    "bad_contact": "Wrong or disconnected phone, bouncing e-mail",
    "not_interested": "Consumer denies asking for a quote",
    "duplicate": "Already bought or already a customer",
    "fraud": "Fake or fraudulent lead",
    "out_of_criteria": "Outside the contract's filters",
    "other": "Other (explain in the comment)",
}


class BuyerApiKey(ApiKeyBase):
    """A buyer's API key (``lxb_<prefix>_<secret>``) for the returns API, stored as a digest;
    the clear key is shown once at creation (``apps.core.keys``)."""

    buyer = models.ForeignKey(Buyer, on_delete=models.CASCADE, related_name="api_keys")

    class Meta(ApiKeyBase.Meta):
        verbose_name = "buyer API key"

    def __str__(self) -> str:
        return f"lxb_{self.prefix}_…"


class ReturnReason(models.Model):
    """A reason code a buyer may give when returning a lead of ``vertical``; a vertical with
    none accepts ``DEFAULT_RETURN_REASONS``."""

    vertical = models.ForeignKey(Vertical, on_delete=models.CASCADE,
                                 related_name="return_reasons")
    code = models.SlugField(max_length=64)
    label = models.CharField(max_length=255)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["vertical", "code"]
        constraints = [models.UniqueConstraint(fields=["vertical", "code"],
                                               name="uniq_return_reason")]

    def __str__(self) -> str:
        return f"{self.vertical.slug}: {self.code}"


class ReturnStatus(models.TextChoices):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ReturnChannel(models.TextChoices):
    API = "api", "Buyer API"
    ADMIN = "admin", "Entered by staff"


class Return(models.Model):
    """A buyer asks for its money back on one sale. One per sale: a rejected return stays
    the answer. ``credit`` (what the buyer gets back: the sale's price) and ``clawback``
    (what the source gives back: its payout for this sale, 0 when the source's policy is to
    absorb returns) are fixed when the return is filed; they count once it is approved.

    ``contract``, ``buyer``, ``source`` and ``vertical`` are copied from the sale and the
    lead so the review queue, the ledger and the rollups filter without joins.
    """

    sale = models.OneToOneField(Sale, on_delete=models.PROTECT, related_name="return_request")
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="returns")
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="+")
    buyer = models.ForeignKey(Buyer, on_delete=models.PROTECT, related_name="returns")
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="+")
    vertical = models.ForeignKey(Vertical, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=64)
    comment = models.TextField(blank=True, max_length=2000)
    status = models.CharField(max_length=8, choices=ReturnStatus.choices,
                              default=ReturnStatus.PENDING)
    channel = models.CharField(max_length=5, choices=ReturnChannel.choices,
                               default=ReturnChannel.API)
    credit = models.DecimalField(max_digits=10, decimal_places=2)
    clawback = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal(0))
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    note = models.CharField(max_length=255, blank=True, help_text="Why it was decided so.")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="return_status_created"),
            models.Index(fields=["buyer", "-created_at"], name="return_buyer_created"),
            models.Index(fields=["contract", "created_at"], name="return_contract_created"),
            models.Index(fields=["decided_at"], name="return_decided"),
        ]

    def __str__(self) -> str:
        return f"return of {self.lead_id} by buyer {self.buyer_id} ({self.status})"


class Conversion(models.Model):
    """A buyer reports what became of a lead it bought (``event``: ``contacted``,
    ``quoted``, ``policy_sold`` …, with an optional ``value``). Recorded once per
    (lead, buyer, event): a repeated postback changes nothing."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="conversions")
    sale = models.ForeignKey(Sale, on_delete=models.CASCADE, related_name="conversions")
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="+")
    buyer = models.ForeignKey(Buyer, on_delete=models.CASCADE, related_name="conversions")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    vertical = models.ForeignKey(Vertical, on_delete=models.CASCADE, related_name="+")
    event = models.SlugField(max_length=64)
    value = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["lead", "buyer", "event"],
                                               name="uniq_conversion")]
        indexes = [models.Index(fields=["created_at"], name="conversion_created")]

    def __str__(self) -> str:
        return f"{self.event} of {self.lead_id} by buyer {self.buyer_id}"
