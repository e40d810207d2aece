"""``python -m apps.demo.simulator.loadcheck``: how many requests/s the simulator serves.

N keep-alive connections each send M requests one after another (no pipelining), from a
raw asyncio client. Without ``--url`` it starts its own simulator subprocess and also
reports that process's CPU use (Linux ``/proc``), which shows whether the server or this
client was the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from functools import partial
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

from apps.demo.simulator.testing import start_simulator_process


class _KeepAliveClient(asyncio.Protocol):
    """Sends ``count`` copies of one request, each after the previous answer arrives."""

    def __init__(self, request: bytes, count: int, done: asyncio.Future[None],
                 latencies: list[float], failures: list[bytes]) -> None:
        self._request = request
        self._remaining = count
        self._done = done
        self._latencies = latencies
        self._failures = failures
        self._buffer = bytearray()
        self._body_left: int | None = None
        self._sent_at = 0.0
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports quack like asyncio.Transport without subclassing it
        self._transport = cast(asyncio.Transport, transport)
        self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._done.done():
            self._done.set_exception(exc or ConnectionError("server closed the connection"))

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while True:
            if self._body_left is None:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(buffer[:end]).lower()
                if not head.startswith(b"http/1.1 200"):
                    self._failures.append(head.partition(b"\r\n")[0])
                start = head.index(b"content-length:") + len(b"content-length:")
                self._body_left = int(head[start:].partition(b"\r\n")[0])
                del buffer[: end + 4]
            if len(buffer) < self._body_left:
                return
            del buffer[: self._body_left]
            self._body_left = None
            self._latencies.append(time.perf_counter() - self._sent_at)
            self._remaining -= 1
            if self._remaining == 0:
                assert self._transport is not None
                self._done.set_result(None)
                self._transport.close()
                return
            self._send()

    def _send(self) -> None:
        assert self._transport is not None
        self._sent_at = time.perf_counter()
        self._transport.write(self._request)


async def load(url: str, target: str, connections: int, requests: int) -> dict[str, float]:
    """Run the load and return counts, elapsed seconds, requests/s and latency quantiles."""
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"{url!r} must name a host and a port")
    request = (f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
               "User-Agent: loadcheck\r\n\r\n").encode()
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    failures: list[bytes] = []
    futures = []
    started = time.perf_counter()
    for _ in range(connections):
        done: asyncio.Future[None] = loop.create_future()
        await loop.create_connection(
            partial(_KeepAliveClient, request, requests, done, latencies, failures),
            parts.hostname, parts.port)
        futures.append(done)
    await asyncio.gather(*futures)
    elapsed = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=100)
    return {"requests": len(latencies), "non_200": len(failures), "elapsed_s": elapsed,
            "requests_per_s": len(latencies) / elapsed,
            "p50_ms": quantiles[49] * 1000, "p99_ms": quantiles[98] * 1000}


def _cpu_seconds(pid: int) -> float | None:
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        return None
    # Fields 14 and 15 (utime, stime) follow the parenthesised command name.
    fields = stat.read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> None:
    """Run the load check from the command line and print one result line per run."""
    parser = argparse.ArgumentParser(prog="python -m apps.demo.simulator.loadcheck",
                                     description=__doc__)
    parser.add_argument("--url", help="an already running simulator (default: start one)")
    parser.add_argument("--target", default="/bench/ping?bid_min=1&bid_max=30")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--requests", type=int, default=1000, help="per connection")
    args = parser.parse_args(argv)

    process = start_simulator_process() if args.url is None else None
    url = args.url if process is None else process.url
    try:
        server_cpu_before = _cpu_seconds(process.pid) if process else None
        client_cpu_before = time.process_time()
        result = asyncio.run(load(url, args.target, args.connections, args.requests))
        result["client_cpu_s"] = time.process_time() - client_cpu_before
        if process is not None and server_cpu_before is not None:
            server_cpu = (_cpu_seconds(process.pid) or 0.0) - server_cpu_before
            result["server_cpu_s"] = server_cpu
            result["server_cpu_pct_of_one_core"] = 100 * server_cpu / result["elapsed_s"]
    finally:
        if process is not None:
            process.stop()
    print(" ".join(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
                   for key, value in result.items()))


if __name__ == "__main__":
    main()
