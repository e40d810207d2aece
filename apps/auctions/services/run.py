"""``auction_run``: one lead from ``received`` to ``sold`` / ``unsold`` (or a scheduled retry).

The same function runs inside a sync capture (on the auction thread pool while the request
waits up to the source's budget) and in a Celery task (async leads, re-drives). It does the
I/O between the pure engine's phases:

    eligibility (engine) → ping in parallel (HTTP) → rank (engine) → post plan (engine)
    → post offer by offer (HTTP) → secondary re-ping when every bidder failed → outcome
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.auctions.caps import cap_holds_release
from apps.auctions.engine import (
    LeadFacts,
    Ranking,
    rank_bids,
    select_eligible,
)
from apps.auctions.metrics import auction_record
from apps.auctions.models import Auction, Sale
from apps.auctions.services.consent import consent_brands
from apps.auctions.services.outcome import lead_finalize, post_retry_schedule
from apps.auctions.services.pinging import ping_round
from apps.auctions.services.posting import (
    FailedPost,
    LeadContext,
    auction_bookkeeping,
    lead_context_build,
    ranking_post,
)
from apps.auctions.services.records import pings_prepare, pings_write
from apps.auctions.services.reserved import ReservedRound, reserved_round_load
from apps.auctions.services.standing import bids_standing, buyers_who_bought
from apps.auctions.setups import ContractSetup, contract_setups
from apps.core.cache import cached_row
from apps.core.logging import kv
from apps.core.sealing import column_read
from apps.core.sql import sql_datetime, sql_insert_prepare, sql_rows, sql_unflushed
from apps.leads.models import Lead, LeadStatus
from apps.sources.models import Source, Vertical

logger = logging.getLogger(__name__)


@dataclass
class AuctionRun:
    """State of one running auction, passed between its phases."""

    lead: Lead
    vertical: Vertical
    source: Source
    record: Auction  # saved once the first round is decided
    started: datetime
    ping_deadline_at: datetime
    setups: dict[int, ContractSetup]
    ctx: LeadContext  # what its pings and posts share
    deadline: float  # time.monotonic() instant of the source's budget end
    rng: random.Random
    pinged: set[int]  # contracts that had their chance (pinged or bid) in an earlier round


def auction_run(lead_id: int, *, deadline: float | None = None, ping_id: int | None = None,
                on_decided: Callable[[Lead], object] | None = None) -> Lead:
    """Run the auction of lead ``lead_id`` if it is still ``received``; return the lead.

    ``deadline`` (``time.monotonic()``) is when the source's answer is due; without one the
    source's budget starts now. With ``ping_id`` (the source pinged this lead first) the
    first round is that ping's reserved ranking instead of a new ping round: its winner gets
    the post with its ping token and the room its caps hold; fallback and the secondary
    re-ping follow as for any lead, and whatever the ping still holds is released at the
    end. Idempotent: a lead another process claimed, or one that is already decided, is
    returned untouched.

    ``on_decided(lead)`` is called once the outcome is recorded, before the bookkeeping
    (acceptance counts, the breaker's streaks, metrics): a sync capture waiting on it
    answers its source without waiting for them.
    """
    started = timezone.now()
    claimed = _claim(lead_id, started)
    if claimed is None:
        return Lead.objects.get(pk=lead_id)
    lead, vertical, source = claimed
    t0 = time.monotonic()
    deadline = deadline if deadline is not None else t0 + source.time_budget_ms / 1000
    # A capture that spent its budget before the auction began still gets a real auction
    # (the source already has its 202): pings are never sent with no time to answer.
    deadline = max(deadline, t0 + settings.AUCTION_MIN_MS / 1000)
    ping_deadline = t0 + max(0.0, deadline - t0 - settings.AUCTION_RESERVE_MS / 1000) * (
        settings.AUCTION_PING_SHARE)

    # Only what eligibility needs is read before the pings leave; the Auction row is
    # written after the decision (a crash before it leaves an "auctioning" lead with no
    # auction, which the sweeper re-runs).
    setups = {s.terms.id: s for s in contract_setups(vertical.pk, started)}
    ping_deadline_at = started + timedelta(seconds=ping_deadline - t0)
    record = Auction(lead=lead, started_at=started, ping_deadline_at=ping_deadline_at)
    ctx = lead_context_build(lead, vertical, record, setups, now=started)
    reserved = reserved_round_load(ping_id) if ping_id is not None else None
    if reserved is not None:
        ctx.ping_id, ctx.promised = ping_id, reserved.promised
    state = AuctionRun(
        lead=lead, vertical=vertical, source=source, record=record, started=started,
        setups=setups, deadline=deadline, ping_deadline_at=ping_deadline_at,
        rng=random.Random(), pinged=set(), ctx=ctx,
    )

    bought = buyers_who_bought(ctx.consumer_digests, started)
    if reserved is None:
        primary = [s for s in setups.values() if not s.terms.is_secondary]
        ranking = _round(state, 1, primary, bought, ping_deadline)
    else:
        ranking = _replay(state, reserved, bought)
    sales, retry = ranking_post(ranking, state.ctx)
    if not sales and retry is None:
        sales, retry = _secondary_round(state, bought)

    # The outcome first (a sale already recorded it with itself), then the answer, then
    # the bookkeeping, which can neither fail the lead nor hold its answer back.
    if sales:
        lead = lead_finalize(lead, state.record, sales)
    elif retry is not None:
        post_retry_schedule(state.record, retry)
        lead = Lead.objects.get(pk=lead.pk)
    else:
        lead = lead_finalize(lead, state.record, [],
                             reason=unsold_reason(ranking, auction_floor(vertical, source)))
    if on_decided is not None:
        _decided_tell(on_decided, lead)
    if ping_id is not None:
        _holds_release(ping_id)
    auction_record(lead.status, time.monotonic() - t0)
    auction_bookkeeping(state.ctx)
    return lead


def _decided_tell(on_decided: Callable[[Lead], object], lead: Lead) -> None:
    try:
        on_decided(lead)
    except Exception as error:  # the outcome stands; its waiter reads it from the database
        logger.warning(kv("auction.decided_signal_failed", lead=lead.uuid,
                          error=type(error).__name__))


def _holds_release(ping_id: int) -> None:
    """Give back what the ping still holds, after the outcome is recorded: bookkeeping that
    may fail without harm (a hold left behind stops counting when it expires)."""
    try:
        cap_holds_release(ping_id)
    except Exception as error:  # the outcome stands whatever happens here
        logger.warning(kv("ping.holds_release_failed", ping=ping_id,
                          error=type(error).__name__))


def _claim(lead_id: int, started: datetime) -> tuple[Lead, Vertical, Source] | None:
    """Move the lead from received to auctioning and load what the auction reads of it, in
    one statement (``UPDATE … RETURNING``: one round trip before the pings instead of two);
    None when another process claimed it or it is decided. Of concurrent attempts exactly
    one wins. Its vertical and source come from the per-process cache (``cached_row``).
    Its commit does not wait for the disk (``sql_unflushed``): a post's ``sending`` row,
    written before the lead leaves for a buyer, waits and so flushes it; a database crash
    before that can lose it only while nothing but pings (no PII) has left, and leaves the
    lead received, which the sweeper redrives."""
    rows = sql_rows(sql_unflushed(
        f"UPDATE {Lead._meta.db_table} SET status = %s, auction_started_at = %s, "  # noqa: S608
        "updated_at = %s WHERE id = %s AND status = %s "
        "RETURNING id, uuid, source_id, vertical_id, sub_id, is_test, fields, consent"),
        [LeadStatus.AUCTIONING, sql_datetime(started), sql_datetime(started), lead_id,
         LeadStatus.RECEIVED])
    if not rows:
        return None
    pk, public_id, source_id, vertical_id, sub_id, is_test, fields, consent = rows[0]
    lead = Lead(id=pk, uuid=uuid.UUID(str(public_id)), sub_id=sub_id, is_test=bool(is_test),
                fields=column_read(Lead, "fields", fields) or {},
                consent=column_read(Lead, "consent", consent) or {},
                status=LeadStatus.AUCTIONING, auction_started_at=started)
    lead.source = source = cached_row(Source, source_id)
    lead.vertical = vertical = cached_row(Vertical, vertical_id)
    return lead, vertical, source


def _round(state: AuctionRun, number: int, candidates: list[ContractSetup],
           bought: frozenset[int], ping_deadline: float) -> Ranking:
    """Eligibility, ping and ranking for ``candidates``; writes one Ping row per contract."""
    lead = state.lead
    facts = LeadFacts(fields=lead.fields, source_id=lead.source_id, sub_id=lead.sub_id,
                      is_test=lead.is_test, floor=auction_floor(state.vertical, state.source),
                      consent_brands=consent_brands(lead.consent))
    eligibility = select_eligible(facts, [s.terms for s in candidates],
                                  now=timezone.now(), bought_by=bought, rng=state.rng)
    # Every value, the PII ones sealed: a ping reads those only as derived, non-identifying
    # values (an age, a ZIP3), computed in the mapping step.
    results, observations = ping_round([state.setups[t.id] for t in eligibility.eligible],
                                       state.ctx.values, state.ctx.context,
                                       deadline=ping_deadline, sealed=state.ctx.pii_keys)
    state.ctx.observations.extend(observations)  # counted once the auction is decided
    terms = {t.id: t for t in eligibility.eligible}
    ranking = rank_bids([r.bid for r in results if r.bid is not None], terms,
                        floor=facts.floor, rng=state.rng)
    # round 1's decision time, which the deadline bounds: stamped before the transaction,
    # which may wait for its write turn; the rows are built before it too, so the turn (on
    # SQLite the whole database's) is held only while they are written
    bids_at = timezone.now()
    record = None
    if number == 1:
        state.record.bids_at, state.record.rounds = bids_at, 1
        # its commit does not wait for the disk, as the claim's (see _claim): the first
        # post's row flushes both before the lead leaves
        record = sql_insert_prepare(state.record).unflushed()
    pings = pings_prepare(number, eligibility.excluded, results, ranking,
                          created=timezone.now())
    with transaction.atomic():  # the record and its pings: one write, not two
        if record is not None:
            record.run()
        pings_write(state.record.pk, pings)
    state.pinged.update(r.contract_id for r in results)
    logger.info(kv("auction.round", lead=lead.uuid, round=number,
                   considered=len(candidates), eligible=len(eligibility.eligible),
                   bids=len(ranking.ranked)))
    return ranking


def _replay(state: AuctionRun, reserved: ReservedRound, bought: frozenset[int]) -> Ranking:
    """Round one from the source's ping: its rows written as they were answered, and its
    ranking with each contract's terms as they are now — a contract switched off since,
    whose buyer bought this consumer (known only now, with the PII), or whose brand the
    consumer did not pick (one-to-one consent, known only now), is passed over."""
    ranking = Ranking(bids_standing(reserved.ranking.ranked, state.setups, bought, state.lead),
                      reserved.ranking.below_floor)
    state.record.started_at, state.record.ping_deadline_at = (reserved.started_at,
                                                               reserved.bids_at)
    state.record.bids_at, state.record.rounds = reserved.bids_at, 1
    record = sql_insert_prepare(state.record).unflushed()  # as _round's
    pings = pings_prepare(1, reserved.excluded, reserved.results, reserved.ranking,
                          created=reserved.bids_at)
    with transaction.atomic():
        record.run()
        pings_write(state.record.pk, pings)
    state.pinged.update(r.contract_id for r in reserved.results)
    return ranking


def _secondary_round(state: AuctionRun, bought: frozenset[int]
                     ) -> tuple[list[Sale], FailedPost | None]:
    """Every bidder failed: ping the secondary contracts (kept out of round one) and those
    excluded in round one (their exclusion may have cleared), within the time left of the
    source's budget. Contracts that already answered or failed in round one are not asked
    again."""
    left = state.deadline - time.monotonic() - settings.AUCTION_RESERVE_MS / 1000
    if left < settings.AUCTION_SECONDARY_MIN_MS / 1000:
        return [], None
    fresh = {s.terms.id: s for s in contract_setups(state.vertical.pk, timezone.now())}
    state.setups.update(fresh)
    candidates = [s for cid, s in fresh.items() if cid not in state.pinged]
    if not candidates:
        return [], None
    state.record.rounds = 2
    ranking = _round(state, 2, candidates, bought,
                     time.monotonic() + left * settings.AUCTION_PING_SHARE)
    return ranking_post(ranking, state.ctx)


def auction_floor(vertical: Vertical, source: Source) -> Decimal:
    """The lowest sale price of a lead of ``vertical`` from ``source``."""
    return max(vertical.default_floor, source.minimum_sale_price())


def unsold_reason(ranking: Ranking, floor: Decimal) -> str:
    """Why a lead whose first round sold nothing is unsold, in the words the source and the
    live view show."""
    if ranking.ranked:
        return "Every bidder rejected the lead."
    below = len(ranking.below_floor)
    if below:
        return f"{below} bid{'s' if below > 1 else ''} under the floor {floor:.2f}."
    return "No buyer bid on this lead."
