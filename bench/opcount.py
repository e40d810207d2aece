"""Redis commands and PostgreSQL row writes a batch of leads costs, for the capacity model.

- **Redis**: ``MONITOR`` on a connection of its own, for the batch only (it slows Redis, so
  never during a throughput step), counting the commands run on the bench's Redis database
  by clients on the namespaces' subnet and by the Lua scripts they call (``lua``): the
  harness, on loopback, and anybody else's database are left out, which ``INFO
  commandstats`` (server-wide) could not do; its difference is kept beside, as a
  cross-check. An idle window measured just before gives the workers' own polling rate,
  taken off the batch's count.
- **PostgreSQL**: ``pg_stat_database`` of the bench database before and after (rows
  inserted, updated, deleted; transactions). Backends report their counts when idle, at
  most ``STATS_FLUSH_S`` late, so the reads wait that long.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

STATS_FLUSH_S = 11.0  # PostgreSQL's idle stats flush interval is 10 s
LEADS = 100  # the batch ``ops_count`` sends
_LINE = re.compile(r'^\+[\d.]+ \[(\d+) ([^\]]+)\] "([^"]+)"')


def monitor_line_counted(line: str, db: int, address_prefix: str) -> str | None:
    """The command name of a ``MONITOR`` line when it counts (run on database ``db`` by a
    client whose address starts with ``address_prefix``, or by a Lua script), else None."""
    match = _LINE.match(line)
    if match is None or int(match.group(1)) != db:
        return None
    client = match.group(2)
    if client == "lua" or client.startswith(address_prefix):
        return match.group(3).upper()
    return None


@dataclass
class RedisMonitor:
    """Counts commands (see ``monitor_line_counted``) between ``start`` and ``stop``."""

    db: int
    address_prefix: str
    host: str = "127.0.0.1"
    port: int = 6379
    counts: Counter[str] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=5)
        sock.sendall(b"MONITOR\r\n")
        sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._read, args=(sock,), daemon=True)
        self._thread.start()

    def _read(self, sock: socket.socket) -> None:
        pending = b""
        with sock:
            while not self._stop.is_set():
                try:
                    chunk = sock.recv(1 << 16)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                *lines, pending = (pending + chunk).split(b"\r\n")
                for line in lines:
                    name = monitor_line_counted(line.decode(errors="replace"), self.db,
                                                self.address_prefix)
                    if name:
                        self.counts[name] += 1

    def stop(self) -> Counter[str]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        return self.counts


def redis_per_lead(idle: Counter[str], idle_s: float, busy: Counter[str], busy_s: float,
                   leads: int) -> dict[str, Any]:
    """Commands per lead: the batch's count less the idle rate over its length, in all and
    by command (the ten largest)."""
    net = {name: busy[name] - idle[name] * busy_s / idle_s for name in busy | idle}
    total = sum(net.values())
    top = sorted(net.items(), key=lambda item: -item[1])[:10]
    return {"per_lead": round(total / leads, 1),
            "raw_per_lead": round(sum(busy.values()) / leads, 1),
            "idle_per_s": round(sum(idle.values()) / idle_s, 1),
            "by_command_per_lead": {name: round(n / leads, 2) for name, n in top}}


def commandstats_calls(url: str) -> int:
    """Every command the Redis server of ``url`` has run (``INFO commandstats``): the
    server-wide cross-check of the monitor's count, other clients' commands included."""
    import redis

    stats = redis.Redis.from_url(url, socket_timeout=5).info("commandstats")
    return sum(int(entry["calls"]) for entry in stats.values())


_PG_COLUMNS = ("xact_commit", "xact_rollback", "tup_inserted", "tup_updated", "tup_deleted",
               "tup_fetched")


def pg_counters() -> dict[str, int]:
    """The bench database's ``pg_stat_database`` counters, read afresh."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(f"SELECT {', '.join(_PG_COLUMNS)} FROM pg_stat_database "  # noqa: S608
                       "WHERE datname = current_database()")
        row = cursor.fetchone()
    return dict(zip(_PG_COLUMNS, (int(v) for v in row), strict=True))


def pg_per_lead(before: dict[str, int], after: dict[str, int], leads: int) -> dict[str, float]:
    """Per lead: transactions, and rows written (inserted + updated + deleted) and each."""
    delta = {k: after[k] - before[k] for k in _PG_COLUMNS}
    delta["rows_written"] = delta["tup_inserted"] + delta["tup_updated"] + delta["tup_deleted"]
    return {k: round(v / leads, 1) for k, v in delta.items()}


def idle_count(monitor_db: int, address_prefix: str, seconds: float) -> Counter[str]:
    """The commands counted over ``seconds`` of no traffic (the workers' polling)."""
    monitor = RedisMonitor(monitor_db, address_prefix)
    monitor.start()
    time.sleep(seconds)
    return monitor.stop()


def ops_count(world: Any, urls: Sequence[str], first: int, *, redis_url: str,
              db: int) -> dict[str, Any]:
    """Redis commands (on database ``db`` of ``redis_url``, from the namespaces) and
    PostgreSQL writes per sync lead over ``LEADS`` leads of the ``http`` market, 8 at a
    time, round-robin over the web processes at ``urls``."""
    from bench.consumers import submission
    from bench.netns import SUBNET
    from bench.scaleout_checks import batch_send, decided_wait

    market = world.markets["http"]
    decided_wait(market.vertical_id)
    prefix = f"{SUBNET}."
    idle_s = 5.0
    idle = idle_count(db, prefix, idle_s)
    time.sleep(STATS_FLUSH_S - idle_s)
    pg_before = pg_counters()
    calls_before = commandstats_calls(redis_url)
    monitor = RedisMonitor(db, prefix)
    monitor.start()
    started = time.monotonic()
    answers = batch_send(world, [(urls[i % len(urls)],
                                  submission(market.slug, first + i, "bench-ops"))
                                 for i in range(LEADS)], concurrency=8)
    decided_wait(market.vertical_id)
    busy_s = time.monotonic() - started
    busy = monitor.stop()
    calls = commandstats_calls(redis_url) - calls_before
    time.sleep(STATS_FLUSH_S)
    pg_after = pg_counters()
    sold = sum(1 for status, a in answers if status == 200 and a.get("status") == "sold")
    return {"leads": LEADS, "sold": sold,
            "redis": {**redis_per_lead(idle, idle_s, busy, busy_s, LEADS),
                      "server_wide_commandstats_per_lead": round(calls / LEADS, 1)},
            "postgres": pg_per_lead(pg_before, pg_after, LEADS)}
