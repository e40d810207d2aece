"""``python -m bench.loadgen``: the HTTP load generator, a process of its own (no Django).

It submits leads to ``POST /api/v1/leads`` with an asyncio + aiohttp client over keep-alive
connections (to several web servers in turn when given several ``--url``), in one of two
shapes:

- ``closed``: ``--clients`` clients, each sending its next lead as soon as the previous
  answer arrives (finds the rate a server sustains);
- ``open``: leads sent at ``--rate`` per second with Poisson arrivals, whatever the answers
  (the latency a source sees at that rate, queueing included).

With ``--ping-post`` each lead is instead pinged (``POST /api/v1/pings``, its non-PII
fields) and, when the ping bids, posted to its ping (``POST /api/v1/pings/{id}/post``) at
once; the pair is one arrival (open) or one turn of a client (closed).

The first ``--warmup`` seconds are not recorded. It prints JSON lines on stdout:
``{"event": "window_start"}`` and ``{"event": "window_end"}`` around the measured window (the
parent reads every process's CPU time at those moments), then ``{"event": "result", ...}``
with one record per request started in the window: ``[start_s, latency_ms, http_status,
lead_status, lead_id, sent_at]`` (``start_s`` relative to the window start, ``sent_at`` the
``time.time()`` of the send, the clock the server's timestamps use). A ping-post record is
``[start_s, ping_ms, ping_http_status, ping_status, ping_id, sent_at, post_ms,
post_http_status, lead_status, lead_id, post_sent_at]``, the post's five ``None`` when it
was not posted.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import sys
import time
from collections.abc import Coroutine
from typing import Any

import aiohttp

from bench.consumers import ping_submission, submission

REQUEST_TIMEOUT_S = 30.0
SUB_ID_SYNC = "bench-sync"
SUB_ID_ASYNC = "bench-async"
SUB_ID_PING = "bench-ping"


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


async def _request(session: aiohttp.ClientSession, url: str, headers: dict[str, str],
                   body: bytes, recorder: Recorder) -> tuple[float, float, float, int,
                                                             dict[str, Any]]:
    """POST ``body``; return its start (monotonic and wall clock), latency in ms, HTTP status
    (0: no answer) and JSON answer ({} when it is not an object)."""
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
    try:
        answer = json.loads(payload) if payload else {}
    except ValueError:
        answer = {}
    return started, started_wall, latency_ms, status, answer if isinstance(answer, dict) else {}


async def _send(session: aiohttp.ClientSession, url: str, headers: dict[str, str],
                body: bytes, recorder: Recorder) -> None:
    started, started_wall, latency_ms, status, answer = await _request(
        session, url, headers, body, recorder)
    if not recorder.in_window(started):
        return
    recorder.records.append([round(started - (recorder.window_start or 0.0), 6),
                             round(latency_ms, 3), status, answer.get("status"),
                             answer.get("id"), started_wall])


async def _ping_then_post(session: aiohttp.ClientSession, base_url: str,
                          headers: dict[str, str], vertical: str, n: int,
                          recorder: Recorder) -> None:
    """Ping consumer ``n``'s non-PII fields; when it bids, post the full lead to the ping
    at once (a source that pings posts what it was offered)."""
    started, started_wall, ping_ms, ping_status, ping = await _request(
        session, f"{base_url}/api/v1/pings",
        headers, json.dumps(ping_submission(vertical, n, SUB_ID_PING)).encode(), recorder)
    post_ms: float | None = None
    post_status: int | None = None
    post_wall: float | None = None
    answer: dict[str, Any] = {}
    if ping_status == 200 and ping.get("status") == "bid":
        body = submission(vertical, n, SUB_ID_PING)
        del body["vertical"]  # the ping's is taken
        _, post_wall, post_ms, post_status, answer = await _request(
            session, f"{base_url}/api/v1/pings/{ping['ping_id']}/post", headers,
            json.dumps(body).encode(), recorder)
    if not recorder.in_window(started):
        return
    recorder.records.append([round(started - (recorder.window_start or 0.0), 6),
                             round(ping_ms, 3), ping_status, ping.get("status"),
                             ping.get("ping_id"), started_wall,
                             None if post_ms is None else round(post_ms, 3), post_status,
                             answer.get("status"), answer.get("id"), post_wall])


async def _window(recorder: Recorder, warmup: float, duration: float) -> None:
    await asyncio.sleep(warmup)
    recorder.window_start = time.monotonic()
    _emit({"event": "window_start"})
    await asyncio.sleep(duration)
    recorder.window_end = time.monotonic()
    _emit({"event": "window_end"})


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Drive the load as ``args`` say; return the result event's payload."""
    # several web processes: each request goes to the next one in turn (round-robin)
    bases = itertools.cycle(args.url)
    query = "?mode=async" if args.async_capture else ""
    headers = {"Authorization": f"Bearer {args.key}", "Content-Type": "application/json"}
    numbers = iter(range(args.first, args.first + 10_000_000))
    sub_id = SUB_ID_ASYNC if args.async_capture else SUB_ID_SYNC
    recorder = Recorder()
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    lag_ms: list[float] = []
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        def one() -> Coroutine[Any, Any, None]:
            """The next consumer's request: a lead, or a ping and its post."""
            n, base = next(numbers), next(bases)
            if args.ping_post:
                return _ping_then_post(session, base, headers, args.vertical, n, recorder)
            body = json.dumps(submission(args.vertical, n, sub_id)).encode()
            return _send(session, f"{base}/api/v1/leads{query}", headers, body, recorder)

        window = asyncio.create_task(_window(recorder, args.warmup, args.duration))
        if args.mode == "closed":
            async def client() -> None:
                while not window.done():
                    await one()

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
                task = asyncio.create_task(one())
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
    parser.add_argument("--url", required=True, nargs="+",
                        help="the web server's base URL; several: round-robin")
    parser.add_argument("--key", required=True, help="the source's API key")
    parser.add_argument("--vertical", required=True)
    parser.add_argument("--first", type=int, required=True, help="first consumer number")
    parser.add_argument("--mode", choices=["closed", "open"], required=True)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rate", type=float, default=10.0, help="leads/s (open mode)")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--async-capture", action="store_true", help="submit ?mode=async")
    parser.add_argument("--ping-post", action="store_true",
                        help="ping each lead (POST /api/v1/pings), then post it to its ping")
    parser.add_argument("--seed", type=int, default=1)
    _emit(asyncio.run(run(parser.parse_args(argv))))


if __name__ == "__main__":
    main()
