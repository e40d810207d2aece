"""Row 8: CPU per auction of our fan-out vs requests + a thread pool, same buyers, same run.

Both sides do the whole ``ping_round`` work for the same 50 contracts of one market:
build each contract's ping from its mapping and wire format (``wire_build``), send the 50
requests in parallel, and parse every answer with the endpoint's response rules.

- **ours**: ``apps.auctions.services.pinging.ping_round`` itself (``apps.core.http``:
  libcurl multi on the calling thread).
- **theirs**: the fair, usual alternative — a ``ThreadPoolExecutor(50)`` whose threads
  each keep a ``requests.Session`` (keep-alive), ``allow_redirects=False``, the answer
  turned into the same ``OutboundResponse`` and parsed by the same code.

CPU is ``time.process_time()`` of this process (every thread, the HTTP loop's included);
the simulator is another process. Blocks of the two alternate, after a warm-up of each,
so machine noise falls on both. ``transport_only`` repeats the comparison on the
same 50 requests built once (no mapping, no parsing): the two HTTP clients by themselves.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import requests

from bench.setup import Market
from bench.stats import summary

if TYPE_CHECKING:  # Django is imported once bench.setup has chosen the database
    from apps.auctions.services.wire import WireCall
    from apps.auctions.setups import ContractSetup, EndpointSetup

WARMUP = 5
BLOCKS = 2


def fanout_cpu(market: Market, lead_id: int, auctions: int) -> dict[str, Any]:
    """CPU ms per 50-buyer fan-out for both clients and their ratio (ours / theirs)."""
    from django.utils import timezone

    from apps.auctions.services.pinging import ping_round
    from apps.auctions.setups import contract_setups
    from apps.core.http import http_send_many
    from apps.leads.models import Lead

    lead = Lead.objects.select_related("vertical").get(pk=lead_id)
    if lead.vertical is None:
        raise ValueError(f"lead {lead_id} has no vertical: the fan-out needs an accepted lead")
    pii = set(lead.vertical.fields.filter(pii=True).values_list("key", flat=True))
    values = {k: v for k, v in lead.fields.items() if k not in pii}
    context = {"lead.id": str(lead.uuid), "source.id": lead.source_id, "sub_id": lead.sub_id,
               "test": lead.is_test, "now": timezone.now().isoformat()}
    setups = contract_setups(market.vertical_id, timezone.now())
    budget_s = 1.0

    def ours() -> list[str]:
        results, _ = ping_round(setups, values, context, deadline=time.monotonic() + budget_s)
        return [r.outcome for r in results]

    # The transport alone, on requests built once: what the two clients cost by themselves.
    prepared = [_ping_call(s, values, context).request for s in setups]

    def ours_transport() -> list[str]:
        answers = http_send_many(prepared, deadline=time.monotonic() + budget_s)
        return ["bid" if a.ok and a.status == 200 else "no" for a in answers]

    with ThreadPoolExecutor(max_workers=len(setups)) as pool:
        def theirs() -> list[str]:
            return requests_ping_round(pool, setups, values, context)

        def theirs_transport() -> list[str]:
            return ["bid" if a.ok and a.status == 200 else "no"
                    for a in pool.map(_requests_send, prepared)]

        whole = _alternate({"ours": ours, "theirs": theirs}, auctions)
        transport = _alternate({"ours": ours_transport, "theirs": theirs_transport},
                               max(1, auctions // 2))
    ours_ms, theirs_ms = whole["cpu_ms"]["ours"], whole["cpu_ms"]["theirs"]
    buyers = len(setups)
    return {
        "ratio": round(ours_ms / theirs_ms, 3),
        "auctions": whole["count"],
        "buyers": buyers,
        "ours_cpu_ms_per_auction": round(ours_ms, 2),
        "theirs_cpu_ms_per_auction": round(theirs_ms, 2),
        "ours_cpu_ms_per_request": round(ours_ms / buyers, 3),
        "theirs_cpu_ms_per_request": round(theirs_ms / buyers, 3),
        "ours_wall_ms": whole["wall_ms"]["ours"],
        "theirs_wall_ms": whole["wall_ms"]["theirs"],
        "bids_missing": whole["missing"],
        "transport_only": {
            "ratio": round(transport["cpu_ms"]["ours"] / transport["cpu_ms"]["theirs"], 3),
            "auctions": transport["count"],
            "ours_cpu_ms_per_request": round(transport["cpu_ms"]["ours"] / buyers, 3),
            "theirs_cpu_ms_per_request": round(transport["cpu_ms"]["theirs"] / buyers, 3),
            "note": "the same 50 requests built once; no wire_build, no parsing",
        },
    }


def _alternate(sides: dict[str, Callable[[], list[str]]], auctions: int) -> dict[str, Any]:
    """Warm each side up, then run ``BLOCKS`` alternating blocks of each; CPU ms per run,
    wall-time summaries and the bids that did not come back."""
    for run in sides.values():
        for _ in range(WARMUP):
            run()
    cpu = {name: 0.0 for name in sides}
    walls: dict[str, list[float]] = {name: [] for name in sides}
    missing = {name: 0 for name in sides}
    per_block = max(1, auctions // BLOCKS)
    for _ in range(BLOCKS):
        for name, run in sides.items():
            started_cpu = time.process_time()
            for _ in range(per_block):
                started = time.monotonic()
                outcomes = run()
                walls[name].append(1000 * (time.monotonic() - started))
                missing[name] += len(outcomes) - outcomes.count("bid")
            cpu[name] += time.process_time() - started_cpu
    count = per_block * BLOCKS
    return {"count": count, "cpu_ms": {name: 1000 * cpu[name] / count for name in sides},
            "wall_ms": {name: summary(walls[name]) for name in sides}, "missing": missing}


def _ping_endpoint(setup: ContractSetup) -> EndpointSetup:
    """The contract's ping endpoint: the bench's markets have no direct-post contract."""
    if setup.ping is None:
        raise ValueError(f"contract {setup.terms.id} has no ping endpoint")
    return setup.ping


def _ping_call(setup: ContractSetup, values: Mapping[str, Any],
               context: Mapping[str, Any]) -> WireCall:
    """The contract's ping request; a ValueError naming why it cannot be built."""
    from apps.auctions.services.wire import wire_build

    call = wire_build(_ping_endpoint(setup), values, context)
    if isinstance(call, str):
        raise ValueError(f"contract {setup.terms.id}: {call}")
    return call


