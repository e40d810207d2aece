"""Builders for the dashboard tests: a Manager, a lead whose auction has every kind of step
(for the waterfall), and a busy week of leads (for charts worth a screenshot). They extend
the hand-computed KPI fixture (``tests.integration.test_kpis.World``) without touching its
day, 2026-03-10 in New York."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from apps.auctions.models import Auction, Ping, Post, Sale
from apps.buyers.models import Contract
from apps.leads.models import Lead, LeadStatus
from tests.factories import BuyerFactory, SourceFactory


def managers_group() -> Group:
    """The Managers role, recreated with the reports permission if a transactional test
    flushed the data migration's groups."""
    group, _ = Group.objects.get_or_create(name="Managers")
    group.permissions.add(Permission.objects.get(content_type__app_label="reports",
                                                 codename="view_reports"))
    return group


def manager_create(username: str = "mia", password: str | None = None):
    """A staff user in the Managers group (no usable password unless given: hashing one
    costs a third of a second)."""
    user = get_user_model().objects.create_user(username, f"{username}@example.com", password,
                                                is_staff=True)
    user.groups.add(managers_group())
    return user


def _at(moment: datetime, ms: float) -> datetime:
    return moment + timedelta(milliseconds=ms)


def _ping(auction: Auction, contract: Contract, outcome: str, *, round_: int = 1, bid=None,
          latency=None, detail: str = "", written: datetime) -> Ping:
    row = Ping.objects.create(auction=auction, contract=contract, round=round_,
                              outcome=outcome, bid=bid, latency_ms=latency, detail=detail)
    Ping.objects.filter(pk=row.pk).update(created_at=written)
    return row


def _post(auction: Auction, contract: Contract, outcome: str, price, *, latency: float,
          sent: datetime, reason: str = "", attempt: int = 1) -> Post:
    row = Post.objects.create(auction=auction, contract=contract, outcome=outcome, price=price,
                              latency_ms=latency, reason=reason, attempt=attempt)
    Post.objects.filter(pk=row.pk).update(created_at=sent)
    return row


def waterfall_lead(world) -> Lead:
    """A lead of 2026-03-12 (outside the fixture day) sold in round two.

    Round one (deadline at 700 ms, decided at 705 ms): c1 (B1) bids 12.00 in 180 ms, c2 (B2)
    answers no bid in 95 ms, c4 (B4) times out at 700 ms, c5 (B5) is left out (filtered).
    c1's post is rejected (sent at 710 ms, 310 ms). Round two starts at 1020 ms: c3 (B3, a
    secondary contract) bids 9.00 in 220 ms and its post (sent at 1250 ms, 190 ms) is
    accepted; c5 is left out again (capped)."""
    d = Decimal
    b3, b4, b5 = (BuyerFactory(company=name) for name in ("B3", "B4", "B5"))
    v = world.vertical
    c3 = Contract.objects.create(buyer=b3, vertical=v, name="c3", is_secondary=True)
    c4 = Contract.objects.create(buyer=b4, vertical=v, name="c4")
    c5 = Contract.objects.create(buyer=b5, vertical=v, name="c5")
    lead = world.lead(world.s1, "2026-03-12T14:00:00", LeadStatus.SOLD, price=d("9.00"),
                      payout=d("6.30"), deliver_ms=1450)
    t, auction = lead.at, lead.auction_row
    Auction.objects.filter(pk=auction.pk).update(
        ping_deadline_at=_at(t, 700), bids_at=_at(t, 705), finished_at=_at(t, 1445), rounds=2,
        outcome="sold")
    first = _at(t, 705)
    _ping(auction, world.c1, "bid", bid=d("12.00"), latency=180, written=first)
    _ping(auction, world.c2, "no_bid", latency=95, written=first)
    _ping(auction, c4, "timeout", latency=700, detail="no answer by the deadline",
          written=first)
    _ping(auction, c5, "filtered", detail="state not in ['CA']", written=first)
    _post(auction, world.c1, "rejected", d("12.00"), latency=310, sent=_at(t, 710),
          reason="Duplicate")
    second = _at(t, 1245)
    _ping(auction, c3, "bid", round_=2, bid=d("9.00"), latency=220, written=second)
    _ping(auction, c5, "capped", round_=2, detail="daily cap 100 reached", written=second)
    _post(auction, c3, "accepted", d("9.00"), latency=190, sent=_at(t, 1250))
    Sale.objects.create(lead=lead, contract=c3, buyer=b3, price=d("9.00"))
    lead.refresh_from_db()
    return lead


def busy_week(world, *, first_day: str = "2026-03-02", days: int = 7, seed: int = 4) -> None:
    """Some 40 leads a day over ``days`` days from ``first_day`` (New York afternoons), from
    three sources to four buyers, with bids, wins, post rejects and rejections: enough for
    charts and tables that look like a working exchange. Deterministic for ``seed``."""
    rng = random.Random(seed)
    d = Decimal
    sources = [SourceFactory(name=name) for name in
               ("Acme Affiliates", "QuoteFlow Media", "Harbor Leads")]
    buyers = [BuyerFactory(company=name) for name in
              ("Northstar Insurance", "Bluebird Auto", "Summit Direct", "Keystone Mutual")]
    contracts = [Contract.objects.create(buyer=b, vertical=world.vertical, name="exclusive")
                 for b in buyers]
    start = datetime.fromisoformat(f"{first_day}T13:00:00+00:00")
    for day in range(days):
        for _ in range(30 + rng.randrange(20) + day * 2):
            at = (start + timedelta(days=day, minutes=rng.randrange(10 * 60))).replace(
                tzinfo=None).isoformat()
            source = sources[0] if rng.random() < 0.5 else rng.choice(sources[1:])
            roll = rng.random()
            if roll < 0.08:
                world.lead(source, at, LeadStatus.REJECTED,
                           errors={rng.choice(["fields.phone", "fields.zip", "fields.email"]):
                                   ["bad"]})
                continue
            if roll < 0.12:
                world.lead(source, at, LeadStatus.DUPLICATE)
                continue
            bids = {c: d(rng.randrange(600, 2800)) / 100 for c in contracts
                    if rng.random() < 0.55}
            ranked = sorted(bids.items(), key=lambda kv: -kv[1])
            rejected_first = bool(ranked) and rng.random() < 0.12
            winner = ranked[1] if rejected_first and len(ranked) > 1 else (
                ranked[0] if ranked and not rejected_first else None)
            status = LeadStatus.SOLD if winner else LeadStatus.UNSOLD
            price = winner[1] if winner else None
            lead = world.lead(source, at, status, price=price,
                              payout=(price * d("0.70")).quantize(d("0.01")) if price else None,
                              deliver_ms=rng.randrange(250, 1400))
            for contract in contracts:
                if contract in bids:
                    world.ping(lead, contract, "bid", bid=bids[contract],
                               latency=rng.randrange(40, 400))
                elif rng.random() < 0.1:
                    world.ping(lead, contract, "timeout", latency=800)
                else:
                    world.ping(lead, contract, "no_bid", latency=rng.randrange(20, 200))
            if rejected_first:
                world.post(lead, ranked[0][0], "rejected", ranked[0][1],
                           reason=rng.choice(["Duplicate", "Out of area", "Bad phone"]))
            if winner:
                world.post(lead, winner[0], "accepted", winner[1])
                world.sale(lead, winner[0], winner[1])
