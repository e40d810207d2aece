"""SQLite's WAL checkpoints off the request path.

In WAL mode with ``synchronous=NORMAL`` a commit writes the log and nothing else; the only
``fsync`` is the checkpoint, which copies the log back into the database file. By default
SQLite runs it inside whichever commit pushes the log past 1,000 pages, so every hundredth
auction or so paid a few milliseconds of disk wait in the middle of its ping phase (the
bench's spread row: p99 7–8 ms with it, 3–4 ms without).

``wal_checkpoints_offload`` (from ``process_tune``, so in web and worker processes) turns
that off for the process's connections — the backend's ``get_new_connection`` asks
``connection_prepare`` — and checkpoints from a daemon thread every ``INTERVAL_S`` instead,
on its own connection. The ``PASSIVE`` mode never blocks a reader or a writer; the other
processes' threads do the same, and whoever finds a checkpoint running skips its turn.
Processes that do not call it (management commands, tests) keep SQLite's own checkpoints,
so the log cannot grow without bound anywhere.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time

from django.db import connections
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteDatabaseWrapper

logger = logging.getLogger(__name__)

INTERVAL_S = 1.0
_lock = threading.Lock()
_offloaded = False  # this process checkpoints from a thread (process_tune said so)
_started: dict[str, int] = {}  # database file → the pid whose thread checkpoints it


def wal_checkpoints_offload() -> None:
    """Checkpoint this process's SQLite database from a background thread (see above);
    nothing for PostgreSQL or an in-memory database."""
    global _offloaded
    connection = connections["default"]
    if not isinstance(connection, SQLiteDatabaseWrapper) or connection.is_in_memory_db():
        return
    _offloaded = True
    if connection.connection is not None:  # this thread's, opened before
        connection_prepare(connection.connection, str(connection.settings_dict["NAME"]))
    _checkpointer_ensure(str(connection.settings_dict["NAME"]))


def connection_prepare(db: sqlite3.Connection, path: str) -> None:
    """For a new connection to the database file ``path``: no checkpoints inside its
    commits once this process offloads them, and a checkpoint thread in this process (a
    forked gunicorn or Celery worker starts its own)."""
    if _offloaded:
        db.execute("PRAGMA wal_autocheckpoint = 0")
        _checkpointer_ensure(path)


def _checkpointer_ensure(path: str) -> None:
    with _lock:
        if _started.get(path) == os.getpid():
            return
        _started[path] = os.getpid()
    threading.Thread(target=_checkpoint_forever, args=(path,), daemon=True,
                     name="sqlite-wal-checkpoint").start()


def _checkpoint_forever(path: str) -> None:
    db = sqlite3.connect(path, timeout=0, check_same_thread=False, isolation_level=None)
    while True:
        time.sleep(INTERVAL_S)
        try:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:  # busy or locked now; the next turn tries again
            logger.debug("sqlite.checkpoint_skipped error=%s", exc)
