"""The report filter as a request gives it (query parameters), shared by the KPI API and the
dashboards so both read the same numbers for the same filter."""

from __future__ import annotations

import zoneinfo
from datetime import date, timedelta

from rest_framework import serializers

from apps.reports.selectors import GROUPS, ReportFilter, day_range
from apps.sources.models import Vertical

DEFAULT_DAYS = 7


class ReportQuery(serializers.Serializer):
    """``from``/``to`` are local dates, both included (default: the last 7 days); ``tz`` an
    IANA zone (default UTC); ``source``/``buyer``/``vertical`` ids, repeatable (a vertical
    also by slug)."""

    from_ = serializers.DateField(required=False)
    to = serializers.DateField(required=False)
    tz = serializers.CharField(required=False, default="UTC")
    group_by = serializers.ChoiceField(choices=[g for g in GROUPS if g], required=False)
    source_ = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)
    buyer = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)
    vertical = serializers.ListField(child=serializers.CharField(max_length=64), required=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        # "source" is the name of every DRF field's own attribute (the serializer's included),
        # "from" a Python keyword: both are declared under another name (errors keep the order).
        fields = {("source" if name == "source_" else name): field
                  for name, field in super().get_fields().items()}
        fields["from"] = fields.pop("from_")
        return fields

    def validate_tz(self, value: str) -> str:
        if value not in zoneinfo.available_timezones():
            raise serializers.ValidationError(f"Unknown time zone {value!r}.")
        return value

    def validate(self, data: dict) -> dict:
        start, end = data.get("from"), data.get("to")
        if start and end and end < start:
            raise serializers.ValidationError({"to": "Must not be before from."})
        if start and end and (end - start).days > 400:
            raise serializers.ValidationError({"to": "At most 400 days at a time."})
        return data


def report_filter(params) -> tuple[ReportFilter, str]:
    """Validate query ``params`` (a QueryDict); the filter and the grouping. Raises DRF's
    ValidationError (400 naming each bad parameter)."""
    lists = {name: params.getlist(name) for name in ("source", "buyer", "vertical")
             if params.getlist(name)}
    query = ReportQuery(data={**{k: v for k, v in params.items() if k not in lists}, **lists})
    query.is_valid(raise_exception=True)
    data = query.validated_data
    tz = data["tz"]
    default_start, default_end = day_range(DEFAULT_DAYS, tz)
    start = data.get("from") or (data["to"] - timedelta(days=DEFAULT_DAYS - 1)
                                 if data.get("to") else default_start)
    end = data["to"] + timedelta(days=1) if data.get("to") else default_end
    verticals = data.get("vertical", [])
    vertical_ids = tuple(int(v) for v in verticals if v.isdigit()) + tuple(
        Vertical.objects.filter(slug__in=[v for v in verticals if not v.isdigit()])
        .values_list("pk", flat=True))
    if verticals and not vertical_ids:
        vertical_ids = (0,)  # unknown verticals match nothing
    return ReportFilter(start=start, end=end, tz=tz,
                        source_ids=tuple(data.get("source", ())),
                        buyer_ids=tuple(data.get("buyer", ())),
                        vertical_ids=vertical_ids), data.get("group_by", "")


def filter_end_inclusive(f: ReportFilter) -> date:
    return f.end - timedelta(days=1)
