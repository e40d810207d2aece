"""Sending a batch of requests with libcurl's multi interface, on the calling thread.

Each thread keeps one ``CurlMulti`` (its keep-alive connection cache) and reusable easy
handles; a process shares its DNS and TLS session caches. The calling thread drives the
transfers itself — event-driven (``socket_action`` over ``poll``, no ``FD_SETSIZE`` limit),
no event-loop thread to hand work to — which is what makes a 50-buyer fan-out cheap and
puts the first request on the wire a fraction of a millisecond after the call.

Why libcurl and not aiohttp: measured on this kind of machine (``bench/fanout_cost.py``),
50 parallel requests cost ~0.8 ms of CPU with pycurl against ~4 ms with aiohttp on uvloop
(~33 ms with requests and threads), and the first request leaves ~0.2 ms after the call
against ~1.5 ms. Those absolute figures were taken on a faster day of this machine (they
moved ~3× between sessions); the ratios held. healthchecks, one of our anchors, uses
pycurl for the same job.
"""

from __future__ import annotations

import heapq
import ipaddress
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import pycurl
from django.conf import settings
from yarl import URL

from apps.core.http.guard import BlockedUrl, address_refusal, checked_url
from apps.core.http.messages import ErrorCode, OutboundRequest, OutboundResponse

AnswerHook = Callable[[int, OutboundResponse], None]
logger = logging.getLogger(__name__)

USER_AGENT = "leadexchange/1"
DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024
DETAIL_MAX_CHARS = 200
LATE_DETAIL = "no complete answer by the deadline"
# Kept-alive connections per thread (libcurl closes the least recently used beyond it).
MAX_CACHED_CONNECTIONS = 200
# While a batch is being built, what was added is put on the wire at least this often: the
# first request (the slowest buyer's) at once, the others within this of being built.
# Measured on the bench (``make bench QUICK=1``): a kick per request spreads the answers so
# they wake the loop one by one (+30 % CPU per fan-out); none until the end adds the build
# time of 50 pings to the slowest ones' wait; 1 ms keeps most of both gains.
KICK_INTERVAL_S = 0.001
BACKSTOP_MS = 1000  # libcurl's own limit past the driver's (``_configure``)
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})
_POLL_IN = select.POLLIN | select.POLLPRI
_POLL_OUT = select.POLLOUT
_POLL_ERR = select.POLLERR | select.POLLHUP | select.POLLNVAL
_WATCH = {pycurl.POLL_IN: _POLL_IN, pycurl.POLL_OUT: _POLL_OUT,
          pycurl.POLL_INOUT: _POLL_IN | _POLL_OUT}
# libcurl's codes for "never got a complete answer from a working connection"
_CONNECT_ERRORS = {pycurl.E_COULDNT_RESOLVE_HOST, pycurl.E_COULDNT_CONNECT,
                   pycurl.E_GOT_NOTHING, pycurl.E_SEND_ERROR, pycurl.E_RECV_ERROR,
                   pycurl.E_SSL_CONNECT_ERROR, pycurl.E_PEER_FAILED_VERIFICATION}


@dataclass(slots=True)
class _Transfer:
    """One request in flight and what has arrived of its answer."""

    index: int
    url: str  # the request's; not the request itself, whose body a kept handle must not hold
    started: float
    limit: float
    cap: int
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    lines: list[bytes] = field(default_factory=list)  # header lines: libcurl appends them
    too_large: bool = False
    blocked: str = ""
    status: int | None = None  # read from libcurl when the transfer ends

    def write(self, chunk: bytes) -> int | None:
        self.size += len(chunk)
        if self.size > self.cap:
            self.too_large = True
            self.chunks.append(chunk[: len(chunk) - (self.size - self.cap)])
            return 0  # a short count makes libcurl abort the transfer (E_WRITE_ERROR)
        self.chunks.append(chunk)
        return None

    def open_socket(self, purpose: int, address: tuple) -> socket.socket | int:
        """The SSRF guard at connect time: every address libcurl resolved is judged."""
        family, socktype, protocol, sockaddr = address
        refusal = address_refusal(ipaddress.ip_address(sockaddr[0]))
        if refusal is not None:
            self.blocked = refusal
            return pycurl.SOCKET_BAD
        return socket.socket(family, socktype, protocol)

    def body(self) -> bytes:
        return self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)


