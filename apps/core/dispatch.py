"""Where background work runs: Celery when a broker is configured, else this process.

- ``background_submit`` runs a function on the process-wide worker thread pool and returns its
  future; a sync capture waits on it for at most the source's budget, so a slow auction
  answers ``202`` and finishes in the background instead of being cut.
- ``task_enqueue`` sends a Celery task after the current transaction commits (so the worker
  sees the rows), or, in the embedded default without a broker, submits it to a pool of this
  process: the auctions' by default, or another named one (``pool="webhook"``), so work that
  may wait on a slow server for seconds (a webhook receiver) never holds an auction thread.
  A pool named ``x`` has ``settings.X_THREADS`` threads.

Work submitted here must be idempotent and recorded in the database first: if the process
dies, the periodic sweeper finds the row and runs it again. For the same reason a broker that
cannot be reached is not the caller's failure: the row is already committed, the send is
logged and dropped, and the sweeper enqueues the work again once the broker is back.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction

from apps.core.logging import kv

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_pools: dict[str, tuple[int, ThreadPoolExecutor]] = {}


def _executor(pool: str) -> ThreadPoolExecutor:
    with _lock:
        entry = _pools.get(pool)
        if entry is None or entry[0] != os.getpid():  # a forked child needs its own threads
            entry = _pools[pool] = (os.getpid(), ThreadPoolExecutor(
                max_workers=getattr(settings, f"{pool.upper()}_THREADS"),
                thread_name_prefix=pool))
        return entry[1]


def _run_with_connection(fn: Callable[..., Any], *args: Any) -> Any:
    close_old_connections()
    try:
        return fn(*args)
    finally:
        # as at the end of a request: back to the pool (PostgreSQL), kept for this thread's
        # next job (SQLite), closed if the job left it broken or in a transaction
        close_old_connections()


def background_submit(fn: Callable[..., Any], *args: Any, pool: str = "auction") -> Future:
    """Run ``fn(*args)`` on the thread pool ``pool`` of this process; returns its future."""
    return _executor(pool).submit(_run_with_connection, fn, *args)


def task_enqueue(task: Any, *args: Any, pool: str = "auction") -> None:
    """Run a Celery ``task`` with ``args`` once the current transaction commits (without a
    broker: on the in-process pool ``pool``). Never raises for the broker: a send that fails
    is logged (``task.enqueue_failed``) and left to the sweeper, which finds the committed
    row and enqueues it again."""
    if settings.CELERY_BROKER_URL:
        transaction.on_commit(lambda: _send(task, args))
    elif settings.RUN_TASKS_INLINE:
        transaction.on_commit(lambda: task(*args))
    else:
        transaction.on_commit(lambda: background_submit(task, *args, pool=pool))


def _send(task: Any, args: tuple) -> None:
    try:
        task.delay(*args)
    except Exception as error:  # kombu's OperationalError, redis errors, timeouts alike
        logger.warning(kv("task.enqueue_failed", task=task.name, args=",".join(map(str, args)),
                          error=type(error).__name__))
