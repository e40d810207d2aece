"""The post phase: offer the full lead to the plan's bidders in order until one accepts.

For each bid: reserve the caps (atomic), record the attempt *before* the request leaves (so
a crash leaves a trace the sweeper can finish), post, then either record the sale or give the
cap room back. An accepted post is recorded in one transaction with the lead's outcome
(``sold``, price, payout, margin): once a buyer took the lead nothing that runs after it —
breaker bookkeeping, acceptance counters, alerts — can change what the lead became.

Connection errors, timeouts and 5xx are retried with backoff inside the real-time window,
always with the same ``Idempotency-Key`` and ping token; a buyer that stays down hands the
lead to the next bidder.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.auctions.caps import cap_release, cap_reserve
from apps.auctions.engine import Offer, Outcome, RankedBid, Ranking, post_plan
from apps.auctions.health import Observation, health_observe
from apps.auctions.models import Auction, ConsumerPurchase, Post, PostOutcome, Sale
from apps.auctions.services.consent import post_context, sale_evidence
from apps.auctions.services.wire import (
    AnswerFault,
    answer_outcome,
    response_text,
    storable,
    wire_build,
)
from apps.auctions.setups import ContractSetup, EndpointSetup, vertical_pii_keys
from apps.buyers.models import Contract
from apps.buyers.parsing import ParsedResponse
from apps.core.dbconn import db_release
from apps.core.http import OutboundResponse, http_send
from apps.core.logging import kv
from apps.core.sql import (
    sql_columns,
    sql_create,
    sql_datetime,
    sql_insert,
    sql_insert_prepare,
    sql_models,
    sql_unflushed,
    sql_update_fields,
    sql_write,
)
from apps.leads.dedupe import consumer_digests
from apps.leads.models import Lead, LeadStatus
from apps.sources.models import Source, Vertical
from apps.webhooks.models import SourceEvent
from apps.webhooks.services import source_event_record

logger = logging.getLogger(__name__)

_BODY_KEEP = 2000
_RETRYABLE_ERRORS = {"connect", "protocol"}


@dataclass
class LeadContext:
    """What every ping and post of one lead shares: its ``auction`` record (saved once the
    first round is decided, before any post), the lead's values, the ``@…`` keys of the
    mappings, its PII keys and consumer digests, and what its requests taught the breaker and
    the ranking."""

    lead: Lead
    auction: Auction
    setups: Mapping[int, ContractSetup]
    values: Mapping[str, Any]  # every normalized field, PII included
    context: Mapping[str, Any]  # the ``@…`` keys of the mapping
    pii_keys: frozenset[str]
    consumer_digests: list[str]
    observations: list[Observation] = field(default_factory=list)
    # (contract, accepted) of each post its buyer answered: counted once the outcome is
    # recorded (``auction_bookkeeping``)
    acceptances: list[tuple[int, bool]] = field(default_factory=list)
    sold_for: Decimal = Decimal(0)  # the price of the sales made so far (shared leads: several)
    # a lead the source pinged first: the ping whose cap holds its posts consume, and the
    # payout the ping promised per reserved contract (paid when that contract takes it)
    ping_id: int | None = None
    promised: Mapping[int, Decimal] = field(default_factory=dict)
    consent: Mapping[str, Any] = field(default_factory=dict)  # the lead's, one-to-one picks too


@dataclass(frozen=True, slots=True)
class FailedPost:
    """A bid whose post failed in a way a later attempt may fix, and that attempt's row."""

    ranked: RankedBid
    post: Post


@dataclass(frozen=True, slots=True)
class PostResult:
    accepted: bool
    post: Post  # the attempt's row
    retryable: bool = False  # it failed in a way a later attempt may fix
    sale: Sale | None = None


def ranking_post(ranking: Ranking, ctx: LeadContext) -> tuple[list[Sale], FailedPost | None]:
    """Offer the lead along the post plan of ``ranking``. Returns the sales, or no sales and
    the best bid whose failure was transient (worth a scheduled retry), or neither."""
    retry: FailedPost | None = None
    for offer in post_plan(ranking):
        if not offer.shared:
            result = bid_post(offer.bids[0], ctx, exclusive=True)
            if result.sale is not None:
                return [result.sale], None
            if result.retryable and retry is None:
                retry = FailedPost(offer.bids[0], result.post)
            continue
        sales = offer_post(offer, ctx)
        if sales:
            return sales, None
    return [], retry


