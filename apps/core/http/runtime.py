"""The process's HTTP event loop, and the sync and async entry points that use it.

Django views and Celery tasks are synchronous, so requests run on one asyncio loop in a
daemon thread per process: started on first use, started afresh in a forked child (the
parent's thread does not survive ``fork``), shared by every calling thread so that the
keep-alive pool is shared too.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import os
import threading
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from apps.core.http.client import (
    LATE_DETAIL,
    AnswerHook,
    Pool,
    pool_close,
    pool_open,
    request_limit,
    send_batch,
    unanswered,
)
from apps.core.http.messages import OutboundRequest, OutboundResponse

# How long past its limit a caller still waits for the loop to hand over a batch. The
# loop ends the batch at the limit itself, but its timers wake up to ~1 ms late (epoll
# counts whole milliseconds) and later when it is busy; the caller's own timed wait is
# precise to ~0.2 ms, so it cuts the batch at limit + GRACE_S. Answers the loop had not
# processed by then count as timeouts, as they would when the loop's timer fires.
GRACE_S = 0.001
CLOSE_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class _Runtime:
    pid: int
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    pool: Pool


_runtime: _Runtime | None = None
_lock = threading.Lock()
# Runtimes inherited through fork. Kept, never closed: their sockets are the parent's
# too (closing a TLS one would write to it), and dropping them would let the garbage
# collector try.
_inherited: list[_Runtime] = []


def http_send_many(
    requests: Sequence[OutboundRequest], *, deadline: float | None = None,
    on_answer: AnswerHook | None = None,
) -> list[OutboundResponse]:
    """Send ``requests`` in parallel and return exactly one response each, in order.

    ``deadline`` is a ``time.monotonic()`` instant for the whole batch: each request gets
    ``min(its timeout, deadline - now)``, and the call returns by the deadline (plus
    ``GRACE_S`` and scheduling) whatever the buyers do. Never raises for a network or
    buyer fault. Thread-safe; must not be called on the HTTP loop's own thread.

    ``on_answer(index, response)``, when given, runs on the HTTP loop as each response
    arrives, so the caller's per-answer work (parsing) overlaps the wait for slower buyers
    instead of following the deadline. It must be quick, pure and thread-safe. A response
    the caller is returned may not have been seen by the hook (the batch was cut at the
    deadline first): the caller checks which response its hook saw.
    """
    if not requests:
        return []
    started = time.monotonic()
    runtime = _runtime_get()
    if threading.current_thread() is runtime.thread:
        raise RuntimeError("http_send_many would block the HTTP loop: await the async form")
    results: list[OutboundResponse | None] = [None] * len(requests)
    wait_until = _batch_limit(requests, started, deadline) + GRACE_S
    future = _submit(runtime, send_batch(runtime.pool.session, requests, deadline, results,
                                         on_answer))
    if future is None:
        return _complete(results, started, "the HTTP client was closed")
    try:
        future.result(timeout=max(0.0, wait_until - time.monotonic()))
    except concurrent.futures.TimeoutError:
        future.cancel()
    except Exception as exc:  # the batch cannot fail; a closed loop cancels it
        return _complete(results, started, f"batch ended by {type(exc).__name__}")
    return _complete(results, started, LATE_DETAIL)


def http_send(request: OutboundRequest, *, deadline: float | None = None) -> OutboundResponse:
    """Send one request; ``http_send_many`` of one (same contract)."""
    return http_send_many((request,), deadline=deadline)[0]


async def http_send_many_async(
    requests: Sequence[OutboundRequest], *, deadline: float | None = None
) -> list[OutboundResponse]:
    """``http_send_many`` for a caller inside a running event loop (same contract).

    On the HTTP loop itself the batch runs inline; on any other loop it runs on the
    HTTP loop (one pool per process) and this coroutine awaits it without blocking.
    The first call of a process starts the HTTP loop, blocking for a few milliseconds.
    Cancelling the await cancels the requests in flight.
    """
    if not requests:
        return []
    started = time.monotonic()
    runtime = _runtime_get()
    results: list[OutboundResponse | None] = [None] * len(requests)
    batch = send_batch(runtime.pool.session, requests, deadline, results)
    if asyncio.get_running_loop() is runtime.loop:
        await batch
        return _complete(results, started, LATE_DETAIL)
    wait_until = _batch_limit(requests, started, deadline) + GRACE_S
    submitted = _submit(runtime, batch)
    if submitted is None:
        return _complete(results, started, "the HTTP client was closed")
    future = asyncio.wrap_future(submitted)
    done, _ = await asyncio.wait({future}, timeout=max(0.0, wait_until - time.monotonic()))
    if not done:
        future.cancel()  # propagates to the batch on the HTTP loop
    return _complete(results, started, LATE_DETAIL)


async def http_send_async(
    request: OutboundRequest, *, deadline: float | None = None
) -> OutboundResponse:
    """Send one request from a running event loop (``http_send_many_async`` of one)."""
    return (await http_send_many_async((request,), deadline=deadline))[0]


def http_client_close() -> None:
    """Close this process's connections and stop its HTTP loop (tests, worker shutdown).

    Idempotent; the next send starts a fresh loop. A send racing with the close gets
    ``timeout`` responses rather than an exception. Also runs at interpreter exit.
    """
    global _runtime
    with _lock:
        runtime, _runtime = _runtime, None
    if runtime is None:
        return
    if runtime.pid != os.getpid():
        _inherited.append(runtime)
        return
    if threading.current_thread() is runtime.thread:
        raise RuntimeError("http_client_close cannot run on the HTTP loop")
    future = asyncio.run_coroutine_threadsafe(_shutdown(runtime.pool), runtime.loop)
    with contextlib.suppress(Exception):  # a close must not fail a worker's shutdown
        future.result(CLOSE_TIMEOUT_S)
    runtime.loop.call_soon_threadsafe(runtime.loop.stop)
    runtime.thread.join(CLOSE_TIMEOUT_S)
    if not runtime.thread.is_alive():
        runtime.loop.close()


def _runtime_get() -> _Runtime:
    runtime = _runtime
    # getpid() per call is what notices a fork (Celery prefork, gunicorn --preload).
    if runtime is not None and runtime.pid == os.getpid():
        return runtime
    with _lock:
        return _runtime_start()


def _runtime_start() -> _Runtime:
    global _runtime
    pid = os.getpid()
    runtime = _runtime
    if runtime is not None:
        if runtime.pid == pid:
            return runtime  # another thread started it while we waited for the lock
        _inherited.append(runtime)
    loop = _new_loop()
    thread = threading.Thread(target=_loop_run, args=(loop,), name="leadexchange-http",
                              daemon=True)
    thread.start()
    pool = asyncio.run_coroutine_threadsafe(pool_open(), loop).result()
    _runtime = _Runtime(pid, loop, thread, pool)
    return _runtime


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (it roughly halves the loop's CPU per buyer request), else the
    standard loop; ``HTTP_UVLOOP=False`` forces the standard one."""
    if getattr(settings, "HTTP_UVLOOP", True):
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def _loop_run(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    loop.run_forever()


def _submit(
    runtime: _Runtime, batch: Coroutine[Any, Any, None]
) -> concurrent.futures.Future[None] | None:
    try:
        return asyncio.run_coroutine_threadsafe(batch, runtime.loop)
    except RuntimeError:  # the loop was closed by a concurrent http_client_close()
        batch.close()
        return None


async def _shutdown(pool: Pool) -> None:
    # Cancel the sends still in flight first, so none is destroyed pending by loop.stop().
    current = asyncio.current_task()
    pending = [task for task in asyncio.all_tasks() if task is not current]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    await pool_close(pool)


def _batch_limit(
    requests: Sequence[OutboundRequest], started: float, deadline: float | None
) -> float:
    return max(request_limit(request, started, deadline) for request in requests)


def _complete(
    results: list[OutboundResponse | None], started: float, detail: str
) -> list[OutboundResponse]:
    # Read each slot once: the loop may still be filling them.
    return [result if result is not None else unanswered(started, detail)
            for result in results]


def _lock_renew() -> None:
    # A lock held by another thread at fork time would stay held forever in the child.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_lock_renew)
atexit.register(http_client_close)