class _Headers(Mapping[str, str]):
    """An answer's headers (lower-case names), parsed from its raw lines on first read: an
    auction reads none of them, so 50 answers do not pay for parsing ~250 lines."""

    __slots__ = ("_lines", "_parsed")

    def __init__(self, lines: list[bytes]) -> None:
        self._lines = lines
        self._parsed: dict[str, str] | None = None

    def _map(self) -> dict[str, str]:
        if self._parsed is None:
            parsed: dict[str, str] = {}
            for line in self._lines:
                text = line.decode("iso-8859-1").rstrip("\r\n")
                if text.startswith("HTTP/"):
                    parsed = {}  # a 100 Continue came first: the real answer follows
                elif ":" in text:
                    name, value = text.split(":", 1)
                    parsed[name.strip().lower()] = value.strip()
            self._parsed = parsed
        return self._parsed

    def __getitem__(self, name: str) -> str:
        return self._map()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._map())

    def __len__(self) -> int:
        return len(self._map())

    def __repr__(self) -> str:
        return repr(self._map())


class _Driver:
    """The multi handle of one thread, and the sockets and timer libcurl asks it to watch."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.multi = pycurl.CurlMulti()
        self.multi.setopt(pycurl.M_MAXCONNECTS, MAX_CACHED_CONNECTIONS)
        self.multi.setopt(pycurl.M_SOCKETFUNCTION, self._watch)
        self.multi.setopt(pycurl.M_TIMERFUNCTION, self._timer)
        self.poller = select.poll()
        self.watched: set[int] = set()
        self.timer_at: float | None = None
        self.idle: list[pycurl.Curl] = []
        self.busy = False  # a batch is being sent with it

    def _watch(self, what: int, fd: int, multi, socketp) -> None:
        if what == pycurl.POLL_REMOVE:
            if fd in self.watched:
                self.poller.unregister(fd)
                self.watched.discard(fd)
            return
        mask = _WATCH[what]
        if fd in self.watched:
            self.poller.modify(fd, mask)
        else:
            self.poller.register(fd, mask)
            self.watched.add(fd)

    def _timer(self, timeout_ms: int) -> None:
        self.timer_at = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000

    def easy(self) -> pycurl.Curl:
        if self.idle:
            return self.idle.pop()
        easy = pycurl.Curl()
        easy.setopt(pycurl.SHARE, _share())
        _configure_once(easy)
        return easy

    def close(self) -> None:
        for easy in self.idle:
            easy.close()
        self.idle.clear()
        self.multi.close()


_local = threading.local()
_share_lock = threading.Lock()
_shared: tuple[int, pycurl.CurlShare] | None = None


def _share() -> pycurl.CurlShare:
    """DNS and TLS session caches for the whole process (connections stay per thread:
    libcurl does not support sharing them between concurrent threads)."""
    global _shared
    with _share_lock:
        if _shared is None or _shared[0] != os.getpid():
            share = pycurl.CurlShare()
            share.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_DNS)
            share.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_SSL_SESSION)
            _shared = (os.getpid(), share)
        return _shared[1]


def _driver() -> _Driver:
    driver = getattr(_local, "driver", None)
    if driver is None or driver.pid != os.getpid():  # a forked child starts afresh
        driver = _local.driver = _Driver()
    return driver


def engine_close() -> None:
    """Drop this thread's connections and handles (tests, worker shutdown)."""
    driver = getattr(_local, "driver", None)
    if driver is not None and driver.pid == os.getpid():
        driver.close()
    _local.driver = None


