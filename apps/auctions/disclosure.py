"""What the contract tools (test ping, round trip, payload preview) show of a real lead's
personal data: a post built from a chosen lead carries its PII, so unless the user revealed
it (apps.leads.disclosure, audited) the post's body, query string and buyer's answer are
hidden, and its mapping rows' values from PII fields masked. Pings carry no PII (a ping reads
PII fields only through derived values) and a sample lead is the vertical's examples: both
are shown as they are."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import Any

from apps.auctions.services.diagnostics import RequestView, RoundTrip, TestPing
from apps.buyers.models import EndpointKind
from apps.leads.disclosure import HIDDEN_BODY, MASK, Where, lead_private_keys, pii_reveal
from apps.leads.models import Lead


def _hidden_url(url: str) -> str:
    base, mark, _ = url.partition("?")
    return f"{base}?{HIDDEN_BODY}" if mark else url


def request_hidden(view: RequestView, private_keys: Collection[str]) -> RequestView:
    """A post request ``view`` without the lead's personal data."""
    return replace(
        view, url=_hidden_url(view.url), body=HIDDEN_BODY if view.body else "",
        values=tuple(replace(row, value=MASK) if row.source in private_keys
                     and row.value is not None else row for row in view.values))


def exchange_hidden(exchange: TestPing, private_keys: Collection[str]) -> TestPing:
    """A test exchange without the lead's personal data (a ping is returned as it is)."""
    if exchange.kind != EndpointKind.POST:
        return exchange
    request = exchange.request and request_hidden(exchange.request, private_keys)
    response = exchange.response and replace(
        exchange.response, body=HIDDEN_BODY if exchange.response.body else "")
    return replace(exchange, request=request, response=response)


def round_trip_hidden(trip: RoundTrip, private_keys: Collection[str]) -> RoundTrip:
    """A test round trip without the lead's personal data (in its post: its ping carries
    none)."""
    return replace(trip, post=trip.post and exchange_hidden(trip.post, private_keys))


def previews_hidden(previews: dict[str, RequestView | str], private_keys: Collection[str]
                    ) -> dict[str, RequestView | str]:
    """Payload previews without the lead's personal data in the post's."""
    return {kind: request_hidden(built, private_keys)
            if kind == EndpointKind.POST and isinstance(built, RequestView) else built
            for kind, built in previews.items()}


def tool_private_keys(user: Any, lead: Lead | None, *, reveal: bool, where: Where
                      ) -> frozenset[str] | None:
    """What a contract tool run for ``lead`` must hide: ``lead``'s personal field keys, or
    None for nothing — no real lead, or ``reveal`` (written to the audit log for ``user``;
    PermissionDenied, writing nothing, without the permission)."""
    if lead is None:
        return None
    if reveal:
        pii_reveal(user, lead, where)
        return None
    return lead_private_keys(lead)
