"""The end of an auction: the lead's outcome, and deliveries retried from database rows.

A post that failed transiently when no other bidder was left is not given up: its Post row
turns into ``retry`` with ``next_attempt_at`` and Celery beat drives it (``post_retry_run``),
with growing delays, until the buyer accepts, rejects, or ``POST_MAX_ATTEMPTS`` is reached.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.auctions.engine import Bid, RankedBid
from apps.auctions.models import Auction, Post, PostOutcome, Sale
from apps.auctions.services.posting import bid_post, post_context_build
from apps.auctions.setups import contract_setups
from apps.core.logging import kv
from apps.leads.models import Lead, LeadStatus
from apps.sources.models import Source

logger = logging.getLogger(__name__)


def lead_finalize(lead: Lead, record: Auction, sales: list[Sale], *, reason: str = "") -> Lead:
    """Write the outcome: ``sold`` with price, payout and margin, or ``unsold`` with the
    reason. Only a lead still ``auctioning`` changes (a conditional UPDATE)."""
    now = timezone.now()
    if sales:
        price = sum((s.price for s in sales), Decimal(0))
        # the payout terms as they are now (the auction may have read a cached source)
        payout = Decimal(0) if lead.is_test else Source.objects.get(
            pk=lead.source_id).payout_for(price)
        changes = {"status": LeadStatus.SOLD, "sale_price": price, "payout": payout,
                   "margin": price - payout, "message": "Sold."}
        outcome = "sold"
    else:
        changes = {"status": LeadStatus.UNSOLD, "message": reason[:255]}
        outcome = "unsold"
    with transaction.atomic():
        Lead.objects.filter(pk=lead.pk, status=LeadStatus.AUCTIONING).update(
            completed_at=now, **changes)
        Auction.objects.filter(pk=record.pk).update(
            finished_at=now, outcome=outcome, reason=reason[:255], rounds=record.rounds,
            bids_at=record.bids_at)
    logger.info(kv("auction.done", lead=lead.uuid, outcome=outcome, sales=len(sales),
                   ms=round((now - record.started_at).total_seconds() * 1000, 1)))
    return Lead.objects.select_related("vertical", "source").get(pk=lead.pk)


_RETRIES_EXHAUSTED = "The buyer could not take the lead; retries exhausted."


def _retry_delay(attempt: int) -> timedelta:
    delays = settings.POST_RETRY_DELAYS_S
    return timedelta(seconds=delays[min(attempt - 1, len(delays) - 1)])


def post_retry_schedule(record: Auction, failed: tuple[RankedBid, Post]) -> None:
    """Keep the lead for the bidder whose post failed transiently: a ``retry`` row for its
    next attempt, due after the retry delay. The lead stays ``auctioning`` — unless that post
    was already attempt ``POST_MAX_ATTEMPTS``: then nothing is scheduled and it is unsold."""
    _, post = failed
    if post.attempt >= settings.POST_MAX_ATTEMPTS:
        lead_finalize(record.lead, record, [], reason=_RETRIES_EXHAUSTED)
        return
    due = timezone.now() + _retry_delay(post.attempt)
    Post.objects.create(auction=record, contract_id=post.contract_id, attempt=post.attempt + 1,
                        outcome=PostOutcome.RETRY, price=post.price, token=post.token,
                        next_attempt_at=due)
    Auction.objects.filter(pk=record.pk).update(outcome="pending", bids_at=record.bids_at,
                                                rounds=record.rounds,
                                                reason="post retry scheduled")
    logger.info(kv("auction.retry_scheduled", lead=record.lead.uuid,
                   contract=post.contract_id, at=due.isoformat()))


def post_retry_run(post_id: int) -> Lead | None:
    """Run one scheduled retry if it is due and nobody else took it (claimed with a
    conditional UPDATE). Returns the lead, or None when there was nothing to do."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.POST_RETRY_LEASE_S)
    if not Post.objects.filter(pk=post_id, outcome=PostOutcome.RETRY,
                               next_attempt_at__lte=now).update(next_attempt_at=lease):
        return None
    post = Post.objects.select_related("auction__lead__vertical", "auction__lead__source").get(
        pk=post_id)
    record, lead = post.auction, post.auction.lead
    if lead.status != LeadStatus.AUCTIONING:
        Post.objects.filter(pk=post.pk).update(outcome=PostOutcome.ABANDONED)
        return lead
    setups = {s.terms.id: s for s in contract_setups(lead.vertical_id, now)}
    ranked = RankedBid(Bid(post.contract_id, post.price, token=post.token or None),
                       setups[post.contract_id].terms, post.price)
    result = bid_post(ranked, post_context_build(lead, record, setups, now=record.started_at),
                      exclusive=True,
                      attempts=1, scheduled=post)
    if result.sale is not None:
        return lead_finalize(lead, record, [result.sale])
    if result.retryable and post.attempt < settings.POST_MAX_ATTEMPTS:
        post_retry_schedule(record, (ranked, result.post))
        return lead
    return lead_finalize(lead, record, [],
                         reason=_RETRIES_EXHAUSTED if result.retryable
                         else "Every bidder rejected the lead.")
