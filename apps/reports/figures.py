"""What a dashboard card or column shows and how it is written: the figure's name, title,
kind (int, money, rate, pct, ms, text) and definition, and the display format —
money with two decimals, rates (fractions) and pct figures (already percentages) as "12.5 %",
"—" where a figure does not apply."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from apps.reports.definitions import DEFINITIONS
from apps.reports.selectors import KpiRow

# What a KpiRow attribute holds (a label, a count, a rate, money, ms), None: not applicable.
FigureValue = str | int | float | Decimal | None


@dataclass(frozen=True)
class Figure:
    """One KPI as the pages show it: ``kind`` is int, money, rate (a fraction), pct (a
    percentage), ms or text."""

    name: str
    title: str
    kind: str = "int"
    detail: str = ""  # another figure a card shows under the value ("3.4 % of sold")

    @property
    def definition(self) -> str:
        return DEFINITIONS.get(self.name) or EXTRA_DEFINITIONS.get(self.name, "")

    def value(self, row: KpiRow) -> FigureValue:
        return getattr(row, self.name)

    def cell(self, row: KpiRow) -> dict:
        value = self.value(row)
        raw = "" if value is None else f"{value:.2f}" if isinstance(value, Decimal) else value
        cell = {"name": self.name, "value": raw, "text": display(self.kind, value),
                "kind": self.kind}
        if self.detail:
            detail = FIGURES[self.detail]
            cell["detail"] = f"{display(detail.kind, detail.value(row))} {detail.title.lower()}"
        return cell


EXTRA_DEFINITIONS = {"label": "The group the figures of the row belong to."}


def display(kind: str, value: FigureValue) -> str:
    """A value as the tables show it; "—" where the figure does not apply."""
    if value is None or value == "":
        return "—"
    if kind == "int":
        return f"{value:,}"
    if kind == "money":
        return f"{Decimal(value):,.2f}"
    if kind == "rate":
        return f"{float(value) * 100:.1f} %"
    if kind == "pct":
        return f"{float(value):.1f} %"
    if kind == "ms":
        ms = float(value)
        return f"{ms:,.0f} ms" if ms < 10_000 else f"{ms / 1000:,.1f} s"
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
    Figure("returns", "Returns", detail="return_rate"),
    Figure("returns_pending", "Returns pending"), Figure("returns_rejected", "Returns rejected"),
    Figure("return_rate", "Return rate", "rate"), Figure("credits", "Credits", "money"),
    Figure("net_revenue", "Net revenue", "money", detail="credits"),
    Figure("clawbacks", "Clawbacks", "money"), Figure("net_payout", "Net payout", "money"),
    Figure("net_margin", "Net margin", "money"), Figure("conversions", "Conversions"),
    Figure("converted_leads", "Converted leads"),
    Figure("conversion_rate", "Conversion rate", "rate", detail="conversion_value"),
    Figure("conversion_value", "Conversion value", "money"),
    Figure("pings_received", "Pings received"), Figure("pings_bid", "Pings bid"),
    Figure("ping_bid_rate", "Ping bid rate", "rate"),
    Figure("avg_bid_offered", "Avg bid offered", "money"),
    Figure("pings_posted", "Pings posted", detail="ping_post_rate"),
    Figure("ping_post_rate", "Ping → post", "rate"),
    Figure("pings_expired", "Pings expired"), Figure("pings_sold", "Pings sold"),
    Figure("pings", "Pings"), Figure("bids", "Bids"),
    Figure("bids_below_floor", "Bids below floor"), Figure("bid_rate", "Bid rate", "rate"),
    Figure("avg_bid", "Avg bid", "money"), Figure("wins", "Wins"),
    Figure("win_rate_pings", "Win rate / ping", "rate"),
    Figure("win_rate_bids", "Win rate / bid", "rate"), Figure("posts", "Posts"),
    Figure("post_rejects", "Post rejects"),
    Figure("post_reject_rate", "Post-reject rate", "rate"),
    Figure("timeouts_pct", "Timeouts", "pct"),
    Figure("latency_p50_ms", "Latency p50", "ms"), Figure("latency_p95_ms", "Latency p95", "ms"),
    Figure("auto_pauses", "Auto-pauses"),
)}


def figures(*names: str) -> list[Figure]:
    return [FIGURES[name] for name in names]


LEAD_CARDS = figures("received", "accepted", "rejection_rate", "duplicates", "sold",
                      "sell_through", "revenue", "payouts", "margin", "revenue_per_lead",
                      "deliver_p50_ms", "deliver_p95_ms", "returns", "net_revenue",
                      "net_margin", "conversion_rate")
# the sources' own pings (source-side ping-post)
PING_CARDS = figures("pings_received", "ping_bid_rate", "avg_bid_offered", "pings_posted",
                     "pings_expired", "pings_sold")
PING_COLUMNS = figures("pings_received", "pings_bid", "ping_bid_rate", "avg_bid_offered",
                       "pings_posted", "ping_post_rate", "pings_expired", "pings_sold")
# what joins the buyer cards when a buyer filter hides the lead cards: the buyers' money
BUYER_MONEY_CARDS = figures("revenue", "returns", "net_revenue", "conversion_rate")
BUYER_CARDS = figures("pings", "bid_rate", "avg_bid", "win_rate_pings", "win_rate_bids",
                       "post_reject_rate", "timeouts_pct", "latency_p50_ms", "auto_pauses")
BUYER_COLUMNS = figures("pings", "bids", "bids_below_floor", "bid_rate", "avg_bid", "wins",
                         "win_rate_pings", "win_rate_bids", "posts", "post_rejects",
                         "post_reject_rate", "timeouts_pct", "latency_p50_ms",
                         "latency_p95_ms", "auto_pauses", "revenue", "returns",
                         "returns_pending", "return_rate", "credits", "net_revenue",
                         "clawbacks", "conversions", "converted_leads", "conversion_rate",
                         "conversion_value")
SOURCE_COLUMNS = figures("received", "accepted", "rejected", "rejection_rate", "duplicates",
                          "sold", "sell_through", "revenue", "payouts", "margin",
                          "revenue_per_lead", "deliver_p50_ms", "deliver_p95_ms", "returns",
                          "returns_pending", "return_rate", "credits", "net_revenue",
                          "clawbacks", "net_payout", "net_margin", "conversions",
                          "converted_leads", "conversion_rate", "conversion_value"
                          ) + PING_COLUMNS
VERTICAL_COLUMNS = figures("received", "accepted", "rejection_rate", "sold", "sell_through",
                            "revenue", "payouts", "margin", "revenue_per_lead",
                            "deliver_p50_ms", "pings", "bid_rate", "win_rate_pings",
                            "post_reject_rate", "timeouts_pct", "latency_p50_ms",
                            "returns", "return_rate", "credits", "net_revenue", "clawbacks",
                            "net_margin", "conversion_rate", "conversion_value"
                            ) + PING_COLUMNS
TOP_BUYER_COLUMNS = figures("pings", "bid_rate", "wins", "win_rate_pings", "win_rate_bids",
                             "post_reject_rate", "latency_p50_ms", "revenue", "return_rate",
                             "net_revenue")
TOP_SOURCE_COLUMNS = figures("received", "rejection_rate", "sold", "sell_through", "revenue",
                              "margin", "revenue_per_lead", "return_rate", "net_revenue",
                              "net_margin")
RETURN_CARDS = figures("returns", "returns_pending", "returns_rejected", "return_rate",
                        "credits", "clawbacks", "net_revenue")


def table(group: str, columns: list[Figure], rows: list[KpiRow],
           totals: KpiRow | None = None) -> dict:
    return {"group": group, "columns": columns,
            "rows": [{"key": r.key, "label": r.label, "cells": [c.cell(r) for c in columns]}
                     for r in rows],
            "totals": [c.cell(totals) for c in columns] if totals is not None else None}


def definitions(*groups: list[Figure]) -> list[Figure]:
    seen: dict[str, Figure] = {}
    for figure in (f for group in groups for f in group):
        seen.setdefault(figure.name, figure)
    return list(seen.values())


# --- access and the filter ---------------------------------------------------------------
