"""OAuth2 client-credentials tokens for buyer endpoints: fetched ahead, never on an auction's
path, shared by every process.

An auction only ever *reads* a token (``oauth_token`` with no wait): from this process's
memory, which costs no I/O. A token that is missing or close to expiry is fetched in the
background (one fetch per credentials at a time in a process), so the ping batch is never
held up by a slow token endpoint: a contract whose token is not ready yet ends that round
with ``error: token unavailable`` and has its token for the next one. Callers that may wait —
the post of a winner, the admin's test ping, health pings — pass ``wait`` seconds.

With ``REDIS_URL`` the tokens are shared: the background fetch first looks in Redis (another
process may hold a fresh one), and otherwise takes a short Redis lock so that of many
processes one asks the token endpoint and the others read its answer. The periodic job
``oauth_tokens_refresh`` (Celery beat, or ``run_periodic`` in the embedded default) renews
every active endpoint's token before it expires.

Nothing here logs a token or a client secret.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from apps.buyers.transports import AuthSpec, TransportError, oauth_token_parse, oauth_token_request
from apps.core.http import OutboundRequest, http_send
from apps.core.logging import kv
from apps.core.redis_client import redis_get

logger = logging.getLogger(__name__)

FETCH_TIMEOUT_S = 10.0  # one token request
_SAFETY_S = 10.0  # a token is not used in the last seconds of its life (clock skew, flight)
_RENEW_SHARE = 0.75  # renewal starts after this share of a token's lifetime
_FAILURE_BACKOFF_S = 5.0  # after a failed fetch, the next one waits at least this long
_LOCK_S = int(FETCH_TIMEOUT_S) + 5  # the cross-process fetch lock outlives one fetch


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    renew_at: float  # wall clock (time.time()): shared across processes
    expires_at: float

    @classmethod
    def issued(cls, value: str, lifetime: float, now: float) -> _Token:
        usable = max(0.0, lifetime - _SAFETY_S)
        return cls(value, now + usable * _RENEW_SHARE, now + usable)


class _Tokens:
    """This process's tokens, and the background fetches under way."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tokens: dict[str, _Token] = {}
        self.fetching: dict[str, Future] = {}
        self.failed_at: dict[str, float] = {}
        self.pool: tuple[int, ThreadPoolExecutor] | None = None

    def executor(self) -> ThreadPoolExecutor:
        if self.pool is None or self.pool[0] != os.getpid():  # a forked child: new threads
            self.pool = (os.getpid(), ThreadPoolExecutor(max_workers=4,
                                                         thread_name_prefix="oauth"))
        return self.pool[1]


_state = _Tokens()


def _key(auth: AuthSpec, token_url: str) -> str:
    """The credentials' cache key: a digest, so no secret is kept in a key name."""
    raw = "\x1f".join((token_url, auth.username, auth.secret)).encode()
    return hashlib.sha256(raw).hexdigest()


def oauth_token(auth: AuthSpec, token_url: str, *, wait: float = 0.0) -> str | None:
    """A valid access token for ``auth`` at ``token_url``, or None when none is ready within
    ``wait`` seconds (0: answer from memory at once, never blocking). A missing or ageing
    token starts a background fetch either way. Raises ``TransportError(permanent=True)``
    for an endpoint without a token URL."""
    if not token_url:
        raise TransportError("OAuth2 needs a token URL.", permanent=True)
    key, now = _key(auth, token_url), time.time()
    with _state.lock:
        token = _state.tokens.get(key)
    if token is not None and now < token.renew_at:
        return token.value
    future = _fetch_soon(key, auth, token_url)
    if token is not None and now < token.expires_at:
        return token.value  # still good: the renewal runs beside it
    if future is None or wait <= 0:
        return None
    try:
        return future.result(timeout=wait)
    except FutureTimeout:
        return None
    except Exception:
        return None


def _fetch_soon(key: str, auth: AuthSpec, token_url: str) -> Future | None:
    """The fetch under way for ``key``, or a new one; None while backing off a failure."""
    with _state.lock:
        running = _state.fetching.get(key)
        if running is not None:
            return running
        if time.time() - _state.failed_at.get(key, 0.0) < _FAILURE_BACKOFF_S:
            return None
        future = _state.executor().submit(_fetch, key, auth, token_url)
        _state.fetching[key] = future
        return future


