"""``GET /api/v1/reports/kpis``: the dashboards' numbers as JSON."""

from __future__ import annotations

import zoneinfo
from dataclasses import asdict, fields
from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ApiView
from apps.core.authentication import StaffTokenAuthentication
from apps.core.staff_api import ERRORS_READ, VALIDATION_ERRORS
from apps.reports.definitions import DEFINITIONS
from apps.reports.params import filter_end_inclusive, report_filter
from apps.reports.selectors import GROUPS, KpiRow, kpi_totals, kpis

VIEW_REPORTS = "reports.view_reports"


class CanViewReports(BasePermission):
    """Staff holding ``reports.view_reports`` (Managers, Account managers, superusers)."""

    def has_permission(self, request: Request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_staff
                    and user.has_perm(VIEW_REPORTS))


def kpi_row_data(row: KpiRow) -> dict:
    """A row as JSON-ready values: money as exact strings ("12.30")."""
    return {k: f"{v:.2f}" if isinstance(v, Decimal) else v
            for k, v in asdict(row).items() if not k.startswith("_")}


_KPI_FIELDS: dict[str, serializers.Field] = {
    f.name: serializers.JSONField(allow_null=True) for f in fields(KpiRow)
    if not f.name.startswith("_")}


class KpisApi(ApiView):
    """KPIs over a date range, optionally grouped; the same numbers as the dashboards.
    Money is returned as strings with two decimals, rates (``*_rate``, ``sell_through``) as
    fractions (0.25 = 25 %), ``*_pct`` figures as percentages (25.0 = 25 %); every grouping
    carries its revenue as ``revenue``. The after-sale figures (``returns``, ``credits``,
    ``net_revenue``, ``clawbacks``, ``net_payout``, ``net_margin``, ``conversions`` …) count in
    the hour their lead was received, like its sale. The sources' own pings (``pings_received``,
    ``ping_bid_rate``, ``avg_bid_offered``, ``ping_post_rate``, ``pings_expired`` …) count in
    the hour the ping was received, per source and vertical (null where no source pinged, and
    under a buyer filter); ``definitions`` says what each means."""

    authentication_classes = [StaffTokenAuthentication, SessionAuthentication]
    permission_classes = [CanViewReports]

    @extend_schema(
        operation_id="reports_kpis", summary="KPIs over a date range", tags=["Reports"],
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE,
                             description="First local date (YYYY-MM-DD); default: 6 days "
                                         "before `to`."),
            OpenApiParameter("to", OpenApiTypes.DATE,
                             description="Last local date, included (YYYY-MM-DD); default: "
                                         "today. At most 400 days after `from`."),
            OpenApiParameter("tz", str, enum=sorted(zoneinfo.available_timezones()),
                             description="IANA time zone of the dates (default UTC)."),
            OpenApiParameter("group_by", str, enum=[g for g in GROUPS if g]),
            OpenApiParameter("source", int, many=True,
                             description="Source ids (repeat the parameter for more)."),
            OpenApiParameter("buyer", int, many=True,
                             description="Buyer ids (repeat the parameter for more)."),
            OpenApiParameter("vertical", str, many=True, description="Vertical ids or slugs."),
        ],
        responses={200: inline_serializer("KpiReport", {
            "from": serializers.DateField(), "to": serializers.DateField(),
            "tz": serializers.CharField(), "group_by": serializers.CharField(),
            "totals": inline_serializer("KpiRow", _KPI_FIELDS),
            "rows": inline_serializer("KpiRows", _KPI_FIELDS, many=True),
            "definitions": serializers.DictField(child=serializers.CharField()),
        }), **ERRORS_READ, 400: OpenApiResponse(
            VALIDATION_ERRORS, "A bad parameter, by name (dates, time zone, ids).")},
    )
    def get(self, request: Request) -> Response:
        report, group_by = report_filter(request.query_params)
        rows = kpis(report, group_by) if group_by else []
        return Response({
            "from": report.start, "to": filter_end_inclusive(report), "tz": report.tz,
            "group_by": group_by, "totals": kpi_row_data(kpi_totals(report)),
            "rows": [kpi_row_data(row) for row in rows], "definitions": DEFINITIONS,
        })
