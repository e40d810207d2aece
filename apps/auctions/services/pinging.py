"""The ping phase: build each eligible contract's ping, send them all in parallel under one
deadline, and turn every answer (or silence) into exactly one outcome.

Pings carry no PII: the vertical's PII fields are ``sealed`` for the mapping, which reads them
only through a transform deriving a non-identifying value (an age from a birth date),
whatever a mapping row asks for.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from apps.auctions.engine import FAILED, Bid, Mode, Outcome
from apps.auctions.health import Observation
from apps.auctions.services.wire import (
    AnswerFault,
    WireCall,
    answer_outcome,
    response_text,
    wire_build,
)
from apps.auctions.setups import ContractSetup, EndpointSetup
from apps.core.dbconn import db_release
from apps.core.http import OutboundRequest, OutboundResponse, http_send_many
from apps.core.logging import kv

logger = logging.getLogger(__name__)

_BODY_KEEP = 2000  # characters of request/response kept on a Ping row

# Expected answer time per contract (moving average of what this process saw). Building
# and sending 50 pings takes a few milliseconds, so the slowest buyers' pings are built and
# sent first: that time overlaps their wait instead of being added to the decision. Only
# the order of sending depends on it, never an outcome.
_expected_ms: dict[int, float] = {}
_EWMA = 0.2


@dataclass(frozen=True, slots=True)
class PingResult:
    """One contract's ping: its outcome code, and its bid when it made one."""

    contract_id: int
    outcome: str
    bid: Bid | None = None
    latency_ms: float | None = None
    http_status: int | None = None
    detail: str = ""
    request_body: str = ""
    response_body: str = ""


def ping_round(
    setups: Sequence[ContractSetup],
    values: Mapping[str, Any],
    context: Mapping[str, Any],
    *,
    deadline: float,
    sealed: Collection[str] = (),
) -> tuple[list[PingResult], list[Observation]]:
    """Ping every ``ping_post`` set-up in parallel; ``direct_post`` ones bid their fixed price.

    ``values`` are the lead's fields; those named in ``sealed`` (its PII) reach a ping only
    as derived values (see ``apps.buyers.mapping``). Returns one result per set-up (same
    order) by ``deadline`` (a ``time.monotonic()`` instant), and the health observations of
    the pinged.
    """
    results: dict[int, PingResult] = {}
    pinged: list[tuple[ContractSetup, EndpointSetup]] = []
    for setup in setups:
        terms = setup.terms
        if terms.mode == Mode.DIRECT_POST:
            results[terms.id] = PingResult(
                terms.id, Outcome.BID, Bid(terms.id, terms.fixed_price or Decimal(0)),
                detail="direct post: fixed price")
        elif setup.ping is None:
            results[terms.id] = PingResult(terms.id, Outcome.ERROR,
                                           detail="no ping endpoint configured")
        else:
            pinged.append((setup, setup.ping))
    pinged.sort(key=lambda pair: -_expected_ms.get(pair[0].terms.id, float("inf")))
    calls: list[tuple[ContractSetup, EndpointSetup, WireCall]] = []

    def requests() -> Iterator[OutboundRequest]:
        """Each ping built just before it leaves, slowest buyer first."""
        for setup, endpoint in pinged:
            call = wire_build(endpoint, values, context, sealed=sealed)
            if isinstance(call, str):
                results[setup.terms.id] = PingResult(setup.terms.id, Outcome.ERROR,
                                                     detail=call)
                continue
            calls.append((setup, endpoint, call))
            yield call.request

    db_release()
    # Each answer is handled the moment it arrives, while slower buyers are still awaited:
    # when the batch returns, only the ones it gave up on are left.
    observations: list[Observation] = []
    handled: set[int] = set()
    debug = logger.isEnabledFor(logging.DEBUG)  # 50 lines per auction: built only if kept

    def handle(index: int, response: OutboundResponse) -> None:
        setup, endpoint, call = calls[index]
        result = results[setup.terms.id] = _interpret(setup.terms.id, endpoint, call, response)
        handled.add(index)
        observations.append(_observation(setup, response, result))
        cid = setup.terms.id
        expected = _expected_ms.get(cid)
        _expected_ms[cid] = response.latency_ms if expected is None else (
            expected + _EWMA * (response.latency_ms - expected))
        if debug:
            logger.debug(kv("auction.ping", contract=cid, outcome=result.outcome,
                            bid=result.bid.amount if result.bid else "-",
                            latency_ms=round(response.latency_ms, 1)))

    responses = http_send_many(requests(), deadline=deadline, on_answer=handle)
    for index, response in enumerate(responses):
        if index not in handled:  # cut at its limit: never passed to the hook
            handle(index, response)
    return [results[s.terms.id] for s in setups], observations


def _observation(setup: ContractSetup, response: OutboundResponse,
                 result: PingResult) -> Observation:
    return Observation(
        contract_id=setup.terms.id,
        slow=response.error == "timeout" or response.latency_ms > setup.health.slow_threshold_ms,
        failed=result.outcome in FAILED,
        slow_limit=setup.health.slow_count, error_limit=setup.health.error_count,
        kind="ping", latency_ms=response.latency_ms, outcome=str(result.outcome),
    )


def _interpret(cid: int, endpoint: EndpointSetup, call: WireCall,
               response: OutboundResponse) -> PingResult:
    answer = answer_outcome(endpoint, response)

    def result(outcome: Outcome, detail: str, bid: Bid | None = None) -> PingResult:
        return PingResult(cid, outcome, bid, latency_ms=round(response.latency_ms, 2),
                          http_status=response.status, detail=detail,
                          request_body=call.body_text[:_BODY_KEEP],
                          response_body=response_text(endpoint, response.body, _BODY_KEEP))

    if isinstance(answer, AnswerFault):
        return result(answer.code, answer.detail)
    if not answer.accepted:
        return result(Outcome.NO_BID, (answer.reason or "")[:255])
    if answer.price is None:
        return result(Outcome.INVALID_RESPONSE, "bid without a price")
    return result(Outcome.BID, "", Bid(cid, answer.price, token=answer.token,
                                       latency_ms=response.latency_ms))
