"""Source-side ping-post in the synthetic history: the first demo source (the one ``make run``'s
printed ping curl uses) pings before posting part of its leads, so the dashboards' ping
figures (pings received, bid rate, average bid offered, ping → post rate, expired pings) have
something to show.

Drawn per lead of that source after the auctions are written (deterministic for the seed):
``POSTED_SHARE`` of its sold and unsold leads came through a ping answered with a bid a few
seconds before the lead (``posted_at`` its receipt, ``lead`` linked; the bid is the payout
the lead earned, or a drawn price when it did not sell); each such lead also draws a ping
nobody bid on (``NO_BID_ODDS``) and a bid that was never posted and expired
(``EXPIRED_ODDS``) within the hour before it. Rows are ``SourcePing``s marked
``sub_id="synthetic"`` with the live path's ``ping_ttl_seconds`` default (60 s), no fields
and no round: nothing posts them again.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction

from apps.auctions.models import SourcePing, SourcePingStatus
from apps.demo.dataset import DEMO_SOURCES
from apps.demo.synthetic.after_sale import BATCH, CreatedAsGiven
from apps.leads.models import SOLD_STATUSES, Lead, LeadStatus
from apps.sources.models import Source

POSTED_SHARE = 0.35  # of the pinging source's sold and unsold leads
NO_BID_ODDS, EXPIRED_ODDS = 0.7, 0.1  # per posted ping: one more that got no bid / expired
BID_RANGE = (400, 1500)  # cents: a bid whose lead did not sell
TTL = timedelta(seconds=60)


def source_pings_write(start: datetime, end: datetime, seed: int, mark: str) -> dict[str, int]:
    """Write the pings of the module docstring for the leads with ``sub_id=mark`` received in
    [start, end); none received before ``start`` nor expiring after ``end``. Rows written."""
    rng = random.Random(f"{seed}-pings")
    source = Source.objects.filter(name=DEMO_SOURCES[0].name).first()
    if source is None:
        return {"sourceping": 0}
    leads = (Lead.objects.filter(sub_id=mark, source=source, is_test=False,
                                 received_at__gte=start, received_at__lt=end,
                                 status__in=[*SOLD_STATUSES, LeadStatus.UNSOLD])
             .order_by("pk").values_list("pk", "vertical_id", "received_at", "payout"))
    rows: list[SourcePing] = []
    written = 0
    for lead_id, vertical_id, received, payout in leads.iterator(chunk_size=BATCH):
        if rng.random() >= POSTED_SHARE:
            continue
        bid = payout if payout else Decimal(rng.randrange(*BID_RANGE)) / 100
        pinged = received - timedelta(seconds=rng.uniform(2, 40))
        if pinged < start:
            continue
        rows.append(_ping(rng, source, vertical_id, mark, pinged, bid, posted=received,
                          lead_id=lead_id))
        for odds, status in ((NO_BID_ODDS, SourcePingStatus.NO_BID),
                             (EXPIRED_ODDS, SourcePingStatus.BID)):
            at = received - timedelta(seconds=rng.uniform(120, 3600))
            if rng.random() < odds and at >= start:
                rows.append(_ping(rng, source, vertical_id, mark, at,
                                  Decimal(rng.randrange(*BID_RANGE)) / 100
                                  if status == SourcePingStatus.BID else None))
        if len(rows) >= BATCH:
            written += _flush(rows)
    return {"sourceping": written + _flush(rows)}


def _ping(rng: random.Random, source: Source, vertical_id: int, mark: str, at: datetime,
          bid: Decimal | None, *, posted: datetime | None = None,
          lead_id: int | None = None) -> SourcePing:
    bids_at = at + timedelta(milliseconds=rng.uniform(150, 900))
    return SourcePing(
        uuid=uuid.UUID(int=rng.getrandbits(128), version=4), source=source,
        vertical_id=vertical_id, sub_id=mark,
        status=SourcePingStatus.BID if bid is not None else SourcePingStatus.NO_BID, bid=bid,
        started_at=at, bids_at=bids_at, expires_at=bids_at + TTL, posted_at=posted,
        lead_id=lead_id, created_at=at)


def _flush(rows: list[SourcePing]) -> int:
    with transaction.atomic(), CreatedAsGiven(SourcePing):
        SourcePing.objects.bulk_create(rows, batch_size=BATCH)
    count = len(rows)
    rows.clear()
    return count
