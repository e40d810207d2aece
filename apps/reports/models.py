"""Hourly rollups the KPIs are read from, so a day's dashboard never scans raw rows.

Each row holds the sums for one UTC hour and one key (source × vertical for leads and for
the sources' own pings; contract × source for buyer pings, posts and sales); latencies and
delivery times are kept as fixed-bucket histograms (``apps.reports.histograms``), one integer
column per bucket, so the database sums any range of hours — percentiles included — in one
aggregate query. The rollup
job (``apps.reports.services.rollup_refresh``) rewrites recent hours from the raw rows, so a
rollup is always derived data: it can be dropped and rebuilt.

What happens after the sale (returns, conversions) is counted in the hour the lead was
RECEIVED, the same row as its sale, so a return rate is returned ÷ sold of the same leads.
Returns arrive days later: the refresh also rewrites the hours of the leads whose returns or
conversions changed since its last run (``RollupMark`` keeps when that was).
"""

from decimal import Decimal

from django.db import models

from apps.buyers.models import Buyer, Contract
from apps.reports.histograms import SIZE
from apps.sources.models import Source, Vertical

DELIVER_BUCKETS = tuple(f"deliver_b{i}" for i in range(SIZE))  # received → sold (ms)
LATENCY_BUCKETS = tuple(f"latency_b{i}" for i in range(SIZE))  # ping answer times (ms)


class ReportsAccess(models.Model):
    """Carries the permission that opens the dashboards and the reports API."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_reports", "Can read the KPI reports and dashboards")]

    def __str__(self) -> str:
        return "reports access"


def _money() -> models.DecimalField:
    return models.DecimalField(max_digits=14, decimal_places=2, default=Decimal(0))


def _after_sale(model: type[models.Model]) -> None:
    """The after-sale columns shared by ``LeadHour`` and ``ContractHour``: returns by
    status with the approved ones' credits and clawbacks, and conversions."""
    for name in ("returns", "returns_pending", "returns_rejected", "conversions",
                 "converted"):
        model.add_to_class(name, models.PositiveIntegerField(default=0))
    for name in ("credits", "clawbacks", "conversion_value"):
        model.add_to_class(name, _money())


class LeadHour(models.Model):
    """Submissions of one source in one vertical during one UTC hour (by receipt time)."""

    hour = models.DateTimeField()
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    vertical = models.ForeignKey(Vertical, on_delete=models.CASCADE, related_name="+",
                                 null=True)
    received = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    sold = models.PositiveIntegerField(default=0)
    unsold = models.PositiveIntegerField(default=0)
    revenue = _money()
    payout = _money()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "source", "vertical"],
                                               name="uniq_lead_hour")]
        indexes = [models.Index(fields=["hour"], name="lead_hour_hour")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h source {self.source_id}"


for _name in DELIVER_BUCKETS:
    LeadHour.add_to_class(_name, models.PositiveIntegerField(default=0))
_after_sale(LeadHour)


class PingHour(models.Model):
    """Source pings (``POST /api/v1/pings``) of one source in one vertical, by the UTC hour
    they were received: answered with a bid or not, what the bids offered, and what became
    of the bids since — posted (and sold), or expired unposted. Those change after the
    hour: the refresh rewrites the hours of the pings posted or expired since its last run."""

    hour = models.DateTimeField()
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    vertical = models.ForeignKey(Vertical, on_delete=models.CASCADE, related_name="+")
    pings = models.PositiveIntegerField(default=0)
    bids = models.PositiveIntegerField(default=0)
    bid_sum = _money()  # what the bids offered the source
    posted = models.PositiveIntegerField(default=0)
    expired = models.PositiveIntegerField(default=0)  # bids never posted, past expires_at
    sold = models.PositiveIntegerField(default=0)  # posted, and the lead sold

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "source", "vertical"],
                                               name="uniq_ping_hour")]
        indexes = [models.Index(fields=["hour"], name="ping_hour_hour")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h source {self.source_id} pings"


class RejectionHour(models.Model):
    """Rejected submissions by reason (the first invalid field) per source and hour."""

    hour = models.DateTimeField()
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    vertical = models.ForeignKey(Vertical, on_delete=models.CASCADE, related_name="+",
                                 null=True)
    reason = models.CharField(max_length=128)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["hour"], name="rejection_hour_hour")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.reason}"


class ContractHour(models.Model):
    """What one contract did with one source's leads during one UTC hour: pings, bids,
    posts, sales, latency (``source`` is empty for events of no lead: auto-pauses)."""

    hour = models.DateTimeField()
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="+")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+", null=True)
    buyer = models.ForeignKey(Buyer, on_delete=models.CASCADE, related_name="+")
    vertical = models.ForeignKey(Vertical, on_delete=models.CASCADE, related_name="+")
    considered = models.PositiveIntegerField(default=0)  # every Ping row, excluded or not
    pings = models.PositiveIntegerField(default=0)  # actually pinged (or direct-post bids)
    bids = models.PositiveIntegerField(default=0)  # below-floor bids included
    bids_below_floor = models.PositiveIntegerField(default=0)
    bid_sum = _money()
    timeouts = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    posts = models.PositiveIntegerField(default=0)
    post_accepted = models.PositiveIntegerField(default=0)
    post_rejected = models.PositiveIntegerField(default=0)
    post_failed = models.PositiveIntegerField(default=0)
    wins = models.PositiveIntegerField(default=0)
    revenue = _money()
    auto_pauses = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "contract", "source"],
                                               name="uniq_contract_hour")]
        indexes = [models.Index(fields=["hour"], name="contract_hour_hour")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h contract {self.contract_id}"


for _name in LATENCY_BUCKETS:
    ContractHour.add_to_class(_name, models.PositiveIntegerField(default=0))
_after_sale(ContractHour)  # by the hour its lead was received, like the lead's figures


class PostRejectHour(models.Model):
    """Post rejections by the buyer's reason, per contract and hour."""

    hour = models.DateTimeField()
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="+")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+", null=True)
    reason = models.CharField(max_length=255)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["hour"], name="post_reject_hour_hour")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.reason}"


class ReturnHour(models.Model):
    """Returns of one contract's sales of one source's leads, by reason, in the hour the
    leads were received: the returns page's reasons per buyer and per source."""

    hour = models.DateTimeField()
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="+")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    buyer = models.ForeignKey(Buyer, on_delete=models.CASCADE, related_name="+")
    vertical = models.ForeignKey(Vertical, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=64)
    approved = models.PositiveIntegerField(default=0)
    pending = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    credits = _money()  # approved returns only
    clawbacks = _money()  # approved returns only

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "contract", "source", "reason"],
                                               name="uniq_return_hour")]
        indexes = [models.Index(fields=["hour"], name="return_hour_hour")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.reason}"


class RollupMark(models.Model):
    """When a periodic refresh last ran (``name``: which one), so the next run finds the
    returns and conversions written since then and rewrites their leads' hours."""

    name = models.CharField(max_length=32, unique=True)
    ran_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.ran_at:%Y-%m-%d %H:%M:%S}"
