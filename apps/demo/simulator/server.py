"""The simulator's HTTP/1.1 server on a raw asyncio Protocol.

Built directly on ``asyncio.Protocol`` so the simulator is never a benchmark's
bottleneck: an immediate answer is parsed, decided and written inside ``data_received``
with no task or coroutine, and a delayed one costs only a loop timer. Requests on one
connection are answered strictly in order (keep-alive and pipelining).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import cast

from apps.demo.simulator.app import Routed, SimulatorApp
from apps.demo.simulator.behaviour import Answer, Silence, Stream, error_answer
from apps.demo.simulator.formats import huge_body
from apps.demo.simulator.http11 import (
    MAX_HEAD_BYTES,
    HttpError,
    HttpRequest,
    find_head_end,
    parse_head,
    response_head,
)
from apps.demo.simulator.request_log import RequestLog

# Requests a client may pipeline before the server stops reading from it.
MAX_PIPELINED = 64
DRIP_INTERVAL_S = 0.05
# Announced by fail=drip so the client keeps waiting for a body that never completes.
DRIP_CONTENT_LENGTH = 10 * 1024 * 1024
HUGE_CHUNK_BYTES = 256 * 1024
# How long a closing connection keeps draining what the client still sends (see _close).
LINGER_S = 2.0
LOG_FLUSH_INTERVAL_S = 1.0
# Enough for thousands of simultaneous connects; the kernel caps it at somaxconn.
LISTEN_BACKLOG = 4096
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def _timer_delay(loop: asyncio.AbstractEventLoop, wait: float) -> float:
    """The ``call_later`` delay that fires no sooner than ``wait`` seconds from now.

    uvloop (libuv) counts a timer from its loop clock, read once per loop iteration and cut
    to the millisecond, and rounds the delay to the millisecond: a plain ``call_later(wait)``
    could answer up to ~1 ms before the requested latency, so a benchmark's lower bound
    would not hold. The clock's lag is added back, and half a millisecond for the rounding.
    """
    lag = time.monotonic() - loop.time()
    return max(0.0, wait) + max(0.0, lag) + 0.0005


class HttpConnection(asyncio.Protocol):
    """One client connection: parses requests, answers them in order, acts out failures."""

    def __init__(self, app: SimulatorApp, connections: set[HttpConnection]) -> None:
        self._app = app
        self._connections = connections
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._head: HttpRequest | None = None  # parsed head still waiting for its body
        self._queue: deque[HttpRequest | HttpError] = deque()
        self._busy = False  # an answer is being delayed or streamed: later ones wait
        self._endless = False  # hanging or dripping until the client goes away
        self._ignoring_input = False
        self._eof = False
        self._closed = False
        self._reading_paused = False
        self._writing_paused = False
        self._drained: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._linger: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    # asyncio.Protocol callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports quack like asyncio.Transport without subclassing it
        self._transport = cast(asyncio.Transport, transport)
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._connections.discard(self)
        for handle in (self._timer, self._linger):
            if handle is not None:
                handle.cancel()
        if self._task is not None:
            self._task.cancel()

    def data_received(self, data: bytes) -> None:
        if self._ignoring_input:
            return
        self._buffer += data
        self._parse()
        self._advance()

    def eof_received(self) -> bool:
        self._eof = True
        if self._closed:
            return False
        # A half-closed client still gets the answers it asked for (return True keeps the
        # transport open); a hanging or dripping one has gone away, so close.
        return not self._endless and (self._busy or bool(self._queue))

    def pause_writing(self) -> None:
        self._writing_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._update_reading()

    def abort(self) -> None:
        """Drop the connection at once (server shutdown)."""
        if self._transport is not None:
            self._transport.abort()

    # reading requests

    def _parse(self) -> None:
        buffer = self._buffer
        while not self._ignoring_input:
            if self._head is None:
                if buffer[:1] in (b"\r", b"\n"):
                    # RFC 9112 asks servers to ignore blank lines before a request line.
                    del buffer[: len(buffer) - len(buffer.lstrip(b"\r\n"))]
                end = find_head_end(buffer)
                if end < 0:
                    if len(buffer) > MAX_HEAD_BYTES:
                        self._refuse(HttpError(431, "request head too large"))
                    return
                try:
                    head = parse_head(bytes(buffer[:end]))
                except HttpError as exc:
                    self._refuse(exc)
                    return
                del buffer[:end]
                if (head.expect_continue and len(buffer) < head.content_length
                        and not self._busy and not self._queue):
                    self._write(CONTINUE)
                self._head = head
            request = self._head
            if len(buffer) < request.content_length:
                return
            if request.content_length:
                request.body = bytes(buffer[: request.content_length])
                del buffer[: request.content_length]
            request.received_at = time.time()
            self._head = None
            self._queue.append(request)

    def _refuse(self, error: HttpError) -> None:
        # Answered in turn after the requests before it, then the connection closes:
        # after a malformed message the rest of the stream cannot be trusted.
        self._queue.append(error)
        self._ignoring_input = True
        self._buffer.clear()

    # answering

    def _advance(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._busy and self._queue and not self._closed:
            item = self._queue.popleft()
            if isinstance(item, HttpError):
                self._answer_error(item)
                return
            routed = self._app.handle(item)
            delay_ms = routed.decision.latency_ms
            if delay_ms > 0:
                self._busy = True
                wait = delay_ms / 1000 - (time.time() - item.received_at)
                self._timer = loop.call_later(_timer_delay(loop, wait), self._after_delay,
                                              item, routed)
            else:
                self._carry_out(item, routed)
        self._update_reading()
        if self._eof and not self._busy and not self._queue:
            self._close()

    def _after_delay(self, request: HttpRequest, routed: Routed) -> None:
        self._timer = None
        self._busy = False
        self._carry_out(request, routed)
        self._advance()

    def _carry_out(self, request: HttpRequest, routed: Routed) -> None:
        action = routed.decision.action
        if isinstance(action, Answer):
            headers = list(action.headers)
            if action.content_type is not None:
                headers.insert(0, ("Content-Type", action.content_type))
            self._write(response_head(action.status, headers, content_length=len(action.body),
                                      keep_alive=request.keep_alive, version=request.version)
                        + action.body)
            self._app.answered(request, routed, time.time(), action.status)
            if not request.keep_alive:
                self._close()
        elif action is Silence.CLOSE:
            self._app.answered(request, routed, time.time(), None)
            self._close()
        elif action is Silence.HANG:
            self._go_endless()
        elif isinstance(action, Stream):
            self._busy = True
            self._app.answered(request, routed, time.time(), 200)
            if action.kind == "drip":
                self._go_endless()
                coroutine = self._drip(request, action)
            else:
                coroutine = self._stream_huge(request, action)
            self._task = asyncio.get_running_loop().create_task(coroutine)

    def _go_endless(self) -> None:
        # Nothing more will be answered on this connection; keep reading only to notice
        # the client leaving, and drop whatever it sends.
        self._busy = True
        self._endless = True
        self._ignoring_input = True
        self._buffer.clear()
        self._queue.clear()
        if self._eof:
            self._close()

    async def _drip(self, request: HttpRequest, stream: Stream) -> None:
        self._write(response_head(200, [("Content-Type", stream.content_type)],
                                  content_length=DRIP_CONTENT_LENGTH,
                                  keep_alive=request.keep_alive, version=request.version))
        while not self._closed:
            await asyncio.sleep(DRIP_INTERVAL_S)
            self._write(b" ")

    async def _stream_huge(self, request: HttpRequest, stream: Stream) -> None:
        body = memoryview(huge_body())
        self._write(response_head(200, [("Content-Type", stream.content_type)],
                                  content_length=len(body), keep_alive=request.keep_alive,
                                  version=request.version))
        for start in range(0, len(body), HUGE_CHUNK_BYTES):
            if self._closed:
                return
            self._write(body[start: start + HUGE_CHUNK_BYTES])
            if self._writing_paused:
                self._drained = asyncio.get_running_loop().create_future()
                await self._drained
        self._task = None
        self._busy = False
        if not request.keep_alive:
            self._close()
        else:
            self._advance()

    def _answer_error(self, error: HttpError) -> None:
        answer = error_answer(error.status, error.message)
        assert answer.content_type is not None
        self._write(response_head(error.status, [("Content-Type", answer.content_type)],
                                  content_length=len(answer.body), keep_alive=False)
                    + answer.body)
        self._close()

    # transport plumbing

    def _write(self, data: bytes | memoryview) -> None:
        if not self._closed and self._transport is not None:
            self._transport.write(data)

    def _close(self) -> None:
        if self._closed or self._transport is None:
            return
        self._closed = True
        self._ignoring_input = True
        if self._eof or not self._transport.can_write_eof():
            self._transport.close()
            return
        # Lingering close: send FIN after the answer but keep reading until the client
        # closes too. Closing a socket with unread input sends a RST, which can destroy
        # the answer (a 400, say) before the client has read it.
        self._transport.write_eof()
        self._linger = asyncio.get_running_loop().call_later(LINGER_S, self._transport.close)

    def _update_reading(self) -> None:
        # Stop reading while the client does not read our answers or has pipelined too
        # much, so a misbehaving client cannot make the server buffer without limit.
        pause = self._writing_paused or len(self._queue) >= MAX_PIPELINED
        if pause != self._reading_paused and not self._closed and self._transport is not None:
            self._reading_paused = pause
            if pause:
                self._transport.pause_reading()
            else:
                self._transport.resume_reading()


def base_url(host: str, port: int) -> str:
    """Return ``http://host:port``, bracketing an IPv6 host."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    seed: int = 1,
    log_path: str | Path | None = None,
    on_ready: Callable[[str], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run a simulator on the current event loop until ``stop`` is set (or forever).

    ``port`` 0 picks a free port; ``on_ready`` is called with the base URL once the
    socket listens. ``log_path`` appends one JSON line per answered ping or post,
    flushed every second and on exit. On exit every connection, hanging ones included,
    is dropped.
    """
    loop = asyncio.get_running_loop()
    request_log = RequestLog(log_path) if log_path is not None else None
    app = SimulatorApp(seed, request_log)
    connections: set[HttpConnection] = set()
    server = await loop.create_server(
        lambda: HttpConnection(app, connections), host, port, backlog=LISTEN_BACKLOG
    )
    flusher = loop.create_task(_flush_periodically(request_log)) if request_log else None
    try:
        if on_ready is not None:
            on_ready(base_url(host, server.sockets[0].getsockname()[1]))
        await (stop if stop is not None else asyncio.Event()).wait()
    finally:
        server.close()
        for connection in list(connections):
            connection.abort()
        await server.wait_closed()
        if flusher is not None:
            flusher.cancel()
        if request_log is not None:
            request_log.close()


async def _flush_periodically(request_log: RequestLog) -> None:
    while True:
        await asyncio.sleep(LOG_FLUSH_INTERVAL_S)
        request_log.flush()
