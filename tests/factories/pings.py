"""Sources' pings (``SourcePing``) on top of the hand-computed KPI fixture
(``tests.integration.test_kpis.World``, 2026-03-10 in New York: 04:00Z on the 10th to 04:00Z
on the 11th), created with the ORM as ``source_ping`` / ``ping_post`` leave them: a bid
with the source's price and ``expires_at`` a minute after, ``posted_at`` set by the post
and ``lead`` linked to the posted lead.

``ping_day`` adds, in the fixture day:

- S1: p1 04:59:40Z bid 7.00 posted → l1 (sold); p2 05:59:30Z bid 14.00 posted → l2 (sold);
  p3 09:00Z bid 5.00 never posted (expired); p4 09:10Z and p5 09:20Z no bid; p6 15:00Z bid
  8.00 posted as a duplicate (no lead linked);
- S2: q1 06:59:50Z bid 3.00 posted → l3 (unsold); q2 12:00Z bid 4.50 not posted and still
  live (its ``expires_at`` is in the future); q3 13:00Z no bid; q4 14:00Z bid 6.00 expired;

and outside it: a test ping of S1 (10:00Z, bid 99.00, expired) and a no-bid ping of S1 at
03:00Z on the 10th (23:00 on the 9th in New York).

So the day has pings 10, bids 7 (bid rate 0.7), bids offering 47.50 (average 6.79), posted 4
(ping → post 4 / 7 = 0.5714), expired 2, sold 2; S1: 6, 4 (0.6667), 34.00 (8.50), 3 (0.75),
1, 2; S2: 4, 3 (0.75), 13.50 (4.50), 1 (0.3333), 1, 0.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from apps.auctions.models import SourcePing, SourcePingStatus
from apps.leads.models import Lead


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def source_ping_create(source, vertical, at: str, *, bid: str | None = None,
                       posted: bool = False, lead: Lead | None = None, live: bool = False,
                       test: bool = False) -> SourcePing:
    """A ping received at ``at`` (UTC): a bid of ``bid`` (None: no bid) expiring a minute
    later (``live``: an hour from now), ``posted`` by the source with ``lead`` linked."""
    received = utc(at)
    ping = SourcePing.objects.create(
        uuid=uuid.uuid4(), source=source, vertical=vertical, is_test=test,
        status=SourcePingStatus.BID if bid else SourcePingStatus.NO_BID,
        bid=Decimal(bid) if bid else None, started_at=received,
        bids_at=received + timedelta(milliseconds=300),
        expires_at=(timezone.now() + timedelta(hours=1)) if live
        else received + timedelta(seconds=60),
        posted_at=received + timedelta(seconds=20) if posted else None, lead=lead)
    SourcePing.objects.filter(pk=ping.pk).update(created_at=received)
    return ping


def ping_day(world) -> dict[str, SourcePing]:
    """The pings of the module docstring, by name. The caller refreshes the rollups."""
    leads = {lead.received_at: lead for lead in Lead.objects.filter(is_test=False)}
    s1, s2, v = world.s1, world.s2, world.vertical

    def lead(at: str) -> Lead:
        return leads[utc(at)]

    return {
        "p1": source_ping_create(s1, v, "2026-03-10T04:59:40", bid="7.00", posted=True,
                                 lead=lead("2026-03-10T05:00:00")),
        "p2": source_ping_create(s1, v, "2026-03-10T05:59:30", bid="14.00", posted=True,
                                 lead=lead("2026-03-10T06:00:00")),
        "p3": source_ping_create(s1, v, "2026-03-10T09:00:00", bid="5.00"),
        "p4": source_ping_create(s1, v, "2026-03-10T09:10:00"),
        "p5": source_ping_create(s1, v, "2026-03-10T09:20:00"),
        "p6": source_ping_create(s1, v, "2026-03-10T15:00:00", bid="8.00", posted=True),
        "q1": source_ping_create(s2, v, "2026-03-10T06:59:50", bid="3.00", posted=True,
                                 lead=lead("2026-03-10T07:00:00")),
        "q2": source_ping_create(s2, v, "2026-03-10T12:00:00", bid="4.50", live=True),
        "q3": source_ping_create(s2, v, "2026-03-10T13:00:00"),
        "q4": source_ping_create(s2, v, "2026-03-10T14:00:00", bid="6.00"),
        "test": source_ping_create(s1, v, "2026-03-10T10:00:00", bid="99.00", test=True),
        "day_before": source_ping_create(s1, v, "2026-03-10T03:00:00"),
    }