def offer_post(offer: Offer, ctx: LeadContext) -> list[Sale]:
    """Post to every bid of ``offer``; the sales made (empty when none accepted)."""
    sales = []
    for ranked in offer.bids:
        result = bid_post(ranked, ctx, exclusive=not offer.shared)
        if result.sale is not None:
            sales.append(result.sale)
    return sales


def lead_context_build(lead: Lead, vertical: Vertical, auction: Auction,
                       setups: Mapping[int, ContractSetup], *, now: datetime) -> LeadContext:
    """Everything the pings and posts of ``lead`` (of ``vertical``) share."""
    return LeadContext(
        lead=lead, auction=auction, setups=setups, values=lead.fields,
        context={"lead.id": str(lead.uuid), "source.id": lead.source_id,
                 "sub_id": lead.sub_id, "test": lead.is_test, "now": now.isoformat()},
        pii_keys=vertical_pii_keys(vertical.pk),
        consumer_digests=consumer_digests(vertical, lead.fields), consent=lead.consent or {},
    )


def bid_post(ranked: RankedBid, ctx: LeadContext, *, exclusive: bool,
             attempts: int | None = None, scheduled: Post | None = None) -> PostResult:
    """Post the lead to one bidder, retrying transient failures with backoff (up to
    ``attempts``, default ``POST_REALTIME_ATTEMPTS``). ``scheduled`` is a ``retry`` row to
    fill in with the first attempt instead of a new row."""
    attempts = max(1, attempts or settings.POST_REALTIME_ATTEMPTS)
    backoff = settings.POST_REALTIME_BACKOFF_S
    number = scheduled.attempt if scheduled is not None else 1
    result = _attempt(ranked, ctx, exclusive=exclusive, attempt=number, row=scheduled)
    for retry in range(attempts - 1):
        if result.accepted or not result.retryable:
            break
        time.sleep(backoff[min(retry, len(backoff) - 1)])
        number += 1
        result = _attempt(ranked, ctx, exclusive=exclusive, attempt=number, row=None)
    return result


def _post_row(row: Post | None, base: dict, **values: Any) -> Post:
    """Create the attempt's Post row, or fill in the scheduled one."""
    if row is None:
        return cast(Post, sql_create(Post(**base, **values)))
    for name, value in {**values, "next_attempt_at": None}.items():
        setattr(row, name, value)
    row.save()
    return row


def _attempt(ranked: RankedBid, ctx: LeadContext, *, exclusive: bool, attempt: int,
             row: Post | None) -> PostResult:
    cid, bid, lead = ranked.terms.id, ranked.bid, ctx.lead
    setup = ctx.setups[cid]
    price = bid.amount
    base = {"auction": ctx.auction, "contract_id": cid, "attempt": attempt, "price": price,
            "token": bid.token or ""}
    if setup.post is None:
        post = _post_row(row, base, outcome=PostOutcome.ERROR, reason="no post endpoint")
        return PostResult(accepted=False, post=post)
    evidence = sale_evidence(ctx.consent, setup, ctx.setups)
    call = wire_build(
        setup.post, ctx.values,
        {**ctx.context, **post_context(evidence, ctx.consent), "ping.token": bid.token or "",
         "ping.bid": str(price)},
        extra_headers={"Idempotency-Key": f"{lead.uuid}-{cid}"}, mask_keys=ctx.pii_keys,
        token_wait=setup.post.timeout,  # after the decision: the post may wait for its token
    )
    if isinstance(call, str):
        post = _post_row(row, base, outcome=PostOutcome.ERROR, reason=call)
        return PostResult(accepted=False, post=post)

    now = timezone.now()
    reservations = [] if lead.is_test else cap_reserve(setup.caps, price=price, now=now,
                                                         ping_id=ctx.ping_id)
    if reservations is None:
        post = _post_row(row, base, outcome=PostOutcome.REJECTED,
                         reason="cap reached before the post")
        return PostResult(accepted=False, post=post)
    post = _post_row(row, base, outcome=PostOutcome.SENDING,
                     request_body=call.body_text[:_BODY_KEEP])
    db_release()
    response = http_send(call.request)
    answer = answer_outcome(setup.post, response, post=True)
    _observe(ctx, setup, response, failed=isinstance(answer, AnswerFault))

    if isinstance(answer, ParsedResponse) and answer.accepted:
        sale = _sale_record(ctx, setup, post, response, price=price, exclusive=exclusive,
                            now=now, evidence=evidence)
        if sale is not None:
            return PostResult(accepted=True, sale=sale, post=post)
        cap_release(reservations)
        _post_close(post, setup.post, response, PostOutcome.REJECTED, "lead already sold")
        return PostResult(accepted=False, post=post)

    cap_release(reservations)
    if isinstance(answer, ParsedResponse):
        outcome, reason, retryable = PostOutcome.REJECTED, answer.reason or "rejected", False
    elif answer.code == Outcome.TIMEOUT:
        outcome, reason, retryable = PostOutcome.TIMEOUT, answer.detail, True
    else:
        outcome, reason = PostOutcome.ERROR, answer.detail
        retryable = answer.code == Outcome.ERROR and (response.error in _RETRYABLE_ERRORS
                                                      or (response.status or 0) >= 500)
    _post_close(post, setup.post, response, outcome, reason)
    if isinstance(answer, ParsedResponse):  # the buyer's own answer (not a fault) counts
        ctx.acceptances.append((cid, False))
    logger.info(kv("auction.post", lead=lead.uuid, contract=cid, attempt=attempt,
                   outcome=outcome, latency_ms=round(response.latency_ms, 1),
                   retryable=retryable))
    return PostResult(accepted=False, retryable=retryable, post=post)


