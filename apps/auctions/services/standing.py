"""Which bids still stand after the round that made them: a ranking replayed later (the
source's ping, a post that a crashed process left untried) offers the lead only to contracts
whose terms still allow it now.

A bid stops standing when its contract was switched off or auto-paused since, when its buyer
bought this consumer meanwhile (``ConsumerPurchase``), or when the consumer did not pick its
brand (one-to-one consent, known only with the post).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from apps.auctions.engine import Bid, LeadFacts, Outcome, RankedBid, Ranking, consented
from apps.auctions.models import Auction, ConsumerPurchase, Ping, Post
from apps.auctions.services.consent import consent_brands
from apps.auctions.setups import ContractSetup
from apps.core.sql import sql_datetime, sql_in, sql_rows
from apps.leads.models import Lead


def buyers_who_bought(digests: list[str], now: datetime) -> frozenset[int]:
    """The buyers holding a running purchase of the consumer of ``digests``."""
    if not digests:
        return frozenset()
    rows = sql_rows(f"SELECT buyer_id FROM {ConsumerPurchase._meta.db_table} "  # noqa: S608
                    f"WHERE digest IN {sql_in(digests)} AND expires_at > %s",
                    [*digests, sql_datetime(now)])
    return frozenset(buyer_id for (buyer_id,) in rows)


def bids_standing(ranked: Iterable[RankedBid], setups: Mapping[int, ContractSetup],
                  bought: frozenset[int], lead: Lead) -> tuple[RankedBid, ...]:
    """``ranked`` (in its order) without the bids that no longer stand, each with its
    contract's terms as they are now."""
    picked = LeadFacts(fields={}, source_id=lead.source_id,
                       consent_brands=consent_brands(lead.consent))
    standing = []
    for r in ranked:
        setup = setups.get(r.bid.contract_id)
        if (setup is not None and setup.terms.active and not setup.terms.auto_paused
                and setup.terms.buyer_id not in bought and consented(picked, setup.terms)):
            standing.append(RankedBid(r.bid, setup.terms, r.effective))
    return tuple(standing)


def untried_ranking(record: Auction, setups: Mapping[int, ContractSetup],
                    bought: frozenset[int], lead: Lead) -> Ranking:
    """The bids of ``record``'s rounds whose contracts were never offered the lead, best
    first, that still stand. After an ordinary auction there are none (every bidder was
    offered it before a retry was scheduled); after a process died mid-post and the sweeper
    turned that post into a retry, the bidders ranked below it are here."""
    offered = set(Post.objects.filter(auction=record).values_list("contract_id", flat=True))
    rows = (Ping.objects.filter(auction=record, outcome=Outcome.BID.value,
                                bid__isnull=False, effective_bid__isnull=False)
            .exclude(contract_id__in=offered)
            .order_by("-effective_bid", "pk")
            .values_list("contract_id", "bid", "effective_bid", "token"))
    ranked = [RankedBid(Bid(contract_id, bid, token=token or None),
                        setups[contract_id].terms, effective)
              for contract_id, bid, effective, token in rows
              if contract_id in setups and bid is not None and effective is not None]
    return Ranking(bids_standing(ranked, setups, bought, lead))
