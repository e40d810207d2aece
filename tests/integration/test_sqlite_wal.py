"""WAL checkpoints off the request path: the pragma on each connection, the background thread."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

from apps.core.sqlite_backend import checkpoints
from apps.core.sqlite_backend.base import DatabaseWrapper

pytestmark = pytest.mark.django_db


def _in_database_file(path: Path) -> int | None:
    """Rows of ``t`` in the database file itself, ignoring the WAL (None: no table there)."""
    db = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return db.execute("SELECT count(*) FROM t").fetchone()[0]
    except sqlite3.OperationalError:
        return None
    finally:
        db.close()


def test_a_connection_leaves_checkpoints_to_the_background_thread(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "wal.sqlite3"
    monkeypatch.setattr(checkpoints, "INTERVAL_S", 0.05)
    settings_dict = {**connections["default"].settings_dict,  # whatever the suite's
                     "ENGINE": "apps.core.sqlite_backend", "NAME": str(path),
                     "OPTIONS": dict(settings.SQLITE_OPTIONS)}
    writer = DatabaseWrapper(dict(settings_dict), alias="wal_writer")
    later = DatabaseWrapper(dict(settings_dict), alias="wal_later")
    try:
        with writer.cursor() as cursor:
            cursor.execute("CREATE TABLE t (x integer)")
            for x in range(10):
                cursor.execute("INSERT INTO t VALUES (%s)", [x])
        assert _in_database_file(path) is None  # all of it still in the WAL

        monkeypatch.setattr(checkpoints, "_offloaded", True)  # as process_tune does
        later.ensure_connection()
        autocheckpoint = later.connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        assert autocheckpoint == 0
        deadline = time.monotonic() + 5
        while _in_database_file(path) != 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _in_database_file(path) == 10  # the thread checkpointed it
    finally:
        writer.close()
        later.close()


def test_nothing_to_offload_for_postgresql_or_an_in_memory_database() -> None:
    default = connections["default"]  # the suite's own: PostgreSQL, or in-memory SQLite
    assert default.vendor == "postgresql" or default.is_in_memory_db()
    before = _checkpointers()
    checkpoints.wal_checkpoints_offload()
    assert _checkpointers() == before


def _checkpointers() -> int:
    return sum(t.name == "sqlite-wal-checkpoint" for t in threading.enumerate())
