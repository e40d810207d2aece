"""SQLite writers wait in line for the write lock instead of polling for it."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import OperationalError, connections
from django.db.backends.sqlite3.base import DatabaseWrapper as DjangoSqlite

from apps.core.sqlite_backend.base import DatabaseWrapper, writer_lock

pytestmark = pytest.mark.django_db

THREADS, ROUNDS = 6, 40


def _wrapper_factory(backend: type, path: Path) -> Callable[[], DjangoSqlite]:
    """Connections to the file at ``path`` with the project's SQLite options, but SQLite's
    own busy handler off: a writer that meets SQLite's lock held fails at once instead of
    polling (the wait for our write turn keeps the configured timeout)."""
    options = dict(settings.SQLITE_OPTIONS)
    options["init_command"] += " PRAGMA busy_timeout = 0;"
    settings_dict = {**connections["default"].settings_dict,
                     "ENGINE": "apps.core.sqlite_backend", "NAME": str(path), "OPTIONS": options}
    return lambda: backend(dict(settings_dict), alias="writers")


def _hammer(make: Callable[[], DjangoSqlite]) -> list[Exception]:
    """THREADS threads, each with its own connection, mixing autocommit writes and atomic
    blocks; returns the errors they met."""
    errors: list[Exception] = []
    ready = threading.Barrier(THREADS)

    def work(n: int) -> None:
        db = make()
        try:
            # Opening a connection sets up the WAL index, which wants a moment alone: with no
            # busy handler, connections open one at a time (this is not what is tested).
            lock = writer_lock(db.settings_dict["NAME"])
            lock.acquire(timeout=5)
            try:
                db.ensure_connection()
            finally:
                lock.release()
            ready.wait()
            for i in range(ROUNDS):
                with db.cursor() as cursor:
                    cursor.execute("INSERT INTO t (who, i) VALUES (%s, %s)", [n, i])
                with _Transaction(db), db.cursor() as cursor:
                    cursor.execute("UPDATE c SET n = n + 1")
                    cursor.execute("SELECT n FROM c")
        except OperationalError as exc:
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


class _Transaction:
    """BEGIN (IMMEDIATE) … COMMIT / ROLLBACK on a bare wrapper, as Atomic does."""

    def __init__(self, db: DjangoSqlite) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.ensure_connection()
        self.db._start_transaction_under_autocommit()

    def __exit__(self, kind, value, tb) -> None:
        if kind is None:
            self.db.commit()
        else:
            self.db.rollback()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "writers.sqlite3"
    setup = _wrapper_factory(DatabaseWrapper, path)()
    with setup.cursor() as cursor:
        cursor.execute("CREATE TABLE t (who integer, i integer)")
        cursor.execute("CREATE TABLE c (n integer)")
        cursor.execute("INSERT INTO c VALUES (0)")
    setup.close()
    yield path


def _counts(path: Path) -> tuple[int, int]:
    db = _wrapper_factory(DatabaseWrapper, path)()
    try:
        with db.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM t")
            rows = cursor.fetchone()[0]
            cursor.execute("SELECT n FROM c")
            return rows, cursor.fetchone()[0]
    finally:
        db.close()


def test_concurrent_writers_never_meet_sqlites_lock_held(database: Path) -> None:
    assert _hammer(_wrapper_factory(DatabaseWrapper, database)) == []
    assert _counts(database) == (THREADS * ROUNDS, THREADS * ROUNDS)


def test_without_the_queue_they_do(database: Path) -> None:
    """The control: Django's own backend, with SQLite's busy handler off the same way, fails."""
    errors = _hammer(_wrapper_factory(DjangoSqlite, database))
    assert errors and all("locked" in str(e) for e in errors)


def test_a_forked_child_takes_its_own_turn(database: Path) -> None:
    """Parent and child write at the same time, each through its own flock."""
    make = _wrapper_factory(DatabaseWrapper, database)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its result goes through the pipe, never through pytest
        try:
            ok = _hammer(make) == []
        except BaseException:
            ok = False
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    parent_errors = _hammer(make)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1" and parent_errors == []
    assert _counts(database) == (2 * THREADS * ROUNDS, 2 * THREADS * ROUNDS)


def test_a_writer_that_waits_too_long_fails_as_sqlite_would(database: Path) -> None:
    """A turn held past the connection's timeout is an error ("database is locked"), never
    a thread blocked for good."""
    settings_dict = {**connections["default"].settings_dict,
                     "ENGINE": "apps.core.sqlite_backend", "NAME": str(database),
                     "OPTIONS": {**settings.SQLITE_OPTIONS, "timeout": 0.2}}
    holder = DatabaseWrapper(dict(settings_dict), alias="holder")
    failed: list[Exception] = []

    def write() -> None:
        waiter = DatabaseWrapper(dict(settings_dict), alias="waiter")
        try:
            with waiter.cursor() as cursor:
                cursor.execute("INSERT INTO t (who, i) VALUES (2, 0)")
        except OperationalError as exc:
            failed.append(exc)
        finally:
            waiter.close()

    with _Transaction(holder), holder.cursor() as cursor:
        cursor.execute("INSERT INTO t (who, i) VALUES (1, 0)")
        other = threading.Thread(target=write)
        started = time.monotonic()
        other.start()
        other.join(timeout=5)
        waited = time.monotonic() - started
    holder.close()

    assert not other.is_alive() and waited < 2
    assert len(failed) == 1 and "locked" in str(failed[0])


@pytest.mark.skipif(connections["default"].vendor != "sqlite", reason="SQLite's placeholders")
def test_a_statement_s_placeholders_are_converted_once_per_text():
    """Django converts ``%s`` to ``?`` with a regular expression over the whole statement on
    every run; an auction's 50-row ping insert has 650 of them."""
    from apps.core.sqlite_backend.base import _qmark

    _qmark.cache_clear()
    with connections["default"].cursor() as cursor:
        for n in (1, 2, 3):
            cursor.execute("SELECT %s, '100%%', %s", [n, n * 2])
            assert cursor.fetchone() == (n, "100%", n * 2)

    assert (_qmark.cache_info().misses, _qmark.cache_info().hits) == (1, 2)
