"""What a buyer endpoint is configured with, what goes on the wire, and the transport error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

AUTH_TYPES = ("none", "header", "bearer", "basic", "query_key", "oauth2")


class TransportError(Exception):
    """A request cannot be built or authenticated.

    ``permanent`` (as in healthchecks' transports) says whether trying again can help: True
    for a configuration the buyer's integration must fix (an XML-invalid key, a header with a
    newline, basic auth without a user), False for a passing condition (no OAuth2 token yet,
    the token endpoint answering 503).
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class AuthSpec:
    """How a request authenticates: ``type`` is one of ``AUTH_TYPES``.

    ``name`` is the header name (``header``) or query parameter (``query_key``); ``username``
    the basic-auth user or OAuth2 client id; ``secret`` the header value, bearer token,
    basic password, query key or OAuth2 client secret.
    """

    type: str = "none"
    name: str = ""
    username: str = ""
    secret: str = ""


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    """A buyer's ping or post endpoint: where, how the payload is encoded, how it authenticates.

    ``body_format`` is ``json``, ``form``, ``xml`` or ``query``; ``xml_root`` names the root
    element of ``xml`` bodies and ``key_style`` how ``form`` and ``query`` bodies spell
    nested keys (``brackets``, ``dotted`` or ``flat``; see ``transports.form``).
    ``timeout_ms`` is for the HTTP layer; the encoders ignore it.
    """

    url: str
    method: str = "POST"
    body_format: str = "json"
    headers: Mapping[str, str] = field(default_factory=dict)
    auth: AuthSpec = AuthSpec()
    timeout_ms: int = 1000
    xml_root: str = "lead"
    key_style: str = "brackets"


@dataclass(frozen=True, slots=True)
class WireRequest:
    """One HTTP request, ready for the outbound HTTP primitive to send as is."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
