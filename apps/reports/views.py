"""The dashboards under ``/dashboard/``: the KPI selectors rendered as cards, charts and
sortable tables, a lead's auction as a waterfall, and a live list of the newest leads.

Every page reads the filter with ``report_filter`` — the same parser as the KPI API — so a
dashboard and ``/api/v1/reports/kpis`` show the same numbers for the same query string.
Open to active staff holding ``reports.view_reports`` (Managers, Account managers,
superusers); anonymous visitors go to the admin login, other staff get a 403.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial, wraps
from uuid import UUID

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import urlencode
from rest_framework.exceptions import ValidationError

from apps.auctions.models import Auction, Ping, Post, Sale
from apps.buyers.models import Buyer
from apps.leads.disclosure import Where, can_reveal, pii_masked, pii_reveal
from apps.leads.models import SOLD_STATUSES, Lead
from apps.reports.api.views import VIEW_REPORTS
from apps.reports.csv import csv_value, kpi_csv_response
from apps.reports.figures import (
    BUYER_CARDS,
    BUYER_COLUMNS,
    BUYER_MONEY_CARDS,
    FIGURES,
    LEAD_CARDS,
    PING_CARDS,
    RETURN_CARDS,
    SOURCE_COLUMNS,
    TOP_BUYER_COLUMNS,
    TOP_SOURCE_COLUMNS,
    VERTICAL_COLUMNS,
    Figure,
    definitions,
    display,
    table,
)
from apps.reports.params import filter_end_inclusive, report_filter
from apps.reports.selectors import (
    KpiRow,
    ReportFilter,
    day_range,
    kpi_totals,
    kpis,
    post_reject_reasons,
    rejection_reasons,
    return_reasons,
)
from apps.reports.timeline import auction_timeline, lead_reason, live_leads
from apps.routing.selectors import firings_between
from apps.sources.models import Source, Vertical

TIME_ZONES = ("UTC", "America/New_York", "America/Chicago", "America/Denver",
              "America/Phoenix", "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu",
              "Europe/London", "Europe/Berlin", "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney")
TOP = 10


def dashboard_view(view: Callable | None = None, *,
                   methods: tuple[str, ...] = ("GET", "HEAD")) -> Callable:
    """Login (admin login page) and ``reports.view_reports`` required; a bad filter is a
    400 page naming the parameter; nothing is cached; another method than ``methods`` is a
    405. Used bare, or as ``@dashboard_view(methods=…)``."""
    if view is None:
        return partial(dashboard_view, methods=methods)

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        user = request.user
        wants_json = request.path.endswith(".json")
        if not user.is_authenticated:
            if wants_json:
                return JsonResponse({"detail": "Log in first."}, status=401)
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not (user.is_active and user.is_staff and user.has_perm(VIEW_REPORTS)):
            raise PermissionDenied("The dashboards need the reports.view_reports permission.")
        if request.method not in methods:
            return HttpResponse(status=405, headers={"Allow": ", ".join(methods)})
        try:
            response = view(request, *args, **kwargs)
        except ValidationError as exc:
            response = render(request, "reports/bad_filter.html",
                              {"errors": _errors(exc.detail)}, status=400)
        add_never_cache_headers(response)
        return response

    return wrapper


def _errors(detail) -> list[tuple[str, list[str]]]:
    if isinstance(detail, dict):
        return [(name, [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])])
                for name, msgs in detail.items()]
    return [("filter", [str(m) for m in (detail if isinstance(detail, list) else [detail])])]


def _filter_query(f: ReportFilter, **extra: str) -> str:
    """The filter as a query string (for navigation, CSV and range links)."""
    params: dict[str, str | list[int]] = {
        "from": f.start.isoformat(), "to": filter_end_inclusive(f).isoformat(), "tz": f.tz,
        "source": list(f.source_ids), "buyer": list(f.buyer_ids),
        "vertical": list(f.vertical_ids), **extra}
    return urlencode({k: v for k, v in params.items() if v not in ([], "")}, doseq=True)


def _filter_summary(f: ReportFilter) -> str:
    """What the filter narrows, in a line beside the folded filter panel of a phone (the
    page title already gives the dates and the time zone)."""
    picked = [f"{len(ids)} {name}{'s' if len(ids) > 1 else ''}" for name, ids in (
        ("source", f.source_ids), ("buyer", f.buyer_ids), ("vertical", f.vertical_ids)) if ids]
    return " · ".join(picked) or "all sources, buyers and verticals"


def _page(request: HttpRequest, template: str, f: ReportFilter, context: dict) -> HttpResponse:
    ranges = []
    for label, days in (("Today", 1), ("Last 7 days", 7), ("Last 30 days", 30)):
        start, end = day_range(days, f.tz)
        ranges.append((label, _filter_query(ReportFilter(start, end, f.tz, f.source_ids,
                                                         f.buyer_ids, f.vertical_ids),
                                            group_by=context.get("group_by", ""))))
    return render(request, template, {
        "filter": f, "date_to": filter_end_inclusive(f), "query": _filter_query(f),
        "filter_summary": _filter_summary(f),
        "time_zones": TIME_ZONES if f.tz in TIME_ZONES else (f.tz, *TIME_ZONES),
        "sources": Source.objects.order_by("name").values_list("pk", "name"),
        "buyers": Buyer.objects.order_by("company").values_list("pk", "company"),
        "verticals": Vertical.objects.order_by("name").values_list("pk", "name"),
        "ranges": ranges, "lead_figures": not f.buyer_ids, **context})


# --- pages ------------------------------------------------------------------------------------

def home(request: HttpRequest) -> HttpResponse:
    """``/``: the dashboards for staff who may read them, the API docs for everybody else."""
    user = request.user
    if user.is_authenticated and user.is_staff and user.has_perm(VIEW_REPORTS):
        return redirect("reports:overview")
    return redirect("api-docs")


@dashboard_view
def overview(request: HttpRequest) -> HttpResponse:
    f, _ = report_filter(request.GET)
    totals = kpi_totals(f)
    buyers = sorted(kpis(f, "buyer"), key=lambda r: (-(r.revenue or 0), -(r.wins or 0)))
    sources = sorted(kpis(f, "source"), key=lambda r: (-(r.revenue or 0), -(r.received or 0)))
    rejected = totals.rejected or 0  # one submission can fail on several fields
    return _page(request, "reports/overview.html", f, {
        "page": "overview",
        "lead_cards": [c.cell(totals) | {"figure": c} for c in LEAD_CARDS],
        # only where sources pinged in the range (ping figures are not split by buyer)
        "ping_cards": [c.cell(totals) | {"figure": c} for c in PING_CARDS]
        if totals.pings_received is not None else [],
        # with a buyer filter the lead cards are gone: the buyers' money joins these
        "buyer_cards": [c.cell(totals) | {"figure": c} for c in (
            BUYER_CARDS if not f.buyer_ids else [*BUYER_CARDS, *BUYER_MONEY_CARDS])],
        "chart": _chart_series(f),
        "top_buyers": table("Buyer", TOP_BUYER_COLUMNS, buyers[:TOP]),
        "top_sources": table("Source", TOP_SOURCE_COLUMNS, sources[:TOP]),
        "rejections": [(reason, count, display("rate", count / rejected if rejected else None))
                       for reason, count in rejection_reasons(f)],
        "post_rejects": post_reject_reasons(f),
        "rule_firings": firings_between(*f.utc_bounds(), buyer_ids=f.buyer_ids),
        "definitions": definitions(LEAD_CARDS, PING_CARDS, BUYER_CARDS, TOP_BUYER_COLUMNS,
                                    TOP_SOURCE_COLUMNS),
    })


def _chart_series(f: ReportFilter) -> dict:
    """Leads (or, with a buyer filter, pings) and money per local day, or per local hour
    when the range is a single day; periods with no activity are zeros, not gaps."""
    unit = "hour" if (f.end - f.start).days == 1 else "day"
    by_key = {row.key: row for row in kpis(f, unit)}
    if unit == "day":
        keys = [(f.start + timedelta(days=n)).isoformat() for n in range((f.end - f.start).days)]
    else:
        start, end = (moment.astimezone(UTC) for moment in f.utc_bounds())
        hours = (start + timedelta(hours=n) for n in range(int((end - start).total_seconds()
                                                               // 3600)))
        keys = list(dict.fromkeys(h.astimezone(f.zone).strftime("%Y-%m-%d %H:00")
                                  for h in hours))
    rows = [by_key.get(key) or KpiRow(key=key, label=key) for key in keys]

    def series(name: str) -> dict:
        return {"key": name, "label": FIGURES[name].title,
                "data": [float(getattr(row, name) or 0) for row in rows]}

    lead_figures = not f.buyer_ids
    return {"unit": unit, "keys": keys,
            "labels": [key[11:] if unit == "hour" else key[5:] for key in keys],
            "volume": [series(n) for n in (("received", "sold", "rejected") if lead_figures
                                           else ("pings", "bids", "wins"))],
            "money": [series(n) for n in (("revenue", "net_revenue", "margin") if lead_figures
                                          else ("revenue", "net_revenue"))]}


def _table_page(request: HttpRequest, *, page: str, title: str, group_by: str, group: str,
                columns: list[Figure], groupings: tuple[tuple[str, str], ...] = ()
                ) -> HttpResponse:
    f, _ = report_filter(request.GET)
    rows = kpis(f, group_by)
    if request.GET.get("format") == "csv":
        filename = f"leadexchange-{page}-{group_by}-{f.start}-{filter_end_inclusive(f)}.csv"
        return kpi_csv_response(
            filename, [(f"{group_by}_id", lambda r: r.key), (group_by, lambda r: r.label),
                       *((c.name, c.value) for c in columns)], rows)
    return _page(request, "reports/table.html", f, {
        "page": page, "title": title, "group_by": group_by, "groupings": groupings,
        "table": table(group, columns, rows, totals=kpi_totals(f)),
        "csv_query": _filter_query(f, group_by=group_by, format="csv"),
        "definitions": definitions(columns),
    })


@dashboard_view
def buyers(request: HttpRequest) -> HttpResponse:
    group_by = request.GET.get("group_by") or "buyer"
    if group_by not in ("buyer", "contract"):
        raise ValidationError({"group_by": ["Must be buyer or contract on this page."]})
    return _table_page(request, page="buyers", title="Buyers", group_by=group_by,
                       group="Buyer" if group_by == "buyer" else "Contract",
                       columns=BUYER_COLUMNS,
                       groupings=(("buyer", "By buyer"), ("contract", "By contract")))


@dashboard_view
def sources(request: HttpRequest) -> HttpResponse:
    return _table_page(request, page="sources", title="Sources", group_by="source",
                       group="Source", columns=SOURCE_COLUMNS)


@dashboard_view
def verticals(request: HttpRequest) -> HttpResponse:
    return _table_page(request, page="verticals", title="Verticals", group_by="vertical",
                       group="Vertical", columns=VERTICAL_COLUMNS)


RETURN_COLUMNS = (("approved", "Approved", "int"), ("pending", "Pending", "int"),
                  ("rejected", "Rejected", "int"), ("credits", "Credits", "money"),
                  ("clawbacks", "Clawbacks", "money"))


@dashboard_view
def returns(request: HttpRequest) -> HttpResponse:
    """Returns by status, their money, and their reasons per buyer and per source; ``by``
    picks the table a CSV export (``format=csv``) gives."""
    f, _ = report_filter(request.GET)
    by = request.GET.get("by") or "buyer"
    if by not in ("buyer", "source"):
        raise ValidationError({"by": ["Must be buyer or source."]})
    if request.GET.get("format") == "csv":
        filename = f"leadexchange-returns-{by}-{f.start}-{filter_end_inclusive(f)}.csv"
        return kpi_csv_response(
            filename, [(f"{by}_id", lambda r: r.key), (by, lambda r: r.label),
                       ("reason", lambda r: r.reason),
                       *((name, lambda r, name=name: getattr(r, name))
                         for name, _, _ in RETURN_COLUMNS)],
            return_reasons(f, by))
    totals = kpi_totals(f)
    found = {group: return_reasons(f, group) for group in ("buyer", "source")}
    tables = {group: [{"key": r.key, "label": r.label, "reason": r.reason,
                       "cells": [{"name": name, "value": csv_value(getattr(r, name)),
                                  "text": display(kind, getattr(r, name))}
                                 for name, _, kind in RETURN_COLUMNS]}
                      for r in rows] for group, rows in found.items()}
    reasons: dict[str, dict[str, int]] = {}
    for reason_row in found["buyer"]:  # every return once: the chart's reasons
        counts = reasons.setdefault(reason_row.reason, dict.fromkeys(
            ("approved", "pending", "rejected"), 0))
        for status in counts:
            counts[status] += getattr(reason_row, status)
    ranked = sorted(reasons.items(), key=lambda kv: (-kv[1]["approved"], kv[0]))
    return _page(request, "reports/returns.html", f, {
        "page": "returns",
        "cards": [c.cell(totals) | {"figure": c} for c in RETURN_CARDS],
        "tables": [("buyer", "Buyer", tables["buyer"]), ("source", "Source", tables["source"])],
        "columns": RETURN_COLUMNS,
        "chart": {"labels": [reason for reason, _ in ranked],
                  "series": [{"key": status, "label": status.capitalize(),
                              "data": [counts[status] for _, counts in ranked]}
                             for status in ("approved", "pending", "rejected")]},
        "csv_buyer": _filter_query(f, by="buyer", format="csv"),
        "csv_source": _filter_query(f, by="source", format="csv"),
        "definitions": definitions(RETURN_CARDS),
    })


# --- one lead and its auction -----------------------------------------------------------------

@dashboard_view(methods=("GET", "HEAD", "POST"))
def lead_detail(request: HttpRequest, lead_uuid: UUID) -> HttpResponse:
    """One lead and its auctions. Its personal data is masked; a POST (the *Reveal personal
    data* button) shows it in clear to a user with ``leads.view_pii``, audited, and is a 403
    for anyone else (apps.leads.disclosure)."""
    lead = get_object_or_404(Lead.objects.select_related("source", "vertical", "duplicate_of"),
                             uuid=lead_uuid)
    personal = (pii_reveal(request.user, lead, Where.DASHBOARD) if request.method == "POST"
                else pii_masked(lead))
    bodies = ("request_body", "response_body")
    auctions = (Auction.objects.filter(lead=lead).order_by("started_at").prefetch_related(
        Prefetch("pings", Ping.objects.select_related("contract__buyer").defer(*bodies)
                 .order_by("round", "pk")),
        Prefetch("posts", Post.objects.select_related("contract__buyer").defer(*bodies)
                 .order_by("created_at", "pk"))))
    sales = Sale.objects.filter(lead=lead).select_related("contract__buyer")
    deliver = (lead.completed_at - lead.received_at).total_seconds() * 1000 \
        if lead.status in SOLD_STATUSES and lead.completed_at else None
    return render(request, "reports/lead.html", {
        "page": "lead", "lead": lead, "reason": lead_reason(lead), "sales": sales,
        "personal": personal, "can_reveal": can_reveal(request.user),
        "deliver": display("ms", deliver),
        "price": display("money", lead.sale_price), "payout": display("money", lead.payout),
        "margin": display("money", lead.margin),
        "timelines": [auction_timeline(auction) | {"element_id": f"timeline-{n}"}
                      for n, auction in enumerate(auctions, start=1)]})


@dashboard_view
def live(request: HttpRequest) -> HttpResponse:
    return render(request, "reports/live.html", {
        "page": "live", "leads": live_leads(),
        "deliver_definition": "Received → sold (sold leads only).",
        "reason_definition": "Why it did not sell: the invalid fields of a rejection, the "
                             "lead a duplicate repeats, the auction's reason when unsold."})


@dashboard_view
def live_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"generated_at": datetime.now(UTC).isoformat(),
                         "leads": live_leads()})
