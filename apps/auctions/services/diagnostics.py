"""What a buyer receives and answers, before a live lead goes out: the payload preview (built,
not sent) and the test ping (built, sent, parsed). Both use the contract's saved rows through
the same code path as a real auction (mapping → transport → HTTP → response rules)."""

from __future__ import annotations

from dataclasses import dataclass, replace
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
from apps.buyers.mapping import SECRET_PREFIX, MappingRule, path_parse, payload_trace
from apps.buyers.models import Contract, ContractMode, Endpoint, EndpointKind, TestFlag
from apps.buyers.oauth import FETCH_TIMEOUT_S
from apps.buyers.parsing import ParsedResponse
from apps.buyers.transports import MASK
from apps.buyers.validation import test_flag_rule
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
    # the preview's live value of every mapping row for the chosen lead
    values: tuple[RowValue, ...] = ()


@dataclass(frozen=True)
class RowValue:
    """One mapping row of a preview and what it sends for the lead (secrets masked);
    ``value`` None when it sends nothing (``why`` says why)."""

    target: str
    source: str
    transform: str
    value: str | None
    why: str = ""


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


def _endpoints(contract: Contract, *, test: bool = False) -> dict[str, EndpointSetup]:
    """The contract's endpoints; with ``test``, as the test tools send them: flagged as a
    test the way the buyer wants (``Contract.test_flag``)."""
    mappings = list(contract.mappings.all())
    secrets = contract_secrets(contract)
    setups = {}
    for row in contract.endpoints.all():
        setup = endpoint_setup(row, [m for m in mappings if m.kind == row.kind], secrets)
        setups[row.kind] = _flagged(contract, row, setup) if test else setup
    return setups


def _flagged(contract: Contract, row: Endpoint, setup: EndpointSetup) -> EndpointSetup:
    """``setup`` marked as a test by its URL or a header (a field goes into the payload
    when the request is built: ``_build``)."""
    if contract.test_flag == TestFlag.SANDBOX and row.sandbox_url:
        return replace(setup, spec=replace(setup.spec, url=row.sandbox_url))
    if contract.test_flag == TestFlag.HEADER and contract.test_flag_key:
        headers = {**setup.spec.headers, contract.test_flag_key: contract.test_flag_value}
        return replace(setup, spec=replace(setup.spec, headers=headers))
    return setup


def test_flag_text(contract: Contract) -> str:
    """How the test tools mark a request as a test for this buyer, in words; empty when
    they do not (the buyer then takes it for a live one)."""
    if contract.test_flag == TestFlag.SANDBOX:
        return "sent to the sandbox URLs"
    if contract.test_flag == TestFlag.HEADER:
        return f"header {contract.test_flag_key}: {contract.test_flag_value}"
    if contract.test_flag == TestFlag.FIELD:
        return f"field {contract.test_flag_key} = {contract.test_flag_value}"
    return ""


def _build(contract: Contract, endpoint: EndpointSetup, kind: str, values: dict[str, Any],
           context: dict[str, Any], *, test: bool, **options: Any) -> WireCall | str:
    """``wire_build`` for a preview or (``test``) a test request, which carries the
    buyer's test field when it wants one. That row joins the mapping rows; an endpoint
    without rows sends every field under its own name, so those are spelled out first."""
    sealed = _sealed(contract, kind)
    if test and contract.test_flag == TestFlag.FIELD and contract.test_flag_key:
        rows = endpoint.mappings or tuple(MappingRule(target=key, source=key)
                                          for key in values if key not in sealed)
        flag = test_flag_rule({name: getattr(contract, name) for name in (
            "test_flag_key", "test_flag_value", "test_flag_type")})
        endpoint = replace(endpoint, mappings=(*rows, flag))
    return wire_build(endpoint, values, context, sealed=sealed, explain=True, **options)


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
    values = _values(contract, lead)
    for kind, endpoint in sorted(_endpoints(contract).items()):
        context = _context(lead, kind)
        call = _build(contract, endpoint, kind, values, context,
                      test=False, extra_headers={"Idempotency-Key": "preview"}
                      if kind == EndpointKind.POST else None)
        if isinstance(call, str):
            previews[kind] = call
            continue
        previews[kind] = replace(_request_view(call, endpoint), values=_row_values(
            endpoint, values, context, sealed=_sealed(contract, kind)))
    return previews


