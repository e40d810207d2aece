"""The dashboards under ``/dashboard/``: the KPI selectors rendered as cards, charts and
sortable tables, a lead's auction as a waterfall, and a live list of the newest leads.

Every page reads the filter with ``report_filter`` — the same parser as the KPI API — so a
dashboard and ``/api/v1/reports/kpis`` show the same numbers for the same query string.
Open to active staff holding ``reports.view_reports`` (Managers, Account managers,
superusers); anonymous visitors go to the admin login, other staff get a 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import wraps
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
from apps.leads.models import Lead, LeadStatus
from apps.reports.api.views import VIEW_REPORTS
from apps.reports.csv import kpi_csv_response
from apps.reports.params import filter_end_inclusive, report_filter
from apps.reports.selectors import (
    DEFINITIONS,
    KpiRow,
    ReportFilter,
    day_range,
    kpi_totals,
    kpis,
    post_reject_reasons,
    rejection_reasons,
)
from apps.sources.models import Source, Vertical

TIME_ZONES = ("UTC", "America/New_York", "America/Chicago", "America/Denver",
              "America/Phoenix", "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu",
              "Europe/London", "Europe/Berlin", "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney")
LIVE_SIZE = 50
TOP = 10
PINGED = frozenset({"bid", "no_bid", "timeout", "error", "invalid_response", "below_floor"})


# --- figures: what a column or card shows and how -------------------------------------------

@dataclass(frozen=True)
class Figure:
    """One KPI as the pages show it: ``kind`` is int, money, rate, ms, text or pending."""

    name: str
    title: str
    kind: str = "int"

    @property
    def definition(self) -> str:
        return DEFINITIONS.get(self.name) or EXTRA_DEFINITIONS.get(self.name, "")

    def value(self, row: KpiRow) -> object:
        if self.kind == "pending":
            return None
        if self.name == "rejection_rate":
            return round(row.rejected / row.received, 4) if row.received else None
        return getattr(row, self.name)

    def cell(self, row: KpiRow) -> dict:
        value = self.value(row)
        raw = "" if value is None else f"{value:.2f}" if isinstance(value, Decimal) else value
        return {"name": self.name, "value": raw, "text": display(self.kind, value),
                "kind": self.kind}


EXTRA_DEFINITIONS = {
    "rejection_rate": "Rejected ÷ received: submissions refused for invalid input.",
    "label": "The group the figures of the row belong to.",
}


def display(kind: str, value: object) -> str:
    """A value as the tables show it; "—" where the figure does not apply."""
    if value is None or value == "":
        return "—"
    if kind == "int":
        return f"{value:,}"
    if kind == "money":
        return f"{Decimal(value):,.2f}"
    if kind == "rate":
        return f"{float(value) * 100:.1f} %"
    if kind == "ms":
        return f"{value:,.0f} ms" if value < 10_000 else f"{value / 1000:,.1f} s"
    return str(value)


FIGURES = {f.name: f for f in (
    Figure("received", "Received"), Figure("accepted", "Accepted"),
    Figure("rejected", "Rejected"), Figure("rejection_rate", "Rejection rate", "rate"),
    Figure("duplicates", "Duplicates"), Figure("sold", "Sold"), Figure("unsold", "Unsold"),
    Figure("sell_through", "Sell-through", "rate"), Figure("revenue", "Revenue", "money"),
    Figure("payouts", "Payouts", "money"), Figure("margin", "Margin", "money"),
    Figure("revenue_per_lead", "Revenue / lead", "money"),
    Figure("deliver_p50_ms", "Time to deliver p50", "ms"),
    Figure("deliver_p95_ms", "Time to deliver p95", "ms"),
    Figure("returns", "Returns", "pending"),
    Figure("pings", "Pings"), Figure("bids", "Bids"), Figure("bid_rate", "Bid rate", "rate"),
    Figure("avg_bid", "Avg bid", "money"), Figure("wins", "Wins"),
    Figure("win_rate_pings", "Win rate / ping", "rate"),
    Figure("win_rate_bids", "Win rate / bid", "rate"), Figure("posts", "Posts"),
    Figure("post_rejects", "Post rejects"),
    Figure("post_reject_rate", "Post-reject rate", "rate"),
    Figure("timeouts_pct", "Timeouts", "rate"),
    Figure("latency_p50_ms", "Latency p50", "ms"), Figure("latency_p95_ms", "Latency p95", "ms"),
    Figure("auto_pauses", "Auto-pauses"), Figure("buyer_revenue", "Revenue", "money"),
)}


def _figures(*names: str) -> list[Figure]:
    return [FIGURES[name] for name in names]


LEAD_CARDS = _figures("received", "accepted", "rejection_rate", "duplicates", "sold",
                      "sell_through", "revenue", "payouts", "margin", "revenue_per_lead",
                      "deliver_p50_ms", "deliver_p95_ms", "returns")
BUYER_CARDS = _figures("pings", "bid_rate", "avg_bid", "win_rate_pings", "win_rate_bids",
                       "post_reject_rate", "timeouts_pct", "latency_p50_ms", "auto_pauses")
BUYER_COLUMNS = _figures("pings", "bids", "bid_rate", "avg_bid", "wins", "win_rate_pings",
                         "win_rate_bids", "posts", "post_rejects", "post_reject_rate",
                         "timeouts_pct", "latency_p50_ms", "latency_p95_ms", "auto_pauses",
                         "buyer_revenue")
SOURCE_COLUMNS = _figures("received", "accepted", "rejected", "rejection_rate", "duplicates",
                          "sold", "sell_through", "revenue", "payouts", "margin",
                          "revenue_per_lead", "deliver_p50_ms", "deliver_p95_ms")
VERTICAL_COLUMNS = _figures("received", "accepted", "rejection_rate", "sold", "sell_through",
                            "revenue", "payouts", "margin", "revenue_per_lead",
                            "deliver_p50_ms", "pings", "bid_rate", "win_rate_pings",
                            "post_reject_rate", "timeouts_pct", "latency_p50_ms")
TOP_BUYER_COLUMNS = _figures("pings", "bid_rate", "wins", "win_rate_pings", "win_rate_bids",
                             "post_reject_rate", "latency_p50_ms", "buyer_revenue")
TOP_SOURCE_COLUMNS = _figures("received", "rejection_rate", "sold", "sell_through", "revenue",
                              "margin", "revenue_per_lead")


def _table(group: str, columns: list[Figure], rows: list[KpiRow],
           totals: KpiRow | None = None) -> dict:
    return {"group": group, "columns": columns,
            "rows": [{"key": r.key, "label": r.label, "cells": [c.cell(r) for c in columns]}
                     for r in rows],
            "totals": [c.cell(totals) for c in columns] if totals is not None else None}


def _definitions(*groups: list[Figure]) -> list[Figure]:
    seen: dict[str, Figure] = {}
    for figure in (f for group in groups for f in group):
        seen.setdefault(figure.name, figure)
    return list(seen.values())


# --- access and the filter ---------------------------------------------------------------

def dashboard_view(view: Callable) -> Callable:
    """Login (admin login page) and ``reports.view_reports`` required; a bad filter is a
    400 page naming the parameter; nothing is cached."""

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
        if request.method not in ("GET", "HEAD"):
            return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
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
    params = {"from": f.start.isoformat(), "to": filter_end_inclusive(f).isoformat(),
              "tz": f.tz, "source": list(f.source_ids), "buyer": list(f.buyer_ids),
              "vertical": list(f.vertical_ids), **extra}
    return urlencode({k: v for k, v in params.items() if v not in ([], "")}, doseq=True)


def _page(request: HttpRequest, template: str, f: ReportFilter, context: dict) -> HttpResponse:
    ranges = []
    for label, days in (("Today", 1), ("Last 7 days", 7), ("Last 30 days", 30)):
        start, end = day_range(days, f.tz)
        ranges.append((label, _filter_query(ReportFilter(start, end, f.tz, f.source_ids,
                                                         f.buyer_ids, f.vertical_ids),
                                            group_by=context.get("group_by", ""))))
    return render(request, template, {
        "filter": f, "date_to": filter_end_inclusive(f), "query": _filter_query(f),
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
    buyers = sorted(kpis(f, "buyer"), key=lambda r: (-(r.buyer_revenue or 0), -(r.wins or 0)))
    sources = sorted(kpis(f, "source"), key=lambda r: (-(r.revenue or 0), -(r.received or 0)))
    rejected = totals.rejected or 0  # one submission can fail on several fields
    return _page(request, "reports/overview.html", f, {
        "page": "overview",
        "lead_cards": [c.cell(totals) | {"figure": c} for c in LEAD_CARDS],
        "buyer_cards": [c.cell(totals) | {"figure": c} for c in BUYER_CARDS],
        "chart": _chart_series(f),
        "top_buyers": _table("Buyer", TOP_BUYER_COLUMNS, buyers[:TOP]),
        "top_sources": _table("Source", TOP_SOURCE_COLUMNS, sources[:TOP]),
        "rejections": [(reason, count, display("rate", count / rejected if rejected else None))
                       for reason, count in rejection_reasons(f)],
        "post_rejects": post_reject_reasons(f),
        "definitions": _definitions(LEAD_CARDS, BUYER_CARDS, TOP_BUYER_COLUMNS,
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
            "money": [series(n) for n in (("revenue", "margin") if lead_figures
                                          else ("buyer_revenue",))]}


def _table_page(request: HttpRequest, *, page: str, title: str, group_by: str, group: str,
                columns: list[Figure], groupings: tuple[tuple[str, str], ...] = ()
                ) -> HttpResponse:
    f, _ = report_filter(request.GET)
    rows = kpis(f, group_by)
    if request.GET.get("format") == "csv":
        filename = f"leadexchange-{page}-{group_by}-{f.start}-{filter_end_inclusive(f)}.csv"
        return kpi_csv_response(
            filename, [(f"{group_by}_id", lambda r: r.key), (group_by, lambda r: r.label),
                       *((c.name, c.value) for c in columns if c.kind != "pending")], rows)
    return _page(request, "reports/table.html", f, {
        "page": page, "title": title, "group_by": group_by, "groupings": groupings,
        "table": _table(group, columns, rows, totals=kpi_totals(f)),
        "csv_query": _filter_query(f, group_by=group_by, format="csv"),
        "definitions": _definitions(columns),
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


# --- one lead and its auction -----------------------------------------------------------------

@dashboard_view
def lead_detail(request: HttpRequest, lead_uuid: UUID) -> HttpResponse:
    lead = get_object_or_404(Lead.objects.select_related("source", "vertical"), uuid=lead_uuid)
    bodies = ("request_body", "response_body")
    auctions = (Auction.objects.filter(lead=lead).order_by("started_at").prefetch_related(
        Prefetch("pings", Ping.objects.select_related("contract__buyer").defer(*bodies)
                 .order_by("round", "pk")),
        Prefetch("posts", Post.objects.select_related("contract__buyer").defer(*bodies)
                 .order_by("created_at", "pk"))))
    sales = Sale.objects.filter(lead=lead).select_related("contract__buyer")
    deliver = (lead.completed_at - lead.received_at).total_seconds() * 1000 \
        if lead.status == LeadStatus.SOLD and lead.completed_at else None
    return render(request, "reports/lead.html", {
        "page": "lead", "lead": lead, "sales": sales, "deliver": display("ms", deliver),
        "price": display("money", lead.sale_price), "payout": display("money", lead.payout),
        "margin": display("money", lead.margin),
        "timelines": [auction_timeline(auction) | {"element_id": f"timeline-{n}"}
                      for n, auction in enumerate(auctions, start=1)]})


def auction_timeline(auction: Auction) -> dict:
    """The auction as bars on one time axis (ms since the auction started): every pinged
    contract from the start of its round to its answer, then each post attempt from when
    it was sent to its answer; contracts left out listed apart with their reason code.

    Round one's pings leave together at the start. Ping rows are written when a round ends,
    so round two's start is read from the end of round one's posts (or its decision)."""
    t0 = auction.started_at

    def since(moment: datetime | None) -> float | None:
        return None if moment is None else round((moment - t0).total_seconds() * 1000, 1)

    pings, posts = list(auction.pings.all()), list(auction.posts.all())
    deadline = since(auction.ping_deadline_at)
    second = [p for p in pings if p.round > 1]
    second_written = min((p.created_at for p in second), default=None)
    first_posts = [p for p in posts if second_written is None or p.created_at < second_written]
    second_start = max([since(auction.bids_at) or 0.0, *(
        since(p.created_at) + (p.latency_ms or 0) for p in first_posts)])

    def ping_bar(ping: Ping, start: float) -> dict:
        latency = ping.latency_ms
        end = start + latency if latency is not None else (
            deadline if ping.outcome == "timeout" and deadline else start)
        return {"kind": "ping", "round": ping.round, "label": f"R{ping.round} ping · "
                f"{ping.contract}", "buyer": ping.contract.buyer.company,
                "contract": str(ping.contract), "outcome": ping.outcome, "start": start,
                "end": round(end, 1), "latency": latency, "amount": _money(ping.bid),
                "detail": ping.detail}

    def post_bar(post: Post) -> dict:
        start = since(post.created_at)
        return {"kind": "post", "round": 1 if post in first_posts else 2,
                "label": f"Post #{post.attempt} · {post.contract}",
                "buyer": post.contract.buyer.company, "contract": str(post.contract),
                "outcome": post.outcome, "start": start,
                "end": round(start + (post.latency_ms or 0), 1), "latency": post.latency_ms,
                "amount": _money(post.price), "detail": post.reason}

    bars = [ping_bar(p, 0.0) for p in pings if p.round == 1 and p.outcome in PINGED]
    bars += [post_bar(p) for p in first_posts]
    bars += [ping_bar(p, second_start) for p in second if p.outcome in PINGED]
    bars += [post_bar(p) for p in posts if p not in first_posts]
    return {"auction": auction, "bars": bars, "rounds": auction.rounds,
            "height_px": 80 + 30 * max(len(bars), 3),
            "excluded": [p for p in pings if p.outcome not in PINGED],
            "chart": {"bars": bars, "markers": [m for m in (
                {"at": deadline, "label": "ping deadline"},
                {"at": since(auction.bids_at), "label": "decision"},
                {"at": since(auction.finished_at), "label": "finished"}) if m["at"] is not None]}}


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


# --- the live view ----------------------------------------------------------------------------

def live_leads(limit: int = LIVE_SIZE) -> list[dict]:
    """The newest leads (test leads included, marked), newest first, display-ready."""
    leads = (Lead.objects.select_related("source", "vertical")
             .only("uuid", "status", "is_test", "sale_price", "received_at", "completed_at",
                   "source__name", "vertical__name")
             .order_by("-received_at", "-pk")[:limit])
    rows = []
    for lead in leads:
        deliver = (lead.completed_at - lead.received_at).total_seconds() * 1000 \
            if lead.status == LeadStatus.SOLD and lead.completed_at else None
        rows.append({
            "uuid": str(lead.uuid), "url": reverse("reports:lead-detail", args=[lead.uuid]),
            "received_at": lead.received_at.isoformat(),
            "received": lead.received_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "source": lead.source.name, "vertical": lead.vertical.name if lead.vertical else "",
            "status": lead.status, "test": lead.is_test, "price": _money(lead.sale_price),
            "price_text": display("money", lead.sale_price), "deliver": display("ms", deliver)})
    return rows


@dashboard_view
def live(request: HttpRequest) -> HttpResponse:
    return render(request, "reports/live.html", {
        "page": "live", "leads": live_leads(),
        "deliver_definition": "Received → sold (sold leads only)."})


@dashboard_view
def live_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"generated_at": datetime.now(UTC).isoformat(),
                         "leads": live_leads()})