def request_limit(request: OutboundRequest, started: float, deadline: float | None) -> float:
    """The monotonic instant by which ``request`` must be answered."""
    limit = started + request.timeout
    return limit if deadline is None or deadline > limit else deadline


def send_batch(requests: Iterable[OutboundRequest], deadline: float | None,
               on_answer: AnswerHook | None) -> list[OutboundResponse]:
    """Send ``requests`` in parallel; one response each, in order, by each one's limit.

    Each request goes on the wire as soon as it is taken from ``requests`` (a generator
    that builds them lets the first wait for its answer while the rest are built); its
    time, for its limit and its latency, starts then."""
    driver = _driver()
    if driver.busy:  # sent from inside a batch (a generator fetching an OAuth token)
        nested = _Driver()
        try:
            return _send(nested, requests, deadline, on_answer)
        finally:
            nested.close()
    driver.busy = True
    try:
        return _send(driver, requests, deadline, on_answer)
    finally:
        driver.busy = False


def _send(driver: _Driver, requests: Iterable[OutboundRequest], deadline: float | None,
          on_answer: AnswerHook | None) -> list[OutboundResponse]:
    cap = getattr(settings, "HTTP_MAX_RESPONSE_BYTES", DEFAULT_MAX_RESPONSE_BYTES)
    results: list[OutboundResponse | None] = []
    live: dict[pycurl.Curl, _Transfer] = {}
    kicked = float("-inf")

    def finish(index: int, response: OutboundResponse, *, answered: bool = True) -> None:
        results[index] = response
        if answered and on_answer is not None:
            try:
                on_answer(index, response)
            except Exception:  # the caller's hook must not break the batch
                logger.exception("on_answer hook failed")

    try:
        for index, request in enumerate(requests):
            results.append(None)
            started = time.monotonic()
            limit = request_limit(request, started, deadline)
            try:
                url = checked_url(request.url)
            except BlockedUrl as exc:
                finish(index, _failure(started, "blocked", str(exc)), answered=False)
                continue
            if limit <= started:
                finish(index, _failure(started, "timeout", "no time left before the deadline"),
                       answered=False)
                continue
            transfer = _Transfer(index, request.url, started, limit, cap)
            easy = driver.easy()
            _configure(easy, request, str(url), transfer, limit - started)
            live[easy] = transfer
            driver.multi.add_handle(easy)
            if started - kicked >= KICK_INTERVAL_S:  # what was added goes on the wire now
                driver.multi.socket_action(pycurl.SOCKET_TIMEOUT, 0)
                if driver.watched:
                    # and what is under way moves on: a connection that has opened since
                    # gets its request written, an answer that came is read and handled
                    _act(driver.multi, driver.poller.poll(0))
                    _collect(driver, live, finish)
                kicked = started
        _drive(driver, live, finish)
    finally:
        for easy, transfer in live.items():  # out of time: give up on what is left
            driver.multi.remove_handle(easy)
            _recycle(driver, easy, transfer)
            if results[transfer.index] is None:
                finish(transfer.index, _failure(transfer.started, "timeout", LATE_DETAIL),
                       answered=False)
    return [r if r is not None else _failure(time.monotonic(), "timeout", LATE_DETAIL)
            for r in results]


