"""Lead-level reads for the dashboards: one auction as waterfall bars, the newest leads."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from django.urls import reverse

from apps.auctions.engine import PINGED, Outcome
from apps.auctions.models import Auction, Ping, Post
from apps.leads.models import SOLD_STATUSES, Lead, LeadStatus
from apps.reports.figures import display

LIVE_SIZE = 50


def auction_timeline(auction: Auction) -> dict:
    """The auction as bars on one time axis (ms since the auction started): every pinged
    contract from the start of its round to its answer, then each post attempt from when
    it was sent to its answer; contracts left out listed apart with their reason code.

    Round one's pings leave together at the start. Ping rows are written when a round ends,
    so round two's start is read from the end of round one's posts (or its decision)."""
    t0 = auction.started_at

    def since(moment: datetime) -> float:
        return round((moment - t0).total_seconds() * 1000, 1)

    def since_if(moment: datetime | None) -> float | None:  # None: it has not happened
        return None if moment is None else since(moment)

    pings, posts = list(auction.pings.all()), list(auction.posts.all())
    deadline = since(auction.ping_deadline_at)
    second = [p for p in pings if p.round > 1]
    second_written = min((p.created_at for p in second), default=None)
    first_posts = [p for p in posts if second_written is None or p.created_at < second_written]
    second_start = max([since_if(auction.bids_at) or 0.0, *(
        since(p.created_at) + (p.latency_ms or 0) for p in first_posts)])

    def ping_bar(ping: Ping, start: float) -> dict:
        latency = ping.latency_ms
        end = start + latency if latency is not None else (
            deadline if ping.outcome == Outcome.TIMEOUT and deadline else start)
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
                {"at": since_if(auction.bids_at), "label": "decision"},
                {"at": since_if(auction.finished_at), "label": "finished"},
            ) if m["at"] is not None]}}


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


# --- the live view ----------------------------------------------------------------------------

_REASON_KEYS = 4  # invalid keys named in a rejection reason before "+N more"


def lead_reason(lead: Lead) -> str:
    """Why a lead did not sell, in a few words: the invalid keys of a rejection (names,
    never the values sent), the lead a duplicate repeats, the auction's reason for an
    unsold or failed lead; "" for the others. Reads ``errors``, ``message`` and
    ``duplicate_of.uuid``."""
    if lead.status == LeadStatus.REJECTED:
        keys = sorted(lead.errors or {})
        if not keys:
            return lead.message
        more = len(keys) - _REASON_KEYS
        return "invalid " + ", ".join(keys[:_REASON_KEYS]) + (
            f" (+{more} more)" if more > 0 else "")
    if lead.status == LeadStatus.DUPLICATE:
        held = lead.duplicate_of
        return f"duplicate of {str(held.uuid)[:8]}…" if held is not None else lead.message
    if lead.status in (LeadStatus.UNSOLD, LeadStatus.ERROR, LeadStatus.SUPPRESSED):
        return lead.message
    return ""


def live_leads(limit: int = LIVE_SIZE) -> list[dict]:
    """The newest leads (test leads included, marked), newest first, display-ready, each
    with the reason it did not sell (``lead_reason``)."""
    leads = (Lead.objects.select_related("source", "vertical", "duplicate_of")
             .only("uuid", "status", "is_test", "sale_price", "received_at", "completed_at",
                   "errors", "message", "source__name", "vertical__name",
                   "duplicate_of__uuid")
             .order_by("-received_at", "-pk")[:limit])
    rows = []
    for lead in leads:
        deliver = (lead.completed_at - lead.received_at).total_seconds() * 1000 \
            if lead.status in SOLD_STATUSES and lead.completed_at else None
        rows.append({
            "uuid": str(lead.uuid), "url": reverse("reports:lead-detail", args=[lead.uuid]),
            "received_at": lead.received_at.isoformat(),
            "received": lead.received_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "source": lead.source.name, "vertical": lead.vertical.name if lead.vertical else "",
            "status": lead.status, "reason": lead_reason(lead), "test": lead.is_test,
            "price": _money(lead.sale_price),
            "price_text": display("money", lead.sale_price), "deliver": display("ms", deliver)})
    return rows
