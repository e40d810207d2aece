"""The end of an auction: the lead's outcome, and deliveries retried from database rows.

A post that failed transiently when no other bidder was left is not given up: its Post row
turns into ``retry`` with ``next_attempt_at`` and Celery beat drives it (``post_retry_run``),
with growing delays, until the buyer accepts, rejects, or ``POST_MAX_ATTEMPTS`` is reached.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from typing import cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.auctions.engine import Bid, RankedBid
from apps.auctions.models import Auction, Post, PostOutcome, Sale
from apps.auctions.services.posting import (
    FailedPost,
    LeadContext,
    auction_bookkeeping,
    bid_post,
    lead_context_build,
    lead_sold,
    ranking_post,
)
from apps.auctions.services.standing import buyers_who_bought, untried_ranking
from apps.auctions.setups import contract_setups
from apps.core.logging import kv
from apps.core.sql import sql_columns, sql_models
from apps.leads.models import Lead, LeadStatus
from apps.sources.models import Source, Vertical
from apps.webhooks.models import SourceEvent
from apps.webhooks.services import source_event_record

logger = logging.getLogger(__name__)


def lead_finalize(lead: Lead, record: Auction, sales: list[Sale], *, reason: str = "") -> Lead:
    """Close the auction and return the lead as it now is. With ``sales`` the outcome was
    already written with the sale (``posting.lead_sold``); without, the lead becomes
    ``unsold`` with ``reason`` — only if it is still ``auctioning`` (a conditional UPDATE,
    so a lead that sold meanwhile stays sold) — and the ``lead.unsold`` event is recorded
    for the source's webhooks in the same transaction."""
    now = timezone.now()
    if sales:
        outcome = "sold"
    else:
        outcome = "unsold"
        with transaction.atomic():
            if Lead.objects.filter(pk=lead.pk, status=LeadStatus.AUCTIONING).update(
                    status=LeadStatus.UNSOLD, message=reason[:255], completed_at=now,
                    updated_at=now):
                Auction.objects.filter(pk=record.pk).update(
                    finished_at=now, outcome=outcome, reason=reason[:255], rounds=record.rounds,
                    bids_at=record.bids_at)
                source_event_record(lead, SourceEvent.LEAD_UNSOLD)
    logger.info(kv("auction.done", lead=lead.uuid, outcome=outcome, sales=len(sales),
                   ms=round((now - record.started_at).total_seconds() * 1000, 1)))
    (decided, vertical, source), = cast(list[tuple[Lead, Vertical, Source]],
                                        sql_models(_LEAD_READ, [lead.pk], Lead, Vertical, Source))
    decided.vertical, decided.source = vertical, source
    return decided


# the lead as its auction leaves it, with its vertical and source (what the sync answer and
# the task read): plain SQL, for the CPU (see apps.core.sql)
_LEAD_READ = (
    f"SELECT {sql_columns(Lead, 'l')}, {sql_columns(Vertical, 'v')}, "  # noqa: S608
    f"{sql_columns(Source, 's')} FROM {Lead._meta.db_table} l "
    f"JOIN {Vertical._meta.db_table} v ON v.id = l.vertical_id "
    f"JOIN {Source._meta.db_table} s ON s.id = l.source_id WHERE l.id = %s")


def lead_error(lead: Lead, record: Auction | None, *, reason: str) -> bool:
    """Give up on a lead whose auction keeps dying (``leads_redrive`` counts the tries): it
    becomes ``error`` with ``reason`` — only if it is still ``auctioning`` — and the
    ``lead.error`` event is recorded for the source's webhooks in the same transaction.
    True when it changed the lead."""
    now = timezone.now()
    with transaction.atomic():
        if not Lead.objects.filter(pk=lead.pk, status=LeadStatus.AUCTIONING).update(
                status=LeadStatus.ERROR, message=reason[:255], completed_at=now,
                updated_at=now):
            return False
        if record is not None:
            Auction.objects.filter(pk=record.pk).update(finished_at=now, outcome="error",
                                                        reason=reason[:255])
        source_event_record(lead, SourceEvent.LEAD_ERROR)
    logger.error(kv("lead.error", lead=lead.uuid, reason=reason))
    return True


