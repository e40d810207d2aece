"""Django's SQLite backend, with writers queueing for SQLite's single write lock.

SQLite lets one writer in at a time, and one that finds the lock taken polls for it: its
busy handler sleeps 1, 2, 5, 10, … up to 100 ms between tries. With a few dozen request
and auction threads writing small rows, those sleeps — not the writes — made the tails:
async captures waited seconds for their ``202`` under load. Here every write takes a lock
of ours first, so writers wait in line and the next one starts the moment the last is done:

- a thread lock per database file in each process, then an ``flock`` on ``<file>-writer.lock``
  across processes (gunicorn and Celery workers); the kernel wakes the waiter on release;
- held from ``BEGIN IMMEDIATE`` to ``COMMIT``/``ROLLBACK`` for a transaction, and around the
  statement for a write in autocommit mode (INSERT, UPDATE, DELETE, REPLACE);
- a writer that waits in its process's line longer than the connection's ``timeout`` (the
  same setting as SQLite's own) fails with "database is locked", as SQLite would, so a
  mistake that holds a turn never blocks a thread for good.

Reads never take it (WAL lets them run beside the writer). WAL checkpoints leave the
request path too (``checkpoints``). An in-memory database (the test suite's) has one
connection per process and keeps SQLite's own locking. A statement's ``%s`` placeholders
become SQLite's ``?`` once per statement text (``_qmark``), not on every run. Everything
else is Django's backend unchanged; SQLite's busy timeout stays as the fallback for a writer
that does not go through this code (the ``sqlite3`` shell, another program).
"""

from __future__ import annotations

import fcntl
import functools
import os
import threading
from collections.abc import Callable
from typing import Any

from django.db import OperationalError
from django.db.backends.sqlite3 import base

from apps.core.sqlite_backend.checkpoints import connection_prepare

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")


class WriterLock:
    """The write turn for one database file: a thread lock, then an exclusive ``flock``."""

    def __init__(self, path: str) -> None:
        self.path = f"{path}-writer.lock"
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    def acquire(self, timeout: float) -> None:
        """Wait for the turn; after ``timeout`` seconds in this process's line, fail as
        SQLite itself would ("database is locked") instead of waiting forever."""
        if not self._thread_lock.acquire(timeout=timeout):
            raise OperationalError(f"database is locked (no write turn within {timeout:g} s)")
        try:
            fcntl.flock(self._file(), fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def release(self) -> None:
        try:
            fcntl.flock(self._file(), fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def _file(self) -> int:
        # A forked child must not share its parent's open file: flock belongs to it.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            self._pid = os.getpid()
        return self._fd

    def after_fork(self) -> None:
        self._thread_lock = threading.Lock()  # a thread of the parent may have held it
        self._fd = None


_locks: dict[str, WriterLock] = {}
_locks_guard = threading.Lock()


def writer_lock(path: str) -> WriterLock:
    with _locks_guard:
        lock = _locks.get(path)
        if lock is None:
            lock = _locks[path] = WriterLock(path)
        return lock


def _after_fork() -> None:
    global _locks_guard
    _locks_guard = threading.Lock()
    for lock in _locks.values():
        lock.after_fork()


os.register_at_fork(after_in_child=_after_fork)


@functools.lru_cache(maxsize=1024)
def _qmark(query: str) -> str:
    """``query`` with SQLite's ``?`` placeholders, as Django's cursor converts it — with a
    regular expression over the whole text, on every run. An auction's 50-row ping insert
    has 650 placeholders: converting it again each time cost 0.23 M instructions, 6 % of
    the auction (callgrind). The hot statements repeat word for word."""
    return base.FORMAT_QMARK_REGEX.sub("?", query).replace("%%", "%")


class CursorWrapper(base.SQLiteCursorWrapper):
    def convert_query(self, query: str, *, param_names: list[str] | None = None) -> str:
        if param_names is None:
            return _qmark(query)
        return super().convert_query(query, param_names=param_names)


class DatabaseWrapper(base.DatabaseWrapper):
    # Set by Django's ``get_connection_params`` from OPTIONS (Django 5.1+); django-stubs 6.1
    # does not declare it.
    transaction_mode: str | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: WriterLock | None = None  # the write turn this connection holds
        self.execute_wrappers.append(self._write_in_turn)

    def create_cursor(self, name: str | None = None) -> Any:
        return self.connection.cursor(factory=CursorWrapper)

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        db = super().get_new_connection(conn_params)
        if not self.is_in_memory_db():
            connection_prepare(db, os.path.abspath(str(self.settings_dict["NAME"])))
        return db

    def _writer(self) -> WriterLock | None:
        if self.is_in_memory_db():
            return None
        return writer_lock(os.path.abspath(str(self.settings_dict["NAME"])))

    def _writer_take(self) -> bool:
        lock = None if self._held is not None else self._writer()
        if lock is None:
            return False
        lock.acquire(timeout=float(self.settings_dict["OPTIONS"].get("timeout", 5)))
        self._held = lock
        return True

    def _writer_give_back(self) -> None:
        lock, self._held = self._held, None
        if lock is not None:
            lock.release()

    # The four hooks below override private methods of Django's backend, which django-stubs
    # does not declare: hence their ``super()`` calls' ignores.
    def _start_transaction_under_autocommit(self) -> None:
        taken = self._writer_take() if self.transaction_mode == "IMMEDIATE" else False
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # django-stubs: private, undeclared
        except BaseException:
            if taken:
                self._writer_give_back()
            raise

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]  # django-stubs: private, undeclared
        finally:
            self._writer_give_back()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]  # django-stubs: private, undeclared
        finally:
            self._writer_give_back()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]  # django-stubs: private, undeclared
        finally:
            self._writer_give_back()

    def _write_in_turn(self, execute: Callable[..., Any], sql: str, params: Any, many: bool,
                       context: dict[str, Any]) -> Any:
        """An autocommit write waits for its turn; anything else runs as it is."""
        if (self._held is not None or self.connection.in_transaction
                or not sql.lstrip()[:6].upper().startswith(_WRITES)
                or not self._writer_take()):
            return execute(sql, params, many, context)
        try:
            return execute(sql, params, many, context)
        finally:
            self._writer_give_back()
