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
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Field, Model

_INSERT_BATCH = 500  # rows per statement, well under SQLite's bound-parameter limit


def sql_rows(sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    """The rows a statement returns: a read, or a write with ``RETURNING`` (``%s``
    placeholders)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def sql_unflushed(sql: str) -> str:
    """``sql``, one write, made to commit without waiting for the write-ahead log to reach
    the disk: on PostgreSQL its transaction sets ``synchronous_commit`` off (``SET LOCAL``,
    sent with the statement: no round trip of its own), which saves the flush's wait (about
    0.35 ms at the median here, milliseconds at the tail). Elsewhere it is ``sql`` as it is
    (SQLite's WAL at ``synchronous=NORMAL`` does not wait for the disk either).

    Only for a write whose loss the platform recovers from. Such a commit is as safe as any
    other against everything but a crash of the database server itself, and even then it is
    lost only until the next commit that does wait: that one flushes the log up to itself,
    this write included. Run alone it is its own transaction; inside one, it makes that
    whole transaction's commit not wait. The statement's rows are the write's (the ``SET``
    comes after it)."""
    if _database().vendor != "postgresql":
        return sql
    return f"{sql}; SET LOCAL synchronous_commit TO OFF"


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
    and None pass as they are); no ids are returned.

    On PostgreSQL the rows are streamed with ``COPY … FROM STDIN``: with Django's client-side
    binding an INSERT sends every value as an escaped literal of one long statement, and an
    auction's 50 ping rows (650 values) cost 1.6–2.0 ms of CPU that way against 0.4–0.6 ms
    copied (the same rows, 200 times each in one process). Errors are Django's, as for any
    statement."""
    if not rows:
        return
    db = _database()
    quote = db.ops.quote_name
    names = ", ".join(quote(c) for c in columns)
    if db.vendor == "postgresql":
        db.ensure_connection()
        with db.wrap_database_errors, db.connection.cursor() as cursor, cursor.copy(
                f"COPY {quote(table)} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    head = f"INSERT INTO {quote(table)} ({names}) VALUES "  # noqa: S608
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    with db.cursor() as cursor:
        for start in range(0, len(rows), _INSERT_BATCH):
            batch = rows[start:start + _INSERT_BATCH]
            cursor.execute(head + ", ".join([one] * len(batch)),
                           [value for row in batch for value in row])


def sql_create(instance: Model) -> Model:
    """Insert a new ``instance`` as ``save()`` does — each field's ``pre_save`` and
    ``get_db_prep_save``: ``auto_now_add`` dates, sealed columns, JSON, rounded money — with
    a statement built once per model, and set its id. For a row written on every sale,
    whose ORM insert costs more CPU to compile than to run. No signals are sent: keep it to
    models nothing listens to."""
    return sql_insert_prepare(instance).run()


@dataclass(frozen=True, slots=True)
class PreparedInsert:
    """``sql_create`` in two steps: the values worked out (``sql_insert_prepare``), then the
    statement run (``run``). A writer that must hold the database's write lock (SQLite has
    one) prepares first and takes the lock only to run it."""

    instance: Model
    sql: str
    params: list[Any]
    returning: bool

    def run(self) -> Model:
        """Run the insert on this thread's connection and set the instance's id."""
        db = _database()
        with db.cursor() as cursor:
            cursor.execute(self.sql, self.params)
            self.instance.pk = cursor.fetchone()[0] if self.returning else cursor.lastrowid
        self.instance._state.adding, self.instance._state.db = False, db.alias
        return self.instance

    def unflushed(self) -> PreparedInsert:
        """This insert, its transaction's commit not waiting for the disk (``sql_unflushed``)."""
        return replace(self, sql=sql_unflushed(self.sql))


def sql_insert_prepare(instance: Model) -> PreparedInsert:
    """``sql_create``'s statement and values for ``instance`` (``pre_save`` runs now: an
    ``auto_now_add`` date is this moment), to ``run`` later on the same database."""
    db = _database()
    sql, fields, returning = _insert_plan(type(instance), db.vendor)
    params = [f.get_db_prep_save(f.pre_save(instance, True), db) for f in fields]
    return PreparedInsert(instance, sql, params, returning)


def sql_update_fields(instance: Model, names: Sequence[str]) -> None:
    """``instance.save(update_fields=names)`` as one plain UPDATE by primary key (each
    field's ``pre_save`` and ``get_db_prep_save``, as the ORM does; no signals)."""
    meta = instance._meta
    fields = [cast("Field[Any, Any]", meta.get_field(name)) for name in names]
    sets = ", ".join(f"{_quoted(f)} = %s" for f in fields)
    db = _database()
    params = [f.get_db_prep_save(f.pre_save(instance, False), db) for f in fields]
    sql_write(f"UPDATE {connection.ops.quote_name(meta.db_table)} SET {sets} "  # noqa: S608
              f"WHERE {_quoted(meta.pk)} = %s", [*params, instance.pk])


@functools.cache
def _insert_plan(model: type[Model], vendor: str) -> tuple[str, list, bool]:
    """``model``'s INSERT of every concrete field but an automatic id, and whether it
    returns the new id (else the cursor's ``lastrowid`` is)."""
    meta = model._meta
    fields = [f for f in meta.local_concrete_fields
              if not (f.primary_key and f.db_returning)]
    returning = connection.features.can_return_columns_from_insert
    sql = (f"INSERT INTO {connection.ops.quote_name(meta.db_table)} "  # noqa: S608
           f"({', '.join(_quoted(f) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})"
           + (f" RETURNING {_quoted(meta.pk)}" if returning else ""))
    return sql, fields, returning


def _database() -> Any:
    """This thread's default connection itself: ``django.db.connection`` is a proxy that
    looks it up again on every attribute read, and the fields' converters and
    ``get_db_prep_save`` read several per value."""
    return connections[DEFAULT_DB_ALIAS]


def _quoted(field: Any) -> str:
    return connection.ops.quote_name(field.column)


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
    db = _database()
    plans = [_load_plan(model, db.vendor) for model in models]
    loaded = []
    for row in sql_rows(sql, params):
        instances, start = [], 0
        for model, (names, converters) in zip(models, plans, strict=True):
            values = list(row[start:start + len(names)])
            for index, expression, convert in converters:
                for function in convert:
                    values[index] = function(values[index], expression, db)
            instances.append(model.from_db(db.alias, names, values))
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
