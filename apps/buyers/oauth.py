"""OAuth2 client-credentials tokens for buyer endpoints, cached until shortly before expiry.

The cache is per process (a token fetch is one request per buyer per hour or so); a fetch
failure raises TransportError, which the caller records as the contract's outcome.
"""

from __future__ import annotations

import threading
import time

from apps.buyers.transports import AuthSpec, TransportError, oauth_token_parse, oauth_token_request
from apps.core.http import OutboundRequest, http_send

_EARLY_RENEWAL_S = 60.0
_lock = threading.Lock()
_tokens: dict[tuple[str, str, str], tuple[str, float]] = {}


def oauth_token(auth: AuthSpec, token_url: str, *, timeout: float = 5.0) -> str:
    """A valid access token for ``auth`` at ``token_url`` (fetched when missing or expiring)."""
    key = (token_url, auth.username, auth.secret)
    with _lock:
        cached = _tokens.get(key)
    if cached is not None and cached[1] > time.monotonic():
        return cached[0]
    if not token_url:
        raise TransportError("OAuth2 needs a token URL.", permanent=True)
    wire = oauth_token_request(auth, token_url)
    response = http_send(OutboundRequest(method=wire.method, url=wire.url, headers=wire.headers,
                                         body=wire.body, timeout=timeout))
    if response.error is not None:
        raise TransportError(f"token endpoint: {response.error}", permanent=False)
    token, expires_in = oauth_token_parse(response.status or 0, response.body)
    with _lock:
        _tokens[key] = (token, time.monotonic() + max(0.0, expires_in - _EARLY_RENEWAL_S))
    return token


def oauth_tokens_clear() -> None:
    with _lock:
        _tokens.clear()
