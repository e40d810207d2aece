"""Plain SQL for the few statements an auction makes many times a second.

Building and compiling an ORM query costs ~0.3 ms of CPU — as much as running it — and an
auction makes three such reads before its pings can leave; writing its 50 ping rows through
``bulk_create`` costs more CPU than the rest of the auction's bookkeeping together. These
statements are written once, by hand, portable between SQLite and PostgreSQL; everything
else uses the ORM.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Model

_INSERT_BATCH = 500  # rows per statement, well under SQLite's bound-parameter limit


def sql_rows(sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    """The rows a statement returns: a read, or a write with ``RETURNING`` (``%s``
    placeholders)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def sql_write(sql: str, params: Sequence[Any] = ()) -> int:
    """Run a write that returns no rows; how many rows it changed."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


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


def sql_columns(model: type[Model], alias: str) -> str:
    """Every concrete column of ``model`` as ``alias."column"``, in field order: the
    select list ``sql_models`` reads back."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(f.column)}" for f in model._meta.concrete_fields
                     if f.column)


def sql_models(sql: str, params: Sequence[Any], *models: type[Model]) -> list[tuple[Model, ...]]:
    """The rows of a SELECT whose columns are ``sql_columns`` of each of ``models`` in turn,
    as one instance of each per row, every value converted as the ORM converts it (dates
    on SQLite, sealed columns, JSON). For a hot read whose ORM query costs more CPU to build
    than to run; the instances are ordinary ones (``save`` works)."""
    plans = [_load_plan(model, connection.vendor) for model in models]
    loaded = []
    for row in sql_rows(sql, params):
        instances, start = [], 0
        for model, (names, converters) in zip(models, plans, strict=True):
            values = list(row[start:start + len(names)])
            for index, expression, convert in converters:
                for function in convert:
                    values[index] = function(values[index], expression, connection)
            instances.append(model.from_db(connection.alias, names, values))
            start += len(names)
        loaded.append(tuple(instances))
    return loaded


@functools.cache
def _load_plan(model: type[Model], vendor: str) -> tuple[list[str], list[tuple]]:
    """``model``'s attribute names, and per column that needs one its database converters
    (the backend's, then the field's ``from_db_value``), worked out once per process."""
    names, converters = [], []
    for index, field in enumerate(model._meta.concrete_fields):
        names.append(field.attname)
        expression = field.get_col(model._meta.db_table)
        convert = (connection.ops.get_db_converters(expression)
                   + field.get_db_converters(connection))
        if convert:
            converters.append((index, expression, convert))
    return names, converters
