"""What a buyer receives and answers, before a live lead goes out: the payload preview (built,
not sent) and the test ping (built, sent, parsed). Both use the contract's saved rows through
the same code path as a real auction (mapping → transport → HTTP → response rules)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from apps.auctions.engine import Outcome
from apps.auctions.models import PostOutcome
from apps.auctions.services.wire import (
    AnswerFault,
    WireCall,
    answer_outcome,
    response_text,
    wire_build,
)
from apps.auctions.setups import EndpointSetup, contract_secrets, endpoint_setup
from apps.buyers.models import Contract, ContractMode, EndpointKind
from apps.buyers.oauth import FETCH_TIMEOUT_S
from apps.buyers.parsing import ParsedResponse
from apps.core.http import http_send
from apps.leads.models import Lead
from apps.leads.selectors import lead_sample_fields

_SHOWN_BODY = 20_000
SAMPLE_TOKEN = "sample-ping-token"  # noqa: S105 - a placeholder shown in post previews


@dataclass(frozen=True)
class RequestView:
    method: str
    url: str
    headers: dict[str, str]
    body: str
    # mapping rows that came out empty for this lead, and why ("row 3 'Lead.Phone': …"):
    # a preview flags them instead of dropping them silently
    empty_rows: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResponseView:
    status: int | None
    headers: dict[str, str]
    body: str
    latency_ms: float
    error: str | None


@dataclass(frozen=True)
class TestPing:
    """A test request and what came of it: ``outcome`` is ``bid``/``no_bid`` (or
    ``accepted``/``rejected`` for a test post) or a failure code with ``detail``."""

    kind: str
    request: RequestView | None
    response: ResponseView | None
    outcome: str
    parsed: ParsedResponse | None
    detail: str = ""


def _endpoints(contract: Contract) -> dict[str, EndpointSetup]:
    mappings = list(contract.mappings.all())
    secrets = contract_secrets(contract)
    return {e.kind: endpoint_setup(e, [m for m in mappings if m.kind == e.kind], secrets)
            for e in contract.endpoints.all()}


def _values(contract: Contract, lead: Lead | None) -> dict[str, Any]:
    if lead is not None:
        return dict(lead.fields)
    return lead_sample_fields(contract.vertical, include_pii=True)


def _sealed(contract: Contract, kind: str) -> frozenset[str]:
    """What a request of ``kind`` may read only as derived values: a ping's PII fields."""
    if kind != EndpointKind.PING:
        return frozenset()
    return frozenset(contract.vertical.fields.filter(pii=True).values_list("key", flat=True))


def _context(lead: Lead | None, kind: str) -> dict[str, Any]:
    context: dict[str, Any] = {
        "lead.id": str(lead.uuid) if lead else "test-lead", "test": True,
        "source.id": lead.source_id if lead else 0, "sub_id": lead.sub_id if lead else "",
        "now": timezone.now().isoformat()}
    if kind == EndpointKind.POST:
        context.update({"ping.token": SAMPLE_TOKEN, "ping.bid": "10.00"})
    return context


def _request_view(call: WireCall, endpoint: EndpointSetup) -> RequestView:
    """The request as sent, with every secret masked (the contract's secrets, the auth
    secret in any spelling, credentials in the URL and the auth headers)."""
    request = call.request
    mask = endpoint.mask
    body = request.body.decode("utf-8", "replace")
    return RequestView(method=request.method, url=mask(request.url),
                       headers=mask.headers(request.headers), body=mask(body),
                       empty_rows=tuple(f"row {row.position + 1} '{row.target}': {row.reason}"
                                        for row in call.empty))


def contract_payload_preview(contract: Contract, *, lead: Lead | None = None
                             ) -> dict[str, RequestView | str]:
    """The exact ping and post requests the buyer would receive for ``lead`` (or a sample
    lead built from the vertical's examples); a string explains an endpoint that cannot be
    built. Nothing is sent."""
    previews: dict[str, RequestView | str] = {}
    for kind, endpoint in sorted(_endpoints(contract).items()):
        call = wire_build(endpoint, _values(contract, lead), _context(lead, kind),
                          extra_headers={"Idempotency-Key": "preview"}
                          if kind == EndpointKind.POST else None,
                          sealed=_sealed(contract, kind), explain=True)
        previews[kind] = call if isinstance(call, str) else _request_view(call, endpoint)
    return previews


def contract_test_ping(contract: Contract, *, lead: Lead | None = None) -> TestPing:
    """Send one test request, flagged ``test``: the ping (or, for a direct-post contract,
    the post) with ``lead`` or a sample lead; return the exact request, the raw answer and
    what the response rules read from it."""
    kind = (EndpointKind.POST if contract.mode == ContractMode.DIRECT_POST
            else EndpointKind.PING)
    endpoint = _endpoints(contract).get(kind)
    if endpoint is None:
        return TestPing(kind, None, None, "error", None, f"No {kind} endpoint configured.")
    call = wire_build(endpoint, _values(contract, lead), _context(lead, kind),
                      sealed=_sealed(contract, kind), token_wait=FETCH_TIMEOUT_S, explain=True)
    if isinstance(call, str):
        return TestPing(kind, None, None, "error", None, call)
    response = http_send(call.request)
    shown = ResponseView(
        status=response.status, headers=dict(response.headers),
        body=response_text(endpoint, response.body, _SHOWN_BODY),
        latency_ms=round(response.latency_ms, 1), error=response.error)
    parsed = answer_outcome(endpoint, response, post=kind == EndpointKind.POST)
    if isinstance(parsed, AnswerFault):
        return TestPing(kind, _request_view(call, endpoint), shown, parsed.code, None,
                        parsed.detail)
    outcome: str  # a ping's Outcome, a post's PostOutcome
    if kind == EndpointKind.PING:
        outcome = Outcome.BID if parsed.accepted and parsed.price is not None else Outcome.NO_BID
    else:
        outcome = PostOutcome.ACCEPTED if parsed.accepted else PostOutcome.REJECTED
    return TestPing(kind, _request_view(call, endpoint), shown, outcome, parsed,
                    parsed.reason or "")
