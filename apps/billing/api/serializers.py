"""Shapes of the returns, buyer-key and ledger APIs. A buyer's view of a return never shows
the source, its payout or the clawback."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import django_filters
from django.utils import timezone
from rest_framework import serializers

from apps.billing.ledger import BUYER, DAY, MONTH, MOVEMENTS, SOURCE, Ledger
from apps.billing.models import BuyerApiKey, Return, ReturnStatus
from apps.core.api import StrictTypesMixin, UniqueListField
from apps.core.exceptions import FieldErrors

# A day-by-day ledger or list covers at most this many days; by month, ten years.
MAX_DAYS = {DAY: 400, MONTH: 3660}


def _date_range_check(start: date | None, end: date | None, *, maximum: int = 3660) -> None:
    if start and end and end < start:
        raise FieldErrors({"to": ["Must not be before 'from'."]})
    if start and end and (end - start).days >= maximum:
        raise FieldErrors({"to": [f"At most {maximum} days after 'from'."]})


def _return_filter(**declared: django_filters.Filter) -> type[django_filters.FilterSet]:
    """A FilterSet of returns with ``status``, ``from`` and ``to`` (dates of filing, UTC,
    inclusive) — ``from`` being a keyword, the class is built, not written."""
    filters: dict[str, Any] = {
        "status": django_filters.ChoiceFilter(choices=ReturnStatus.choices),
        "from": django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte"),
        "to": django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte"),
        **declared,
    }
    meta = type("Meta", (), {"model": Return, "fields": []})
    return type("ReturnFilter", (django_filters.FilterSet,), {**filters, "Meta": meta})


ReturnFilter = _return_filter()
StaffReturnFilter = _return_filter(
    buyer=django_filters.NumberFilter(field_name="buyer_id", min_value=1),
    source=django_filters.NumberFilter(field_name="source_id", min_value=1),
    reason=django_filters.CharFilter(),
    channel=django_filters.ChoiceFilter(choices=Return._meta.get_field("channel").choices),
)


def filter_dates_check(params: Any) -> None:
    """``to`` not before ``from`` (both already valid dates or absent)."""
    try:
        start = date.fromisoformat(params["from"]) if params.get("from") else None
        end = date.fromisoformat(params["to"]) if params.get("to") else None
    except ValueError:
        return  # the filter itself names the bad date
    _date_range_check(start, end)


class ReturnInputSerializer(StrictTypesMixin, serializers.Serializer):
    lead_id = serializers.UUIDField(help_text="The lead's id, as the lead was posted to you.")
    reason = serializers.CharField(
        max_length=64, help_text="A reason code of the lead's vertical (a 400 lists them).")
    comment = serializers.CharField(max_length=2000, allow_blank=True, required=False,
                                    default="")


class ReturnOutputSerializer(serializers.ModelSerializer):
    lead_id = serializers.UUIDField(source="lead.uuid", read_only=True)
    credit = serializers.DecimalField(
        max_digits=10, decimal_places=2, read_only=True,
        help_text="What you get back once the return is approved: the sale's price.")

    class Meta:
        model = Return
        fields = ["id", "lead_id", "reason", "comment", "status", "credit", "note",
                  "created_at", "decided_at"]
        read_only_fields = fields


class StaffReturnSerializer(serializers.ModelSerializer):
    lead_id = serializers.UUIDField(source="lead.uuid", read_only=True)
    buyer_name = serializers.CharField(source="buyer.company", read_only=True)
    source_name = serializers.CharField(source="source.name", read_only=True)

    class Meta:
        model = Return
        fields = ["id", "lead_id", "buyer", "buyer_name", "source", "source_name", "contract",
                  "reason", "comment", "status", "channel", "credit", "clawback", "note",
                  "entered_by", "decided_by", "created_at", "decided_at"]
        read_only_fields = fields


class DecideInputSerializer(StrictTypesMixin, serializers.Serializer):
    ids = UniqueListField(child=serializers.IntegerField(min_value=1), min_length=1,
                          max_length=500, help_text="Return ids; only pending ones change.")
    decision = serializers.ChoiceField(choices=["approve", "reject"])
    note = serializers.CharField(max_length=255, allow_blank=True, required=False, default="",
                                 help_text="Why; required to reject.")

    def validate(self, attrs: dict) -> dict:
        if attrs["decision"] == "reject" and not attrs.get("note", "").strip():
            raise serializers.ValidationError({"note": ["Say why the returns are rejected."]})
        return attrs


class DecidedSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["approve", "reject"])
    decided = serializers.IntegerField(help_text="Pending returns now decided.")
    skipped = serializers.IntegerField(help_text="Ids not found or no longer pending.")


class BuyerKeySerializer(serializers.ModelSerializer):
    display = serializers.CharField(source="__str__", read_only=True,
                                    help_text="The key's visible part, e.g. lxb_ab12cd34_….")

    class Meta:
        model = BuyerApiKey
        fields = ["id", "name", "prefix", "display", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class BuyerKeyInputSerializer(StrictTypesMixin, serializers.Serializer):
    name = serializers.CharField(max_length=64, default="default",
                                 help_text="What the key is for (e.g. the buyer's CRM).")


class NewBuyerKeySerializer(serializers.Serializer):
    key = BuyerKeySerializer()
    api_key = serializers.CharField(help_text="The key in clear: shown this once, never again.")


class LedgerRangeSerializer(serializers.Serializer):
    """Which UTC days (``from``, ``to``, inclusive; default this month so far) cut how
    (``period``): the ledger page's summary of every party."""

    period = serializers.ChoiceField(choices=[DAY, MONTH], default=DAY, required=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = serializers.DateField(required=False)
        fields["to"] = serializers.DateField(required=False)
        return fields

    def validate(self, attrs: dict) -> dict:
        today = timezone.now().date()
        attrs["to"] = attrs.get("to") or today
        attrs["from"] = attrs.get("from") or min(attrs["to"], today).replace(day=1)
        period = attrs.get("period") or DAY
        attrs["period"] = period
        if attrs["to"] < attrs["from"]:
            raise serializers.ValidationError({"to": ["Must not be before 'from'."]})
        if (attrs["to"] - attrs["from"]) >= timedelta(days=MAX_DAYS[period]):
            raise serializers.ValidationError(
                {"to": [f"At most {MAX_DAYS[period]} days after 'from' by {period}."]})
        return attrs


class LedgerQuerySerializer(LedgerRangeSerializer):
    """The ledger's query: whose (``party`` and ``id``), which UTC days (``from``, ``to``,
    inclusive; default this month so far) cut how (``period``)."""

    party = serializers.ChoiceField(choices=[BUYER, SOURCE])
    id = serializers.IntegerField(min_value=1, max_value=2**31 - 1)


class LedgerPeriodSerializer(serializers.Serializer):
    start = serializers.DateField(help_text="The period's first day (UTC).")
    opening = serializers.DecimalField(max_digits=14, decimal_places=2)
    charges = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True,
                                       help_text="Buyer: sales charged (null for a source).")
    credits = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True,
                                       help_text="Buyer: approved returns credited.")
    payouts = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True,
                                       help_text="Source: payouts of leads first sold "
                                                 "(null for a buyer).")
    clawbacks = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True,
                                         help_text="Source: payouts taken back on approved "
                                                   "returns.")
    closing = serializers.DecimalField(max_digits=14, decimal_places=2)