def requests_ping_round(pool: ThreadPoolExecutor, setups: Sequence[ContractSetup],
                        values: Mapping[str, Any], context: Mapping[str, Any]) -> list[str]:
    """``ping_round``'s work done with requests on ``pool``; returns the outcome codes."""
    from apps.auctions.services.pinging import _interpret  # the very same parsing
    from apps.auctions.services.wire import wire_build

    calls: list[tuple[int, EndpointSetup, WireCall]] = []
    for setup in setups:
        endpoint = _ping_endpoint(setup)
        call = wire_build(endpoint, values, context)
        if not isinstance(call, str):  # ping_round records an unbuildable ping as an error
            calls.append((setup.terms.id, endpoint, call))
    responses = pool.map(_requests_send, [call.request for _, _, call in calls])
    return [_interpret(cid, endpoint, call, response).outcome
            for (cid, endpoint, call), response in zip(calls, responses, strict=True)]


_local = threading.local()


def _requests_send(request: Any) -> Any:
    from apps.core.http import OutboundResponse

    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
        session.trust_env = False
    started = time.monotonic()
    try:
        answer = session.request(request.method, request.url, headers=dict(request.headers),
                                 data=request.body or None, timeout=request.timeout,
                                 allow_redirects=False)
    except requests.Timeout as exc:
        return OutboundResponse(None, {}, b"", 1000 * (time.monotonic() - started), "timeout",
                                str(exc)[:200])
    except requests.RequestException as exc:
        return OutboundResponse(None, {}, b"", 1000 * (time.monotonic() - started), "connect",
                                str(exc)[:200])
    return OutboundResponse(answer.status_code,
                            {name.lower(): value for name, value in answer.headers.items()},
                            answer.content, 1000 * (time.monotonic() - started))