def _row_values(endpoint: EndpointSetup, values: dict[str, Any], context: dict[str, Any],
                *, sealed: frozenset[str]) -> tuple[RowValue, ...]:
    """What each mapping row sends for the lead (every field, when there are no rows)."""
    context = {**context, **{SECRET_PREFIX + name: value
                             for name, value in endpoint.secrets.items()}}
    payload, empty = payload_trace(endpoint.mappings, values, context, sealed=sealed)
    if not endpoint.mappings:
        return tuple(RowValue(key, key, "", _shown(value)) for key, value in payload.items())
    why = {row.position: row.reason for row in empty}
    rows = []
    for position, rule in enumerate(endpoint.mappings):
        value = _at(payload, path_parse(rule.target)) if position not in why else None
        shown = MASK if rule.source.startswith("@" + SECRET_PREFIX) and value else (
            _shown(value))
        rows.append(RowValue(rule.target, rule.source or f"constant {rule.constant!r}",
                             " ".join(filter(None, (rule.transform, rule.arg))), shown,
                             why.get(position, "")))
    return tuple(rows)


def _at(payload: Any, steps: tuple[str | int, ...]) -> Any:
    node = payload
    for step in steps:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def contract_test_ping(contract: Contract, *, lead: Lead | None = None) -> TestPing:
    """Send one test request, flagged as a test (``@test`` true, and the way the buyer
    wants it: ``Contract.test_flag``): the ping (or, for a direct-post contract, the post)
    with ``lead`` or a sample lead; return the exact request (secrets masked), the raw
    answer and what the response rules read from it."""
    kind = (EndpointKind.POST if contract.mode == ContractMode.DIRECT_POST
            else EndpointKind.PING)
    return _exchange(contract, _endpoints(contract, test=True), kind, _values(contract, lead),
                     _context(lead, kind))


def _exchange(contract: Contract, endpoints: dict[str, EndpointSetup], kind: str,
              values: dict[str, Any], context: dict[str, Any]) -> TestPing:
    """Build, send and read one test request of ``kind``."""
    endpoint = endpoints.get(kind)
    if endpoint is None:
        return TestPing(kind, None, None, "error", None, f"No {kind} endpoint configured.")
    extra = ({"Idempotency-Key": f"test-{context['lead.id']}"}
             if kind == EndpointKind.POST else None)
    call = _build(contract, endpoint, kind, values, context, test=True,
                  token_wait=FETCH_TIMEOUT_S, extra_headers=extra)
    if isinstance(call, str):
        return TestPing(kind, None, None, "error", None, call)
    response = http_send(call.request)
    shown = ResponseView(
        status=response.status, headers=endpoint.mask.headers(dict(response.headers)),
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


@dataclass(frozen=True)
class RoundTrip:
    """A test ping and the test post that carries its real token: ``post`` is None when
    the ping did not bid (nothing to post), ``ping`` None for a direct-post contract.
    ``outcome`` is the post's (``accepted``/``rejected`` or a failure code), else the
    ping's; ``flagged`` how both were marked as tests ("" when the buyer was not told)."""

    ping: TestPing | None
    post: TestPing | None
    outcome: str
    detail: str
    flagged: str


def contract_test_round_trip(contract: Contract, *, lead: Lead | None = None) -> RoundTrip:
    """Send a test ping, then — when it bids — the test post with the token and bid the
    ping answer carried, both flagged as tests the way the buyer wants, for ``lead`` or a
    sample lead. Nothing is stored; a direct-post contract sends its post alone."""
    endpoints = _endpoints(contract, test=True)
    values = _values(contract, lead)
    flagged = test_flag_text(contract)
    ping = None
    post_context = _context(lead, EndpointKind.POST)
    if contract.mode != ContractMode.DIRECT_POST:
        ping = _exchange(contract, endpoints, EndpointKind.PING, values,
                         _context(lead, EndpointKind.PING))
        if ping.outcome != Outcome.BID or ping.parsed is None:
            detail = ping.detail or "the buyer did not bid"
            return RoundTrip(ping, None, ping.outcome, f"No post sent: {detail}.", flagged)
        post_context.update({"ping.token": ping.parsed.token or "",
                             "ping.bid": format(ping.parsed.price, "f")
                             if ping.parsed.price is not None else ""})
        if not ping.parsed.token:
            post_context.pop("ping.token")
    post = _exchange(contract, endpoints, EndpointKind.POST, values, post_context)
    return RoundTrip(ping, post, post.outcome, post.detail, flagged)
