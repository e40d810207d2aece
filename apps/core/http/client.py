"""The async core: one hardened aiohttp session and the send of one request or a batch.

Everything here runs on the event loop that owns the session (see ``runtime``). A send
never raises for a network or buyer fault: each request ends as exactly one
``OutboundResponse``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import aiohttp
from django.conf import settings
from yarl import URL

from apps.core.http.guard import BlockedAddress, BlockedUrl, GuardedResolver, checked_url
from apps.core.http.messages import ErrorCode, OutboundRequest, OutboundResponse

USER_AGENT = "leadexchange/1"
DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024
DEFAULT_MAX_CONNECTIONS = 1000
DEFAULT_MAX_CONNECTIONS_PER_HOST = 500
# Shorter than the idle timeout of most servers (nginx 75 s), so we rarely reuse a
# connection the buyer has just closed; longer than the gap between auctions.
KEEPALIVE_S = 30.0
DETAIL_MAX_CHARS = 200
LATE_DETAIL = "no complete answer by the deadline"
# CPython before 3.12.8 (and 3.13.0) leaks TLS transports that are closed mid-exchange,
# which is what cutting off a slow HTTPS buyer does; aiohttp then aborts them itself.
# Later versions are fixed, and aiohttp warns when asked.
TLS_CLEANUP_NEEDED = sys.version_info < (3, 12, 8) or (3, 13, 0) <= sys.version_info < (3, 13, 1)

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})
AnswerHook = Callable[[int, OutboundResponse], None]
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Pool:
    """The session (and the resolver it does not own) that every request of a loop shares."""

    session: aiohttp.ClientSession
    resolver: GuardedResolver


async def pool_open() -> Pool:
    """Return a new ``Pool``. Call on the loop that will use it.

    No cookies, no proxies from the environment, no redirects (per request), no
    aiohttp timeouts (``send_one`` enforces a total one), a guarded resolver with a DNS
    cache, and a keep-alive pool sized by ``HTTP_MAX_CONNECTIONS`` (total) and
    ``HTTP_MAX_CONNECTIONS_PER_HOST``; a request that finds the pool full waits for a
    slot inside its own deadline.
    """
    resolver = GuardedResolver()
    connector = aiohttp.TCPConnector(
        limit=getattr(settings, "HTTP_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS),
        limit_per_host=getattr(
            settings, "HTTP_MAX_CONNECTIONS_PER_HOST", DEFAULT_MAX_CONNECTIONS_PER_HOST
        ),
        keepalive_timeout=KEEPALIVE_S,
        resolver=resolver,
        use_dns_cache=True,
        enable_cleanup_closed=TLS_CLEANUP_NEEDED,
    )
    session = aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
        timeout=aiohttp.ClientTimeout(total=None),
    )
    return Pool(session, resolver)


async def pool_close(pool: Pool) -> None:
    """Close every connection of ``pool``, then its resolver."""
    await pool.session.close()
    await pool.resolver.close()


def request_limit(request: OutboundRequest, started: float, deadline: float | None) -> float:
    """Return the monotonic instant by which ``request`` must be answered."""
    limit = started + request.timeout
    return limit if deadline is None or deadline > limit else deadline


async def send_batch(
    session: aiohttp.ClientSession,
    requests: Sequence[OutboundRequest],
    deadline: float | None,
    results: list[OutboundResponse | None],
    on_answer: AnswerHook | None = None,
) -> None:
    """Send ``requests`` in parallel, storing response ``i`` into ``results[i]``.

    Each result is stored as soon as it is known, so a caller that stops waiting early
    (see ``runtime``) keeps every answer that did arrive. Returns, with every slot
    filled, once all are answered or at the latest request limit, whichever is first;
    requests still in flight then are stored as ``timeout`` and cancelled without being
    waited for. Cancelling it cancels the requests in flight. ``on_answer(i, response)``
    runs on the loop as each answer is stored (see ``http_send_many``).
    """
    started = time.monotonic()
    if len(requests) == 1:
        # One request (a post, a token fetch): no task to create.
        request = requests[0]
        results[0] = await send_one(session, request, request_limit(request, started, deadline))
        _answered(on_answer, 0, results[0])
        return

    async def send_into(index: int, request: OutboundRequest, limit: float) -> None:
        response = await send_one(session, request, limit)
        if results[index] is None:  # else the batch already gave up on it
            results[index] = response
            _answered(on_answer, index, response)

    loop = asyncio.get_running_loop()
    limits = [request_limit(request, started, deadline) for request in requests]
    tasks = [loop.create_task(send_into(i, request, limit))
             for i, (request, limit) in enumerate(zip(requests, limits, strict=True))]
    try:
        # The batch keeps its own clock: at the limit it returns at once, instead of
        # after every late request has unwound its cancellation (a loop turn or two per
        # request, that would all be added to the decision time).
        await asyncio.wait(tasks, timeout=max(limits) - time.monotonic())
    finally:
        for index, task in enumerate(tasks):
            if not task.done():
                task.cancel()
                if results[index] is None:
                    results[index] = unanswered(started, LATE_DETAIL)


def _answered(on_answer: AnswerHook | None, index: int, response: OutboundResponse) -> None:
    if on_answer is None:
        return
    try:
        on_answer(index, response)
    except Exception:  # a caller's hook must not break the batch; the caller redoes it
        logger.exception("on_answer hook failed")


async def send_one(
    session: aiohttp.ClientSession, request: OutboundRequest, limit: float
) -> OutboundResponse:
    """Send ``request`` and read its answer, all before the monotonic instant ``limit``.

    Never raises, except ``CancelledError`` when the caller cancels it.
    """
    started = time.monotonic()
    if limit <= started:
        return _failure(started, "timeout", "no time left before the deadline")
    try:
        url = checked_url(request.url)
        async with asyncio.timeout_at(limit):
            response = await session.request(
                request.method,
                url,
                headers=request.headers or None,
                data=request.body or None,
                allow_redirects=False,
            )
            try:
                return await _read(response, started)
            finally:
                # After a complete read the connection has already gone back to the pool
                # and this is a no-op; otherwise (too large, cancelled) it is dropped, so
                # a half-read body can never leak into the next request.
                response.close()
    except BlockedUrl as exc:
        return _failure(started, "blocked", str(exc))
    except TimeoutError:
        return _failure(started, "timeout",
                        f"no complete answer after {1000 * (limit - started):.0f} ms")
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, BlockedAddress):
            return _failure(started, "blocked", str(exc.os_error))
        return _failure(started, "connect", str(exc))
    except (aiohttp.ClientConnectionError, OSError) as exc:
        # Reset, refused, or closed before any answer (ServerDisconnectedError).
        return _failure(started, "connect", f"{type(exc).__name__}: {exc}")
    except aiohttp.ClientError as exc:
        # Malformed status line or headers, truncated or badly chunked body.
        return _failure(started, "protocol", f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # a buyer must never crash the auction
        return _failure(started, "protocol", f"unexpected {type(exc).__name__}: {exc}")


async def _read(response: aiohttp.ClientResponse, started: float) -> OutboundResponse:
    status = response.status
    headers = {name.lower(): value for name, value in response.headers.items()}
    if 300 <= status < 400:
        # Not followed, and its body not read: the connection is dropped instead.
        target = _location_host(headers.get("location", ""), response.url)
        return _answer(status, headers, b"", started, "redirect",
                       f"redirect to {target} not followed")
    cap = getattr(settings, "HTTP_MAX_RESPONSE_BYTES", DEFAULT_MAX_RESPONSE_BYTES)
    length = response.content_length
    if length is not None and length > cap:
        return _answer(status, headers, b"", started, "too_large",
                       f"Content-Length {length} is over the {cap}-byte cap")
    if length is not None and "content-encoding" not in headers:
        # Known, within the cap and not compressed (so it cannot inflate past the cap):
        # the common case reads in one call.
        body = await response.read()
        return _answer(status, headers, body, started)
    content = response.content
    chunks: list[bytes] = []
    size = 0
    while not content.at_eof():
        # Ask for at most one byte past the cap: that byte proves "too large" without
        # buffering the rest (it also bounds decompression per read).
        chunk = await content.read(cap + 1 - size)
        size += len(chunk)
        chunks.append(chunk)
        if size > cap:
            body = b"".join(chunks)[:cap]
            return _answer(status, headers, body, started, "too_large",
                           f"body is over the {cap}-byte cap")
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return _answer(status, headers, body, started)


def _location_host(location: str, base: URL) -> str:
    if not location:
        return "(no Location)"
    try:
        target = base.join(URL(location))
    except (TypeError, ValueError):
        return "(unparseable Location)"
    return target.host or "(no host)"


def _answer(
    status: int,
    headers: dict[str, str],
    body: bytes,
    started: float,
    error: ErrorCode | None = None,
    detail: str = "",
) -> OutboundResponse:
    return OutboundResponse(status, headers, body, 1000 * (time.monotonic() - started),
                            error, detail[:DETAIL_MAX_CHARS])


def _failure(started: float, error: ErrorCode, detail: str) -> OutboundResponse:
    return OutboundResponse(None, _NO_HEADERS, b"", 1000 * (time.monotonic() - started),
                            error, detail[:DETAIL_MAX_CHARS])


def unanswered(started: float, detail: str) -> OutboundResponse:
    """Return the ``timeout`` response of a request its caller stopped waiting for."""
    return _failure(started, "timeout", detail)
