"""Database connections around network waits.

A thread keeps its database connection for as long as it lives; an auction thread that
waits a second for its buyers would hold one of the pool's connections all that time, so
64 waiting auctions need 64 connections and starve everybody else. ``db_release`` gives
the connection back to the pool before such a wait; the next query takes one again.
"""

from __future__ import annotations

from django.db import connection


def db_release() -> None:
    """Return this thread's connection to the pool (PostgreSQL with a pool only: elsewhere
    closing would cost a reconnect). Never inside a transaction."""
    if (connection.vendor == "postgresql" and connection.connection is not None
            and connection.settings_dict.get("OPTIONS", {}).get("pool")
            and not connection.in_atomic_block):
        connection.close()
