"""The ``--log`` file: one JSON line per answered ping or post, for benchmarks.

A benchmark adds each line's ``latency_ms_requested`` to ``t_received`` to know the
earliest moment the platform could have had the answer. A request is logged when its
answer's head is written (``fail=drip`` and ``fail=huge`` included, as status 200) or
when ``fail=close`` drops it (status null); a ``fail=hang`` request is never logged.
"""

from __future__ import annotations

import json
from pathlib import Path

# Lines are kept in memory and written in batches: a write per request would cost the
# event loop a system call on the hot path.
BUFFER_BYTES = 1 << 20


class RequestLog:
    """Appends answer records to a file as JSON lines; call ``flush`` periodically."""

    def __init__(self, path: str | Path) -> None:
        self._file = open(path, "a", encoding="utf-8", buffering=BUFFER_BYTES)  # noqa: SIM115
        self._pending: list[tuple[str, str, float, float, float, int | None]] = []

    def add(
        self,
        path: str,
        kind: str,
        latency_ms_requested: float,
        t_received: float,
        t_answered: float,
        status: int | None,
    ) -> None:
        """Queue one record; ``status`` is None when the connection was closed unanswered."""
        self._pending.append(
            (path, kind, latency_ms_requested, t_received, t_answered, status)
        )

    def flush(self) -> None:
        """Write every queued record to the file and flush it to the OS."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        self._file.writelines(
            json.dumps({
                "path": path,
                "kind": kind,
                "latency_ms_requested": latency,
                "t_received": t_received,
                "t_answered": t_answered,
                "status": status,
            }) + "\n"
            for path, kind, latency, t_received, t_answered, status in pending
        )
        self._file.flush()

    def close(self) -> None:
        """Flush what is queued and close the file."""
        self.flush()
        self._file.close()
