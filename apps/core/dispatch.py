"""Where background work runs: Celery when a broker is configured, else this process.

- ``background_submit`` runs a function on the process-wide worker thread pool and returns its
  future; a sync capture waits on it for at most the source's budget, so a slow auction
  answers ``202`` and finishes in the background instead of being cut.
- ``task_enqueue`` sends a Celery task after the current transaction commits (so the worker
  sees the rows), or, in the embedded default without a broker, submits it to the same pool.

Work submitted here must be idempotent and recorded in the database first: if the process
dies, the periodic sweeper finds the row and runs it again.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections, transaction

_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None or _pool[0] != os.getpid():  # a forked child needs its own threads
            _pool = (os.getpid(), ThreadPoolExecutor(
                max_workers=settings.AUCTION_THREADS, thread_name_prefix="auction"))
        return _pool[1]


def _run_with_connection(fn: Callable[..., Any], *args: Any) -> Any:
    close_old_connections()
    try:
        return fn(*args)
    finally:
        connections.close_all()  # back to the pool (PostgreSQL) or closed: never leaked


def background_submit(fn: Callable[..., Any], *args: Any) -> Future:
    """Run ``fn(*args)`` on the worker thread pool; returns its future."""
    return _executor().submit(_run_with_connection, fn, *args)


def task_enqueue(task: Any, *args: Any) -> None:
    """Run a Celery ``task`` with ``args`` once the current transaction commits."""
    if settings.CELERY_BROKER_URL:
        transaction.on_commit(lambda: task.delay(*args))
    elif settings.RUN_TASKS_INLINE:
        transaction.on_commit(lambda: task(*args))
    else:
        transaction.on_commit(lambda: background_submit(task, *args))
