"""Request authentication (header, bearer, basic, query key, OAuth2) and the OAuth2
client-credentials token exchange.

The token itself is fetched over HTTP and cached by ``apps.buyers.oauth`` (ahead of use, shared
by every worker); this module only builds the token request and reads the answer.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote_plus

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from apps.buyers.transports.form import CONTENT_TYPE as FORM_CONTENT_TYPE
from apps.buyers.transports.query import url_extend
from apps.buyers.transports.spec import AUTH_TYPES, AuthSpec, TransportError, WireRequest

# Used when a token answer omits expires_in (RFC 6749 makes it optional): short, because
# refetching a token is cheap and posting with an expired one loses a sale.
DEFAULT_EXPIRES_IN = 300.0
# RFC 6749 §5.2: these statuses mean the client credentials or request are wrong.
_CREDENTIAL_STATUSES = frozenset({400, 401, 403})


def auth_apply(
    auth: AuthSpec, url: str, oauth_token: str | None
) -> tuple[dict[str, str], str]:
    """Return the headers to add and the (possibly extended) URL for ``auth``.

    Raises ``TransportError(permanent=True)`` for an unknown type or incomplete settings, and
    ``TransportError(permanent=False)`` for ``oauth2`` without ``oauth_token`` (fetch one and
    try again).
    """
    kind = auth.type
    if kind == "none":
        return {}, url
    if kind == "oauth2":
        if not oauth_token:
            raise TransportError("oauth2: no access token was supplied")
        return {"Authorization": f"Bearer {oauth_token}"}, url
    if kind not in AUTH_TYPES:
        raise TransportError(f"unknown auth type {kind!r}", permanent=True)
    if not auth.secret:
        raise TransportError(f"{kind} auth needs a secret", permanent=True)
    if kind == "bearer":
        return {"Authorization": f"Bearer {auth.secret}"}, url
    if kind == "basic":
        return {"Authorization": basic_authorization(auth.username, auth.secret)}, url
    if not auth.name:
        raise TransportError(f"{kind} auth needs a name", permanent=True)
    if kind == "header":
        return {auth.name: auth.secret}, url
    return {}, url_extend(url, [(auth.name, auth.secret)])


def basic_authorization(username: str, password: str) -> str:
    """Return the RFC 7617 ``Authorization`` value: ``Basic base64(utf8(user:password))``.

    Raises ``TransportError(permanent=True)`` for an empty user or one containing ":",
    which the scheme cannot carry.
    """
    if not username or ":" in username:
        raise TransportError("basic auth needs a user name without ':'", permanent=True)
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {credentials}"


def oauth_token_request(endpoint_auth: AuthSpec, token_url: str) -> WireRequest:
    """Return the OAuth2 client-credentials token request (RFC 6749 §4.4) for ``token_url``.

    The client id and secret travel in basic auth, form-encoded first as §2.3.1 requires.
    Raises ``TransportError(permanent=True)`` when the client id or secret is empty.
    """
    if not endpoint_auth.username or not endpoint_auth.secret:
        raise TransportError("oauth2 needs a client id and a client secret", permanent=True)
    authorization = basic_authorization(quote_plus(endpoint_auth.username),
                                        quote_plus(endpoint_auth.secret))
    headers = {"Content-Type": FORM_CONTENT_TYPE, "Accept": "application/json",
               "Authorization": authorization}
    return WireRequest("POST", token_url, headers, b"grant_type=client_credentials")


class _TokenAnswer(BaseModel):
    # Lax on purpose: providers send expires_in as a number or a numeric string.
    model_config = ConfigDict(extra="ignore")

    access_token: str = Field(min_length=1)
    token_type: str = "bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: float | None = Field(default=None, gt=0, allow_inf_nan=False)


def oauth_token_parse(status: int, body: bytes) -> tuple[str, float]:
    """Return ``(access_token, expires_in seconds)`` from a token endpoint's answer.

    ``expires_in`` defaults to ``DEFAULT_EXPIRES_IN`` when absent. Raises ``TransportError``:
    permanent for 400/401/403 (bad credentials, RFC 6749 §5.2) and for a token type other
    than bearer; not permanent for any other non-2xx status or an unreadable 2xx body.
    """
    if not 200 <= status < 300:
        detail = _error_detail(body)
        raise TransportError(f"token endpoint answered HTTP {status}{detail}",
                             permanent=status in _CREDENTIAL_STATUSES)
    try:
        answer = _TokenAnswer.model_validate_json(body)
    except ValidationError as error:
        raise TransportError(f"token endpoint answer is unusable: {error.errors()[0]['msg']}"
                             ) from None
    if answer.token_type.lower() != "bearer":
        raise TransportError(f"unsupported token type {answer.token_type!r}", permanent=True)
    return answer.access_token, answer.expires_in or DEFAULT_EXPIRES_IN


def _error_detail(body: bytes) -> str:
    # RFC 6749 §5.2 error answers name the problem; anything else is not worth quoting.
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return ""
    return f" ({error})" if isinstance(error, str) else ""
