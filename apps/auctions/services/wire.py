"""From a contract's endpoint configuration to an outbound request, and from the answer to an
outcome: shared by pings, posts and health pings.

The payload goes mapping → transport (wire format + auth) → ``apps.core.http``; the answer goes
through the endpoint's response rules. Any misconfiguration or buyer fault becomes an outcome
code with a short detail, never an exception.

Secrets (the contract's ``@secret.<name>`` values and the endpoint's auth secret) go on the
wire but never into what is kept: the stored request text, the stored answer
(``response_text``) and every detail or reason pass through the endpoint's ``SecretMask``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from apps.auctions.engine import Outcome
from apps.auctions.setups import EndpointSetup
from apps.buyers.mapping import (
    SECRET_PREFIX,
    EmptyRow,
    MappingError,
    path_parse,
    payload_build,
    payload_trace,
)
from apps.buyers.oauth import oauth_token
from apps.buyers.parsing import ParsedResponse, ResponseInvalid, response_parse
from apps.buyers.transports import TransportError, request_build
from apps.core.http import OutboundRequest, OutboundResponse

MASK = "***"
TOKEN_UNAVAILABLE = "token unavailable"  # noqa: S105 - an outcome detail, not a secret


def storable(raw: bytes | str, limit: int = 2000) -> str:
    """Buyer-supplied bytes or text as storable text: at most ``limit`` characters, invalid
    UTF-8 replaced, and NUL characters (which PostgreSQL text refuses) replaced too."""
    text = raw[:limit * 4].decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return text[:limit].replace("\x00", "\ufffd")


def response_text(endpoint: EndpointSetup, raw: bytes | str, limit: int = 2000) -> str:
    """A buyer's answer as storable text (see ``storable``) with the contract's secrets
    masked: a buyer echoing a credential back must not have it stored."""
    if not endpoint.mask:
        return storable(raw, limit)
    # masked before the cut, so a secret straddling the limit is not half kept
    return endpoint.mask(storable(raw, limit + 4000))[:limit]


@dataclass(frozen=True, slots=True)
class WireCall:
    request: OutboundRequest
    body_text: str  # what is stored: the body (or URL) with secrets masked; posts: PII too
    empty: tuple[EmptyRow, ...] = ()  # rows that came out empty (built with ``explain``)


def wire_build(
    endpoint: EndpointSetup,
    values: Mapping[str, Any],
    context: Mapping[str, Any],
    *,
    extra_headers: Mapping[str, str] | None = None,
    mask_keys: Collection[str] = (),
    sealed: Collection[str] = (),
    token_wait: float = 0.0,
    explain: bool = False,
) -> WireCall | str:
    """The request for ``endpoint`` with ``values`` (lead fields) and ``context`` (``@…``
    keys), or a one-line reason why it cannot be built. With ``mask_keys`` (PII fields) the
    stored ``body_text`` is the payload as JSON with those values masked. ``sealed`` (a
    ping's PII fields) are read only through transforms deriving non-identifying values.

    An OAuth2 endpoint's token is read from memory; ``token_wait`` is how many seconds it may
    wait for one being fetched (0, a ping: never). Without a token the reason is
    ``TOKEN_UNAVAILABLE``, and the token is fetched in the background meanwhile. With
    ``explain`` (previews) the call also lists the mapping rows that came out empty."""
    if endpoint.secrets:
        context = {**context, **{SECRET_PREFIX + name: value
                                 for name, value in endpoint.secrets.items()}}
    try:
        empty: list[EmptyRow] = []
        if explain:
            payload, empty = payload_trace(endpoint.mappings, values, context, sealed=sealed)
        else:
            payload = payload_build(endpoint.mappings, values, context, sealed=sealed)
        token = None
        if endpoint.spec.auth.type == "oauth2":
            token = oauth_token(endpoint.spec.auth, endpoint.oauth_token_url, wait=token_wait)
            if token is None:
                return TOKEN_UNAVAILABLE
        wire = request_build(endpoint.spec, payload, oauth_token=token,
                             extra_headers=extra_headers, secrets=endpoint.secrets)
    except (MappingError, TransportError) as error:
        return endpoint.mask(f"configuration: {error}")[:255]
    request = OutboundRequest(method=wire.method, url=wire.url, headers=wire.headers,
                              body=wire.body, timeout=endpoint.timeout)
    if mask_keys:
        text = json.dumps(payload_mask(payload, endpoint, mask_keys), default=str)
    elif endpoint.mask:
        # masked before any cut (a secret straddling it is not half kept); a query-string
        # request is kept as its URL, which may carry a key
        text = storable(wire.body, 6000) or wire.url
    else:
        text = storable(wire.body) or wire.url
    return WireCall(request=request, body_text=endpoint.mask(text) if endpoint.mask else text,
                    empty=tuple(empty))


def payload_mask(payload: dict, endpoint: EndpointSetup, mask_keys: Collection[str]) -> dict:
    """A copy of ``payload`` where every value drawn from a ``mask_keys`` field or a secret
    is masked."""
    masked = copy.deepcopy(payload)
    if not endpoint.mappings:
        return {k: (MASK if k in mask_keys else v) for k, v in masked.items()}
    for rule in endpoint.mappings:
        if rule.source in mask_keys or rule.source.startswith("@" + SECRET_PREFIX):
            _set(masked, path_parse(rule.target))
    return masked


def _set(node: Any, path: tuple[str | int, ...]) -> None:
    for step in path[:-1]:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return
    last = path[-1]
    if isinstance(node, dict):
        if last in node:
            node[last] = MASK
    elif isinstance(node, list) and isinstance(last, int) and -len(node) <= last < len(node):
        node[last] = MASK


@dataclass(frozen=True, slots=True)
class AnswerFault:
    """An answer that says nothing about the lead: ``code`` is ``timeout``, ``error``
    (transport fault: connect, 5xx, redirect, size, blocked; or a ping refused with a 4xx)
    or ``invalid_response`` (unreadable in the configured format); ``detail`` a storable
    line."""

    code: Outcome
    detail: str


def answer_outcome(endpoint: EndpointSetup, response: OutboundResponse, *, post: bool = False
                   ) -> ParsedResponse | AnswerFault:
    """What the buyer said (its answer read by the endpoint's response rules, with the
    reason and token made storable), or the fault that kept it from saying anything.

    A 4xx outside the endpoint's success statuses answers the request, not the lead: for a
    ping (and a health ping) it is an ``error`` fault — a configuration or credential
    problem that counts toward the contract's health — whose detail is ``HTTP <status>:``
    and the buyer's own words (its reason path, else an excerpt of the body). For a
    ``post`` it is a rejection with that reason: the buyer refused this lead's delivery, a
    retry would be refused alike, and it counts in the post-acceptance rate."""
    if response.error == "timeout":
        return AnswerFault(Outcome.TIMEOUT, response.detail or "no answer in time")
    if response.error is not None:
        return AnswerFault(Outcome.ERROR, response_text(
            endpoint, f"{response.error}: {response.detail}", 255))
    if response.status is not None and response.status >= 500:
        return AnswerFault(Outcome.ERROR, f"HTTP {response.status}")
    try:
        parsed = response_parse(endpoint.rules, response.status or 0, response.body)
    except ResponseInvalid as error:
        return AnswerFault(Outcome.INVALID_RESPONSE, response_text(endpoint, str(error), 255))
    reason = parsed.reason and response_text(endpoint, parsed.reason, 255)
    status = response.status or 0
    if not post and 400 <= status < 500 and status not in endpoint.rules.success_statuses:
        return AnswerFault(Outcome.ERROR, reason or f"HTTP {status}")
    if not (parsed.reason or parsed.token):
        return parsed
    # built anew, not with dataclasses.replace (which reads the class's fields each call)
    return ParsedResponse(parsed.accepted, parsed.price,
                          parsed.token and storable(parsed.token, 255), reason)
