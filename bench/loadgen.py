"""``python -m bench.loadgen``: the HTTP load generator, a process of its own (no Django).

It submits leads to ``POST /api/v1/leads`` with an asyncio + aiohttp client over keep-alive
connections, in one of two shapes:

- ``closed``: ``--clients`` clients, each sending its next lead as soon as the previous
  answer arrives (finds the rate a server sustains);
- ``open``: leads sent at ``--rate`` per second with Poisson arrivals, whatever the answers
  (the latency a source sees at that rate, queueing included).

The first ``--warmup`` seconds are not recorded. It prints JSON lines on stdout:
``{"event": "window_start"}`` and ``{"event": "window_end"}`` around the measured window (the
parent reads every process's CPU time at those moments), then ``{"event": "result", ...}``
with one record per request started in the window: ``[start_s, latency_ms, http_status,
lead_status, lead_id, sent_at]`` (``start_s`` relative to the window start, ``sent_at`` the
``time.time()`` of the send, the clock the server's timestamps use).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from typing import Any

import aiohttp

from bench.consumers import submission

REQUEST_TIMEOUT_S = 30.0
SUB_ID_SYNC = "bench-sync"
SUB_ID_ASYNC = "bench-async"


class Recorder:
    """The requests of the measured window; every other request is sent but not kept."""

    def __init__(self) -> None:
        self.window_start: float | None = None
        self.window_end: float | None = None
        self.records: list[list[Any]] = []
        self.errors: dict[str, int] = {}
        self.answers_by_status: dict[int, int] = {}  # every answer, warm-up included

    def in_window(self, started: float) -> bool:
        return (self.window_start is not None and started >= self.window_start
                and (self.window_end is None or started < self.window_end))


def _emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


async def _send(session: aiohttp.ClientSession, url: str, headers: dict[str, str],
                body: bytes, recorder: Recorder) -> None:
    started, started_wall = time.monotonic(), time.time()
    try:
        async with session.post(url, data=body, headers=headers) as response:
            payload = await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        name = type(exc).__name__
        recorder.errors[name] = recorder.errors.get(name, 0) + 1
        status, payload = 0, b""
    latency_ms = 1000 * (time.monotonic() - started)
    recorder.answers_by_status[status] = recorder.answers_by_status.get(status, 0) + 1
    if not recorder.in_window(started):
        return
    try:
        answer = json.loads(payload) if payload else {}
    except ValueError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    recorder.records.append([round(started - (recorder.window_start or 0.0), 6),
                             round(latency_ms, 3), status, answer.get("status"),
                             answer.get("id"), started_wall])


async def _window(recorder: Recorder, warmup: float, duration: float) -> None:
    await asyncio.sleep(warmup)
    recorder.window_start = time.monotonic()
    _emit({"event": "window_start"})
    await asyncio.sleep(duration)
    recorder.window_end = time.monotonic()
    _emit({"event": "window_end"})


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Drive the load as ``args`` say; return the result event's payload."""
    url = f"{args.url}/api/v1/leads" + ("?mode=async" if args.async_capture else "")
    headers = {"Authorization": f"Bearer {args.key}", "Content-Type": "application/json"}
    numbers = iter(range(args.first, args.first + 10_000_000))
    sub_id = SUB_ID_ASYNC if args.async_capture else SUB_ID_SYNC
    recorder = Recorder()
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    lag_ms: list[float] = []
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        def body() -> bytes:
            return json.dumps(submission(args.vertical, next(numbers), sub_id)).encode()

        window = asyncio.create_task(_window(recorder, args.warmup, args.duration))
        if args.mode == "closed":
            async def client() -> None:
                while not window.done():
                    await _send(session, url, headers, body(), recorder)

            await asyncio.gather(*(client() for _ in range(args.clients)))
        else:
            rng = random.Random(args.seed)
            in_flight: set[asyncio.Task[None]] = set()
            due = time.monotonic()
            while not window.done():
                due += rng.expovariate(args.rate)
                pause = due - time.monotonic()
                if pause > 0:
                    await asyncio.sleep(pause)
                lag_ms.append(1000 * (time.monotonic() - due))
                task = asyncio.create_task(_send(session, url, headers, body(), recorder))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            await asyncio.gather(*in_flight)
        await window
    assert recorder.window_start is not None and recorder.window_end is not None
    return {"event": "result", "records": recorder.records, "errors": recorder.errors,
            "answers_by_status": recorder.answers_by_status,
            "window_s": recorder.window_end - recorder.window_start,
            "arrival_lag_ms_max": round(max(lag_ms), 2) if lag_ms else None}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__)
    parser.add_argument("--url", required=True, help="the web server's base URL")
    parser.add_argument("--key", required=True, help="the source's API key")
    parser.add_argument("--vertical", required=True)
    parser.add_argument("--first", type=int, required=True, help="first consumer number")
    parser.add_argument("--mode", choices=["closed", "open"], required=True)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rate", type=float, default=10.0, help="leads/s (open mode)")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--async-capture", action="store_true", help="submit ?mode=async")
    parser.add_argument("--seed", type=int, default=1)
    _emit(asyncio.run(run(parser.parse_args(argv))))


if __name__ == "__main__":
    main()
