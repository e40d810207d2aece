"""The public entry points of the outbound HTTP primitive (the contract: ``__init__``)."""

from __future__ import annotations

from collections.abc import Iterable

from apps.core.http.engine import AnswerHook, engine_close, send_batch
from apps.core.http.messages import OutboundRequest, OutboundResponse


def http_send_many(
    requests: Iterable[OutboundRequest], *, deadline: float | None = None,
    on_answer: AnswerHook | None = None,
) -> list[OutboundResponse]:
    """Send ``requests`` in parallel and return exactly one response each, in order.

    Each request leaves as soon as it is taken from ``requests``: pass a generator that
    builds them and the first is on the wire while the rest are still being built.

    ``deadline`` is a ``time.monotonic()`` instant for the whole batch: each request gets
    ``min(its timeout, deadline - now)`` and is abandoned at that limit, so the call
    returns by the deadline (plus a millisecond of bookkeeping) whatever the buyers do.
    Never raises for a network or buyer fault. Runs on the calling thread; thread-safe.

    ``on_answer(index, response)``, when given, runs as each answer (or transport failure)
    arrives — while slower requests are still awaited — so a caller's per-answer work
    (parsing) overlaps the wait instead of following the deadline. Requests this batch
    gives up on at their limit are not passed to it. It must be quick; if it raises, the
    error is logged and ignored.
    """
    return send_batch(requests, deadline, on_answer)


def http_send(request: OutboundRequest, *, deadline: float | None = None) -> OutboundResponse:
    """Send one request; ``http_send_many`` of one (same contract)."""
    return send_batch((request,), deadline, None)[0]


def http_client_close() -> None:
    """Close this thread's kept-alive connections (tests, worker shutdown); idempotent."""
    engine_close()
