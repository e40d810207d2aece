"""The values that go in and out of the outbound HTTP primitive."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

ErrorCode = Literal["timeout", "connect", "too_large", "redirect", "blocked", "protocol"]


@dataclass(frozen=True, slots=True)
class OutboundRequest:
    """One HTTP request to send.

    ``timeout`` (seconds) bounds everything: connect, send, headers and the full body. A
    batch deadline, when earlier, wins.
    """

    method: str  # "GET" | "POST" | "PUT"
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    timeout: float = 5.0


@dataclass(frozen=True, slots=True)
class OutboundResponse:
    """What became of one ``OutboundRequest``: an answer, or the reason there is none.

    ``error`` is None for any complete answer, whatever its status (a 5xx included), or
    one of: ``timeout`` (no complete answer in time), ``connect`` (refused, reset, DNS
    failure, closed without answering), ``too_large`` (body over the cap; ``body`` holds
    at most the cap), ``redirect`` (a 3xx, not followed; ``status`` set), ``blocked``
    (the SSRF guard refused the URL or every address; nothing was sent), ``protocol``
    (malformed HTTP or an unexpected fault). ``headers`` has lower-case names.
    ``latency_ms`` runs from the start of the send to the full body read or the failure.
    ``detail`` is a short text for logs, never the body.
    """

    status: int | None
    headers: Mapping[str, str]
    body: bytes
    latency_ms: float
    error: ErrorCode | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        """True when a complete answer arrived (``error`` is None)."""
        return self.error is None