def lead_reconcile(lead_id: int) -> bool:
    """Give a lead that has sales but was left ``received`` or ``auctioning`` (a process
    died, or an older version recorded the sale apart from the outcome) its ``sold``
    outcome from those sales. True when it changed the lead."""
    sales = list(Sale.objects.filter(lead_id=lead_id).select_related("lead__source"))
    if not sales:
        return False
    lead = sales[0].lead
    price = sum((s.price for s in sales), Decimal(0))
    payout = Decimal(0) if lead.is_test else lead.source.payout_for(price)
    auction = lead.auctions.order_by("-started_at").first()
    with transaction.atomic():
        if not Lead.objects.select_for_update().filter(
                pk=lead_id, status__in=[LeadStatus.RECEIVED, LeadStatus.AUCTIONING]).exists():
            return False
        lead_sold(lead, auction, price=price, payout=payout)
        if auction is not None:  # a post left waiting for a retry has nothing left to do
            auction.posts.filter(outcome__in=[PostOutcome.RETRY, PostOutcome.SENDING]).update(
                outcome=PostOutcome.ABANDONED, next_attempt_at=None)
    logger.warning(kv("lead.reconciled", lead=lead.uuid, sales=len(sales)))
    return True


_RETRIES_EXHAUSTED = "The buyer could not take the lead; retries exhausted."
_CONTRACT_OFF = "The buyer's contract was switched off before the delivery retry."


def _retry_delay(attempt: int) -> timedelta:
    delays = settings.POST_RETRY_DELAYS_S
    return timedelta(seconds=delays[min(attempt - 1, len(delays) - 1)])


def post_retry_schedule(record: Auction, failed: FailedPost) -> None:
    """Keep the lead for the bidder whose post failed transiently: a ``retry`` row for its
    next attempt, due after the retry delay. The lead stays ``auctioning`` — unless that post
    was already attempt ``POST_MAX_ATTEMPTS``: then nothing is scheduled and it is unsold."""
    post = failed.post
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
    conditional UPDATE). Returns the lead, or None when there was nothing to do.

    The contract is checked again first, as an auction would: switched off (or gone), the
    retry is dropped and the lead is unsold; auto-paused, this attempt is not sent and counts
    as failed (the next one is scheduled, up to ``POST_MAX_ATTEMPTS``); its caps are reserved
    before the post like any other. The attempts feed the circuit breaker, after the outcome.
    """
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
    vertical = lead.vertical
    assert vertical is not None  # a lead is auctioned only once its vertical is known
    setups = {s.terms.id: s for s in contract_setups(vertical.pk, now)}
    setup = setups.get(post.contract_id)
    if setup is None or not setup.terms.active:
        Post.objects.filter(pk=post.pk).update(
            outcome=PostOutcome.ABANDONED, next_attempt_at=None,
            reason="contract switched off before the retry")
        return lead_finalize(lead, record, [], reason=_CONTRACT_OFF)
    ranked = RankedBid(Bid(post.contract_id, post.price, token=post.token or None),
                       setup.terms, post.price)
    if setup.terms.auto_paused:
        post.outcome, post.reason, post.next_attempt_at = (
            PostOutcome.ERROR, "contract auto-paused: not sent", None)
        post.save(update_fields=["outcome", "reason", "next_attempt_at"])
        return _after_failed_retry(lead, record, ranked, post, retryable=True)
    context = lead_context_build(lead, vertical, record, setups, now=record.started_at)
    result = bid_post(ranked, context, exclusive=True, attempts=1, scheduled=post)
    if result.sale is not None:
        lead = lead_finalize(lead, record, [result.sale])
    else:
        lead = _after_failed_retry(lead, record, ranked, result.post, retryable=result.retryable,
                                   context=context)
    auction_bookkeeping(context)
    return lead


def _after_failed_retry(lead: Lead, record: Auction, ranked: RankedBid, post: Post, *,
                        retryable: bool, context: LeadContext | None = None) -> Lead:
    """The retried bidder did not take the lead: schedule its next attempt, or offer the lead
    to the bidders never offered it (``untried_ranking``: those ranked below a post a crashed
    process left unsent), or give up."""
    if retryable and post.attempt < settings.POST_MAX_ATTEMPTS:
        post_retry_schedule(record, FailedPost(ranked, post))
        return lead
    if context is not None:
        bought = buyers_who_bought(context.consumer_digests, timezone.now())
        sales, retry = ranking_post(untried_ranking(record, context.setups, bought, lead),
                                    context)
        if sales:
            return lead_finalize(lead, record, sales)
        if retry is not None:
            post_retry_schedule(record, retry)
            return lead
    return lead_finalize(lead, record, [],
                         reason=_RETRIES_EXHAUSTED if retryable
                         else "Every bidder rejected the lead.")