def _drive(driver: _Driver, live: dict[pycurl.Curl, _Transfer],
           finish: Callable[..., None]) -> None:
    multi = driver.multi
    multi.socket_action(pycurl.SOCKET_TIMEOUT, 0)
    # every transfer's limit, soonest first; entries of transfers already done are skipped
    limits = sorted((t.limit, t.index, easy) for easy, t in live.items())
    while live:
        _collect(driver, live, finish)
        now = time.monotonic()
        if limits and limits[0][0] <= now and driver.watched:
            # Before anyone is cut, read what has already arrived: an answer that came in
            # time while this thread waited for the interpreter (other requests' threads
            # hold it under load) is a bid, not a timeout. Only what is in the socket
            # buffers now is read — nothing is waited for.
            _act(multi, driver.poller.poll(0))
            _collect(driver, live, finish)
        while limits and (limits[0][2] not in live or limits[0][0] <= now):
            limit, _, easy = heapq.heappop(limits)
            transfer = live.pop(easy, None)
            if transfer is None:
                continue
            multi.remove_handle(easy)
            _recycle(driver, easy, transfer)
            finish(transfer.index, _failure(
                transfer.started, "timeout",
                f"no complete answer after {1000 * (limit - transfer.started):.0f} ms"),
                answered=False)
        if not live:
            return
        wake = limits[0][0]
        if driver.timer_at is not None:
            wake = min(wake, driver.timer_at)
        wait_ms = max(0, int((wake - time.monotonic()) * 1000 + 0.999))
        events = driver.poller.poll(wait_ms) if driver.watched else _sleep(wait_ms)
        if not events:
            driver.timer_at = None
            multi.socket_action(pycurl.SOCKET_TIMEOUT, 0)
        _act(multi, events)
        if driver.timer_at is not None and driver.timer_at <= time.monotonic():
            driver.timer_at = None
            multi.socket_action(pycurl.SOCKET_TIMEOUT, 0)


def _act(multi: pycurl.CurlMulti, events: list[tuple[int, int]]) -> None:
    """Let libcurl read and write the sockets ``poll`` found ready."""
    for fd, mask in events:
        flags = ((pycurl.CSELECT_IN if mask & _POLL_IN else 0)
                 | (pycurl.CSELECT_OUT if mask & _POLL_OUT else 0)
                 | (pycurl.CSELECT_ERR if mask & _POLL_ERR else 0))
        multi.socket_action(fd, flags)


def _sleep(wait_ms: int) -> list:
    time.sleep(wait_ms / 1000)
    return []


def _collect(driver: _Driver, live: dict[pycurl.Curl, _Transfer],
             finish: Callable[[int, OutboundResponse], None]) -> None:
    while True:
        queued, succeeded, failed = driver.multi.info_read()
        for easy in succeeded:
            transfer = live.pop(easy)
            transfer.status = easy.getinfo(pycurl.RESPONSE_CODE) or None
            driver.multi.remove_handle(easy)
            response = _answer(transfer)
            _recycle(driver, easy, transfer)
            finish(transfer.index, response)
        for easy, errno, message in failed:
            transfer = live.pop(easy)
            transfer.status = easy.getinfo(pycurl.RESPONSE_CODE) or None
            driver.multi.remove_handle(easy)
            response = _error(transfer, errno, message)
            _recycle(driver, easy, transfer)
            finish(transfer.index, response)
        if not queued:
            return


def _configure_once(easy: pycurl.Curl) -> None:
    """The options every request of the engine shares, set when a handle is made: handles
    are reused without ``reset`` (``_recycle``), so only what varies is set per request."""
    easy.setopt(pycurl.ACCEPT_ENCODING, "")  # decoded by libcurl; the cap counts decoded
    easy.setopt(pycurl.NOSIGNAL, 1)
    easy.setopt(pycurl.FOLLOWLOCATION, 0)
    easy.setopt(pycurl.PROXY, "")  # never a proxy from the environment
    easy.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)


