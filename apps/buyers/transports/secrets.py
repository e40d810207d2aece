"""A contract's secret values on the wire, and out of everything that is kept or shown.

Secrets (an API token in the body, a vendor key in the query string) are stored apart from the
endpoint configuration (``ContractSecret`` rows) and reach a request in two ways: a mapping
row reading ``@secret.<name>``, or a ``{secret.<name>}`` placeholder in the endpoint's URL or
a header value, filled in here when the request is built. Whatever is stored or shown of a
request or an answer goes through ``SecretMask`` first, which hides every spelling a secret
can take on the wire (raw, URL-encoded, JSON- or XML-escaped, inside a basic-auth header).
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus

from apps.buyers.transports.spec import TransportError

MASK = "***"
PLACEHOLDER = re.compile(r"\{secret\.([A-Za-z_][A-Za-z0-9_]{0,62})\}")
# Query parameters that carry a credential when they hold a literal value: compared with the
# name lower-cased and stripped of "-" and "_" (api_key, API-Key, apikey …).
CREDENTIAL_PARAMS = frozenset({
    "key", "apikey", "token", "apitoken", "accesstoken", "authtoken", "auth", "secret",
    "clientsecret", "password", "passwd", "pwd", "pass", "signature", "sig",
})
# Headers whose whole value is a credential, whatever the secret's spelling inside.
_AUTH_HEADERS = frozenset({"authorization", "proxy-authorization"})


def placeholders_fill(text: str, secrets: Mapping[str, str], *, url: bool) -> str:
    """``text`` with every ``{secret.<name>}`` replaced by that secret (percent-encoded in a
    ``url``). Raises ``TransportError(permanent=True)`` for a name with no secret."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in secrets:
            raise TransportError(f"no secret named {name!r}", permanent=True)
        return quote(secrets[name], safe="") if url else secrets[name]

    return PLACEHOLDER.sub(value, text) if "{secret." in text else text


def is_credential_param(name: str) -> bool:
    """Whether a query parameter of this name holds a credential (see ``CREDENTIAL_PARAMS``)."""
    return name.lower().replace("-", "").replace("_", "") in CREDENTIAL_PARAMS


class SecretMask:
    """Hides secret values in text that is stored or shown: ``mask(text)``.

    Built once per request from the contract's secrets and the endpoint's auth secret; a
    mask with nothing to hide returns text unchanged at no cost. Longer spellings are
    replaced first, so a secret containing another is hidden whole.
    """

    __slots__ = ("_auth_header", "_spellings")

    def __init__(self, values: Iterable[str], *, auth_header: str = "",
                 basic_user: str = "") -> None:
        spellings: set[str] = set()
        for value in values:
            if not value:
                continue
            spellings.update({value, quote(value, safe=""), quote(value), quote_plus(value),
                              json.dumps(value, ensure_ascii=False)[1:-1],
                              json.dumps(value)[1:-1], html.escape(value, quote=False)})
            if basic_user:
                spellings.add(base64.b64encode(f"{basic_user}:{value}".encode()).decode())
        self._spellings = sorted(spellings, key=len, reverse=True)
        self._auth_header = auth_header.lower()

    def __bool__(self) -> bool:
        return bool(self._spellings)

    def __call__(self, text: str) -> str:
        for spelling in self._spellings:
            if spelling in text:
                text = text.replace(spelling, MASK)
        return text

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """``headers`` as they may be shown: an ``Authorization`` value (and the auth
        header's) reduced to its scheme, every other value masked."""
        shown = {}
        for name, value in headers.items():
            lowered = name.lower()
            if lowered in _AUTH_HEADERS:
                scheme, _, credentials = value.partition(" ")
                shown[name] = f"{scheme} {MASK}" if credentials else MASK
            elif lowered == self._auth_header:
                shown[name] = MASK
            else:
                shown[name] = self(value)
        return shown
