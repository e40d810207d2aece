"""Plain SQL for the few reads on an auction's critical path.

Building and compiling an ORM query costs ~0.3 ms of CPU — as much as running it — and an
auction makes three such reads before its pings can leave. These read-only statements are
written once, by hand, portable between SQLite and PostgreSQL; everything else uses the ORM.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection


def sql_rows(sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    """The rows of a read-only statement (``%s`` placeholders)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def sql_datetime(value: datetime) -> Any:
    """A datetime as this database stores it (SQLite keeps text), for comparisons."""
    return connection.ops.adapt_datetimefield_value(value)


def sql_in(values: Sequence[Any]) -> str:
    """``(%s, %s, …)`` for an IN list of ``values`` (never empty)."""
    return "(" + ", ".join(["%s"] * len(values)) + ")"