def _post_close(post: Post, endpoint: EndpointSetup | None, response: OutboundResponse,
                outcome: str, reason: str) -> None:
    post.outcome, post.reason = outcome, reason[:255]
    post.latency_ms, post.http_status = round(response.latency_ms, 2), response.status
    post.response_body = (response_text(endpoint, response.body, _BODY_KEEP) if endpoint
                          else storable(response.body, _BODY_KEEP))
    sql_update_fields(post, ["outcome", "reason", "latency_ms", "http_status",
                             "response_body"])


_PURCHASE_COLUMNS = ("buyer_id", "digest", "expires_at")
_SOURCE_READ = (f"SELECT {sql_columns(Source, 's')} FROM {Source._meta.db_table} s "  # noqa: S608
                "WHERE s.id = %s")


def _sale_record(ctx: LeadContext, setup: ContractSetup, post: Post,
                 response: OutboundResponse, *, price: Decimal, exclusive: bool, now: datetime,
                 evidence: dict[str, Any] | None = None) -> Sale | None:
    """Record the sale, the accepted post and the lead's outcome in one transaction; None
    when the database refuses it because the lead was already sold (an exclusive lead can
    have one sale, whatever happens)."""
    terms, lead = setup.terms, ctx.lead
    total = ctx.sold_for + price
    # the payout terms as they are now (the auction may have read a cached source)
    (source,), = cast(list[tuple[Source]], sql_models(_SOURCE_READ, [lead.source_id], Source))
    payout = Decimal(0) if lead.is_test else source.payout_for(total)
    # what this sale adds to the source's payout (a shared lead's later sales add less)
    earned = payout - (source.payout_for(ctx.sold_for) if ctx.sold_for and not lead.is_test
                       else Decimal(0))
    if exclusive and terms.id in ctx.promised and not lead.is_test:
        payout = earned = ctx.promised[terms.id]  # the reserved buyer took it: as promised
    # the sale's values are worked out before the transaction (on SQLite it holds the
    # database's one write turn)
    insert = sql_insert_prepare(Sale(
        lead=lead, contract_id=terms.id, buyer_id=terms.buyer_id, price=price,
        exclusive=exclusive, is_test=lead.is_test, consent=evidence))
    try:
        with transaction.atomic():
            sale = cast(Sale, insert.run())
            _post_close(post, setup.post, response, PostOutcome.ACCEPTED, "")
            if ctx.consumer_digests and not lead.is_test:
                expires = sql_datetime(now + timedelta(days=setup.buyer_dedupe_days))
                sql_insert(ConsumerPurchase._meta.db_table, _PURCHASE_COLUMNS,
                           [(terms.buyer_id, digest, expires)
                            for digest in ctx.consumer_digests])
            lead_sold(lead, ctx.auction, price=total, payout=payout, earned=earned)
    except IntegrityError:
        return None
    ctx.sold_for = total
    logger.info(kv("auction.sale", lead=lead.uuid, contract=terms.id, price=price,
                   latency_ms=round(response.latency_ms, 1)))
    ctx.acceptances.append((terms.id, True))
    return sale


