"""Plain SQL for the few statements an auction makes many times a second.

Building and compiling an ORM query costs ~0.3 ms of CPU — as much as running it — and an
auction makes three such reads before its pings can leave; writing its 50 ping rows through
``bulk_create`` costs more CPU than the rest of the auction's bookkeeping together. These
statements are written once, by hand, portable between SQLite and PostgreSQL; everything
else uses the ORM.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection

_INSERT_BATCH = 500  # rows per statement, well under SQLite's bound-parameter limit


def sql_rows(sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    """The rows a statement returns: a read, or a write with ``RETURNING`` (``%s``
    placeholders)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def sql_datetime(value: datetime) -> Any:
    """A datetime as this database stores it (SQLite keeps text), for comparisons."""
    return connection.ops.adapt_datetimefield_value(value)


def sql_in(values: Sequence[Any]) -> str:
    """``(%s, %s, …)`` for an IN list of ``values`` (never empty)."""
    return "(" + ", ".join(["%s"] * len(values)) + ")"


def sql_insert(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows`` into ``table`` in as few statements as possible. Values must already
    be in the database's form (``sql_datetime`` for datetimes; Decimals, numbers, strings
    and None pass as they are); no ids are returned."""
    quote = connection.ops.quote_name
    head = f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) VALUES "  # noqa: S608
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _INSERT_BATCH):
            batch = rows[start:start + _INSERT_BATCH]
            cursor.execute(head + ", ".join([one] * len(batch)),
                           [value for row in batch for value in row])