class LedgerSerializer(serializers.Serializer):
    party = serializers.ChoiceField(choices=[BUYER, SOURCE])
    id = serializers.IntegerField()
    name = serializers.CharField()
    period = serializers.ChoiceField(choices=[DAY, MONTH])
    opening = serializers.DecimalField(max_digits=14, decimal_places=2)
    closing = serializers.DecimalField(
        max_digits=14, decimal_places=2,
        help_text="Buyer: what it owes (charges − credits); source: what it is owed "
                  "(payouts − clawbacks), all time up to the end of 'to'.")
    periods = LedgerPeriodSerializer(many=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = serializers.DateField()
        fields["to"] = serializers.DateField()
        return fields


def ledger_data(ledger: Ledger, name: str) -> dict[str, Any]:
    """The ledger as ``LedgerSerializer`` renders it."""
    up, down = MOVEMENTS[ledger.party]
    empty = {key: None for key in ("charges", "credits", "payouts", "clawbacks")}
    return {"party": ledger.party, "id": ledger.party_id, "name": name,
            "from": ledger.start, "to": ledger.end, "period": ledger.period,
            "opening": ledger.opening, "closing": ledger.closing,
            "periods": [{**empty, "start": row.start, "opening": row.opening, up: row.raised,
                         down: row.lowered, "closing": row.closing}
                        for row in ledger.periods]}