def _configure(easy: pycurl.Curl, request: OutboundRequest, url: str, transfer: _Transfer,
               seconds: float) -> None:
    """Every option that varies between requests, each set on every request (the handle
    keeps its previous request's values otherwise)."""
    easy.setopt(pycurl.URL, url)
    method = request.method.upper()
    if method == "GET":
        easy.setopt(pycurl.HTTPGET, 1)
    else:
        easy.setopt(pycurl.POSTFIELDSIZE, len(request.body))
        easy.setopt(pycurl.COPYPOSTFIELDS, request.body)
    easy.setopt(pycurl.CUSTOMREQUEST, None if method in ("GET", "POST") else method)
    headers = [f"{name}: {value}" for name, value in request.headers.items()]
    if not any(name.lower() == "user-agent" for name in request.headers):
        headers.append(f"User-Agent: {USER_AGENT}")
    headers.append("Expect:")  # no 100-continue round trip before a large body
    easy.setopt(pycurl.HTTPHEADER, headers)
    easy.setopt(pycurl.WRITEFUNCTION, transfer.write)
    easy.setopt(pycurl.HEADERFUNCTION, transfer.lines.append)
    easy.setopt(pycurl.OPENSOCKETFUNCTION, transfer.open_socket)
    easy.setopt(pycurl.MAXFILESIZE_LARGE, transfer.cap)
    # libcurl's own limit is only a backstop: the driver cuts on time. It is well past ours
    # so that an answer that arrived in time is still read when the thread comes back late
    # (``_drive``): libcurl fails a transfer past its limit even with the answer in hand.
    easy.setopt(pycurl.TIMEOUT_MS, max(1, int(seconds * 1000) + BACKSTOP_MS))


def _recycle(driver: _Driver, easy: pycurl.Curl, transfer: _Transfer) -> None:
    """Put ``easy`` back for the next request, without ``reset`` (which undoes every option,
    to be set again: ~4 µs a request). Nothing of this request stays with the idle handle:
    its callbacks still reach ``transfer``, so what arrived of the answer is let go here
    (once its response is built), and libcurl's copy of the body — a post's is the lead,
    PII — is replaced by an empty one."""
    transfer.chunks = []
    easy.setopt(pycurl.POSTFIELDSIZE, 0)
    easy.setopt(pycurl.COPYPOSTFIELDS, b"")
    driver.idle.append(easy)


def _answer(transfer: _Transfer) -> OutboundResponse:
    status = transfer.status
    if status is not None and 300 <= status < 400:
        target = _location_host(_Headers(transfer.lines).get("location", ""),
                                transfer.url)
        return _response(transfer, b"", "redirect", f"redirect to {target} not followed")
    return _response(transfer, transfer.body())


def _error(transfer: _Transfer, errno: int, message: str) -> OutboundResponse:
    if transfer.blocked:
        return _failure(transfer.started, "blocked", transfer.blocked)
    if errno == pycurl.E_FILESIZE_EXCEEDED and "content-length" in _Headers(transfer.lines):
        return _response(transfer, b"", "too_large",  # announced: nothing was read
                         f"Content-Length is over the {transfer.cap}-byte cap")
    if transfer.too_large or errno == pycurl.E_FILESIZE_EXCEEDED:
        return _response(transfer, transfer.body()[: transfer.cap], "too_large",
                         f"body is over the {transfer.cap}-byte cap")
    if errno == pycurl.E_OPERATION_TIMEDOUT:
        return _failure(transfer.started, "timeout", message)
    if errno in _CONNECT_ERRORS:
        return _failure(transfer.started, "connect", message)
    return _failure(transfer.started, "protocol", f"curl {errno}: {message}")


def _location_host(location: str, base: str) -> str:
    if not location:
        return "(no Location)"
    try:
        return URL(base).join(URL(location)).host or "(no host)"
    except (TypeError, ValueError):
        return "(unparseable Location)"


def _response(transfer: _Transfer, body: bytes, error: ErrorCode | None = None,
              detail: str = "") -> OutboundResponse:
    return OutboundResponse(transfer.status, _Headers(transfer.lines), body,
                            1000 * (time.monotonic() - transfer.started), error,
                            detail[:DETAIL_MAX_CHARS])


def _failure(started: float, error: ErrorCode, detail: str) -> OutboundResponse:
    return OutboundResponse(None, _NO_HEADERS, b"", 1000 * (time.monotonic() - started),
                            error, detail[:DETAIL_MAX_CHARS])