def _fetch(key: str, auth: AuthSpec, token_url: str) -> str:
    try:
        token = _shared_token(key, auth, token_url)
    except Exception as error:
        with _state.lock:
            _state.failed_at[key] = time.time()
        detail = error.message if isinstance(error, TransportError) else type(error).__name__
        logger.warning(kv("oauth.token_failed", url=token_url.split("?")[0], error=detail))
        raise
    finally:
        with _state.lock:
            _state.fetching.pop(key, None)
    with _state.lock:
        _state.tokens[key] = token
        _state.failed_at.pop(key, None)
    return token.value


def _shared_token(key: str, auth: AuthSpec, token_url: str) -> _Token:
    """A fresh token from Redis when another process holds one, else from the token
    endpoint (one process at a time asks it; the others wait for its answer in Redis)."""
    client = redis_get()
    if client is None:
        return _token_request(auth, token_url)
    name = f"oauth:token:{key}"
    deadline = time.monotonic() + FETCH_TIMEOUT_S
    while True:
        shared = _redis_read(client, name)
        if shared is not None and time.time() < shared.renew_at:
            return shared
        if _redis_lock(client, key):
            break
        if time.monotonic() > deadline:
            break  # the other fetcher is stuck: ask the endpoint ourselves
        time.sleep(0.05)
    token = _token_request(auth, token_url)
    try:
        client.set(name, json.dumps([token.value, token.renew_at, token.expires_at]),
                   exat=max(int(token.expires_at), int(time.time()) + 1))
        client.delete(f"oauth:lock:{key}")
    except Exception as error:
        logger.warning(kv("oauth.share_failed", error=type(error).__name__))
    return token


def _redis_read(client, name: str) -> _Token | None:
    try:
        raw = client.get(name)
    except Exception as error:
        logger.warning(kv("oauth.share_failed", error=type(error).__name__))
        return None
    if raw is None:
        return None
    value, renew_at, expires_at = json.loads(raw)
    return _Token(value, float(renew_at), float(expires_at))


def _redis_lock(client, key: str) -> bool:
    try:
        return bool(client.set(f"oauth:lock:{key}", "1", nx=True, ex=_LOCK_S))
    except Exception:
        return True


def _token_request(auth: AuthSpec, token_url: str) -> _Token:
    """Ask the token endpoint (RFC 6749 §4.4). Raises ``TransportError``."""
    wire = oauth_token_request(auth, token_url)
    response = http_send(OutboundRequest(method=wire.method, url=wire.url, headers=wire.headers,
                                         body=wire.body, timeout=FETCH_TIMEOUT_S))
    if response.error is not None:
        raise TransportError(f"token endpoint: {response.error}", permanent=False)
    value, lifetime = oauth_token_parse(response.status or 0, response.body)
    return _Token.issued(value, lifetime, time.time())


def oauth_token_renew(auth: AuthSpec, token_url: str) -> bool:
    """Make sure a token good for a while is ready (the periodic job): fetch it unless this
    process or Redis already has one that is not due for renewal. Blocks up to one fetch.
    Returns whether a token is ready."""
    return oauth_token(auth, token_url, wait=FETCH_TIMEOUT_S + 1) is not None


def oauth_tokens_forget() -> None:
    """Drop this process's tokens and failure back-offs (tests, and staff changing a
    buyer's credentials take effect through the new key anyway)."""
    with _state.lock:
        _state.tokens.clear()
        _state.failed_at.clear()


def oauth_tokens_refresh() -> int:
    """Renew, ahead of expiry, the token of every OAuth2 endpoint of a switched-on contract
    (the periodic job). Returns how many credentials have a token ready."""
    from apps.buyers.models import BuyerStatus, ContractStatus, Endpoint

    credentials = set(
        Endpoint.objects.filter(auth_type="oauth2", contract__status=ContractStatus.ACTIVE,
                                contract__buyer__status=BuyerStatus.ACTIVE)
        .exclude(oauth_token_url="")
        .values_list("oauth_token_url", "auth_username", "auth_secret"))
    return sum(oauth_token_renew(AuthSpec(type="oauth2", username=user, secret=secret), url)
               for url, user, secret in credentials)