# the outcome of every sale: plain SQL, for the CPU (see apps.core.sql)
_LEAD_SOLD = (f"UPDATE {Lead._meta.db_table} SET status = %s, sale_price = %s, "  # noqa: S608
              "payout = %s, margin = %s, message = %s, completed_at = %s, updated_at = %s "
              "WHERE id = %s")
_AUCTION_SOLD = (f"UPDATE {Auction._meta.db_table} SET finished_at = %s, "  # noqa: S608
                 "outcome = 'sold', reason = '', rounds = %s, bids_at = %s WHERE id = %s")


def lead_sold(lead: Lead, auction: Auction | None, *, price: Decimal, payout: Decimal,
              earned: Decimal | None = None) -> None:
    """Write the outcome of a lead whose sales add up to ``price``: ``sold``, whatever it
    was (a sale is a fact; of a lead another process already gave up on, too), its auction
    record, and the ``lead.sold`` event for the source's webhooks and postback, worth
    ``earned`` (what this sale adds to the source's ``payout``; default all of it). Call it
    inside the transaction that records the sale: the event's outbox rows commit with it."""
    now = sql_datetime(timezone.now())
    money = Lead._meta.get_field("sale_price").get_db_prep_save  # as the ORM rounds it
    sql_write(_LEAD_SOLD, [LeadStatus.SOLD, money(price, connection), money(payout, connection),
                          money(price - payout, connection), "Sold.", now, now, lead.pk])
    if auction is not None:
        sql_write(_AUCTION_SOLD, [now, auction.rounds,
                                 auction.bids_at and sql_datetime(auction.bids_at), auction.pk])
    source_event_record(lead, SourceEvent.LEAD_SOLD, payout=payout if earned is None else earned)


# after every post a buyer answered: plain SQL (the ORM's F() update cost more to build
# than to run)
_ACCEPTANCE_COUNT = (
    f"UPDATE {Contract._meta.db_table} SET posts_recent = posts_recent + 1, "  # noqa: S608
    "accepted_recent = accepted_recent + %s, posts_decayed = posts_decayed * %s + 1, "
    "accepted_decayed = accepted_decayed * %s + %s WHERE id = %s")


def auction_bookkeeping(ctx: LeadContext) -> None:
    """What a lead's requests taught, written once its outcome is recorded and a waiting
    source has its answer: the acceptance counts of the posts its buyers answered, then the
    breaker's streaks. Never raises; the outcome stands whatever happens here."""
    for contract_id, accepted in ctx.acceptances:
        acceptance_count(contract_id, accepted=accepted)
    ctx.acceptances.clear()
    health_observe(ctx.observations)  # never raises either


def acceptance_count(contract_id: int, *, accepted: bool) -> None:
    """Feed the rolling acceptance rate used in ranking with one post the buyer answered.
    Bookkeeping: a failure is logged, never raised (``acceptance_refresh`` recounts), and
    its commit does not wait for the disk (``sql_unflushed``: a crash may lose it like any
    other failure here)."""
    decay = settings.AUCTION_ACCEPTANCE_RECENT_DECAY
    try:
        sql_write(sql_unflushed(_ACCEPTANCE_COUNT),
                  [int(accepted), decay, decay, int(accepted), contract_id])
    except Exception as error:  # the lead's outcome is recorded: nothing here may fail it
        logger.warning(kv("auction.acceptance_count_failed", contract=contract_id,
                          error=type(error).__name__))


def _observe(ctx: LeadContext, setup: ContractSetup, response: OutboundResponse, *,
             failed: bool) -> None:
    ctx.observations.append(Observation(
        contract_id=setup.terms.id,
        slow=response.error == "timeout"
        or response.latency_ms > setup.health.slow_threshold_ms,
        failed=failed, slow_limit=setup.health.slow_count,
        error_limit=setup.health.error_count))
