"""Memory of the requests the simulated buyers received, for tests to inspect."""

from __future__ import annotations

from collections import Counter, deque

from apps.demo.simulator.http11 import HttpRequest

PER_PATH = 1000
# Paths are chosen by clients; past this many, new paths are counted but not kept, so a
# client inventing paths cannot grow the server's memory without limit.
MAX_PATHS = 10_000


class Recorder:
    """Keeps the last ``PER_PATH`` requests of every path and a count per path."""

    def __init__(self) -> None:
        self._by_path: dict[str, deque[HttpRequest]] = {}
        self._counts: Counter[str] = Counter()

    def record(self, request: HttpRequest) -> None:
        """Remember ``request`` (it must not be mutated afterwards) and count it."""
        self._counts[request.path] += 1
        ring = self._by_path.get(request.path)
        if ring is None:
            if len(self._by_path) >= MAX_PATHS:
                return
            ring = self._by_path[request.path] = deque(maxlen=PER_PATH)
        ring.append(request)

    def requests(self, path: str | None = None, limit: int | None = None) -> list[dict]:
        """Return recorded requests as JSON-ready dicts, oldest first, newest last.

        Only ``path``'s when given, else every path's merged by arrival time; at most the
        ``limit`` newest. Each dict has method, path, query, headers (lower-case names),
        body (UTF-8 text, undecodable bytes replaced) and received_at (epoch seconds).
        """
        if path is not None:
            chosen = list(self._by_path.get(path, ()))
        else:
            chosen = sorted(
                (r for ring in self._by_path.values() for r in ring),
                key=lambda r: r.received_at,
            )
        if limit is not None:
            chosen = chosen[-limit:] if limit else []
        return [_as_json(request) for request in chosen]

    def stats(self) -> dict[str, int]:
        """Return ``{path: number of requests received}`` since start or the last reset."""
        return dict(self._counts)

    def reset(self) -> None:
        """Forget every recorded request and count."""
        self._by_path.clear()
        self._counts.clear()


def _as_json(request: HttpRequest) -> dict:
    return {
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "headers": dict(request.headers),
        "body": request.body.decode("utf-8", "replace"),
        "received_at": request.received_at,
    }
