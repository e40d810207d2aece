"""The auction's own Prometheus metrics: what happens inside a process, counted where it
happens (``/metrics`` is served by ``apps.ops``, which adds the state read at scrape time).

- ``leadexchange_ping_latency_seconds{contract}`` (histogram) and
  ``leadexchange_pings_total{contract, outcome}`` (counter): every answered, failed or timed
  out ping, from the observations the circuit breaker receives (``health_observe``), so the
  auctions, the source pings and nothing else feed them.
- ``leadexchange_auction_duration_seconds{outcome}`` (histogram): one ``auction_run`` from
  its claim to its decision; ``outcome`` is the lead's status then (``sold``, ``unsold``, or
  ``auctioning`` when a delivery retry was scheduled). Its ``_count`` is the auctions run.

Across processes: with ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn workers, Celery prefork
children, ``make run``'s processes), prometheus_client keeps each process's values in a
memory-mapped file of that directory and ``/metrics`` sums them all; without it the values
live in this process's memory (one process serves and counts). Either way observing is a
memory write under a lock: no I/O on the auction's thread. Recording runs after the outcome
and never raises: metrics must not fail the lead they watch.

Each contract's labelled children are looked up once per process and kept
(``_contract_children``): ``labels()`` validates and joins its label values under a lock
each call, which cost more than the observations themselves (two per ping, 100 an auction).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from prometheus_client import Counter, Histogram

from apps.auctions.health.storage import Observation
from apps.core.logging import kv

logger = logging.getLogger(__name__)

PING_LATENCY = Histogram(
    "leadexchange_ping_latency_seconds", "Time a buyer took to answer a ping (or to time out).",
    ["contract"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0))
PINGS = Counter("leadexchange_pings", "Pings sent, by contract and outcome code.",
                ["contract", "outcome"])
AUCTION_DURATION = Histogram(
    "leadexchange_auction_duration_seconds",
    "One auction from its claim to its decision, by the lead's status then.", ["outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0))


class _ContractChildren:
    """One contract's ping latency histogram and its ping counters by outcome."""

    __slots__ = ("contract", "latency", "outcomes")

    def __init__(self, contract_id: int) -> None:
        self.contract = str(contract_id)
        self.latency = PING_LATENCY.labels(self.contract)
        self.outcomes: dict[str, Counter] = {}

    def count(self, outcome: str) -> Counter:
        counter = self.outcomes.get(outcome)
        if counter is None:
            counter = self.outcomes[outcome] = PINGS.labels(self.contract, outcome)
        return counter


_contract_children: dict[int, _ContractChildren] = {}


def pings_record(observations: Iterable[Observation]) -> None:
    """Count the pings among ``observations`` (latency and outcome). Never raises."""
    try:
        for o in observations:
            if o.kind != "ping" or o.latency_ms is None:
                continue
            children = _contract_children.get(o.contract_id)
            if children is None:
                children = _contract_children[o.contract_id] = _ContractChildren(o.contract_id)
            children.latency.observe(o.latency_ms / 1000)
            children.count(o.outcome or "unknown").inc()
    except Exception as error:  # bookkeeping: never the lead's failure
        logger.warning(kv("metrics.failed", what="pings", error=type(error).__name__))


def auction_record(outcome: str, seconds: float) -> None:
    """Count one auction that took ``seconds`` and left its lead in ``outcome``. Never
    raises."""
    try:
        AUCTION_DURATION.labels(outcome).observe(seconds)
    except Exception as error:
        logger.warning(kv("metrics.failed", what="auction", error=type(error).__name__))
