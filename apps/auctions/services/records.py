"""The rows an auction round leaves behind, built in one place: the live auction writes them,
and the synthetic history builds the same rows from simulated answers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from apps.auctions.engine import Exclusion, Outcome, Ranking
from apps.auctions.models import Ping
from apps.auctions.services.pinging import PingResult
from apps.core.sql import sql_datetime, sql_insert

PING_COLUMNS = ("auction_id", "contract_id", "round", "outcome", "bid", "effective_bid",
                "token", "latency_ms", "http_status", "detail", "request_body",
                "response_body", "created_at")


def ping_rows(auction_id: int, number: int, excluded: Iterable[Exclusion],
              results: Iterable[PingResult], ranking: Ranking, *, created: Any
              ) -> list[tuple]:
    """One row (``PING_COLUMNS`` order) per contract of round ``number`` of auction
    ``auction_id`` (see ``round_rows``)."""
    return [(auction_id, *row)
            for row in round_rows(number, excluded, results, ranking, created=created)]


def round_rows(number: int, excluded: Iterable[Exclusion], results: Iterable[PingResult],
               ranking: Ranking, *, created: Any) -> list[tuple]:
    """``ping_rows`` without their first column, the auction's id: the excluded with their
    reason, the pinged with their outcome — ``below_floor`` for a bid the ranking dropped
    under the floor — bid, effective bid and token."""
    effective = {r.bid.contract_id: r.effective for r in ranking.ranked}
    below = {e.contract_id: e.detail for e in ranking.below_floor}
    rows: list[tuple] = [(e.contract_id, number, e.reason.value, None, None, "", None, None,
                          e.detail[:255], "", "", created) for e in excluded]
    for r in results:
        outcome, detail = str(r.outcome), r.detail
        if r.contract_id in below:
            outcome, detail = Outcome.BELOW_FLOOR.value, below[r.contract_id]
        rows.append((
            r.contract_id, number, outcome, r.bid.amount if r.bid else None,
            effective.get(r.contract_id), (r.bid.token or "")[:255] if r.bid else "",
            r.latency_ms, r.http_status, detail[:255], r.request_body, r.response_body,
            created))
    return rows


def pings_prepare(number: int, excluded: Sequence[Exclusion], results: Sequence[PingResult],
                  ranking: Ranking, *, created: datetime) -> list[tuple]:
    """Round ``number``'s Ping rows without their first column, the auction's id: built
    before the transaction that writes them (``pings_write``), which on SQLite holds the
    database's one write turn while it runs."""
    return round_rows(number, excluded, results, ranking, created=sql_datetime(created))


def pings_write(auction_id: int, rows: Sequence[tuple]) -> None:
    """Insert the ``pings_prepare`` rows of auction ``auction_id`` (plain SQL: ~50 rows an
    auction)."""
    sql_insert(Ping._meta.db_table, PING_COLUMNS, [(auction_id, *row) for row in rows])
