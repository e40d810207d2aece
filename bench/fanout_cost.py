"""What one auction's fan-out costs this process: ``apps.core.http`` vs requests + threads.

Run from the repository root::

    .venv/bin/python -m bench.fanout_cost [--auctions 200] [--buyers 50] [--latency-ms 20]
        [--spread 10,250]

Against a buyer simulator subprocess (its CPU is not counted), it runs N auctions of
``--buyers`` pings each, every buyer answering after ``--latency-ms``, first with
``http_send_many`` and then with the usual baseline: a ``ThreadPoolExecutor`` of one
thread per buyer, each thread with its own ``requests.Session`` (keep-alive). Both are
warmed up first, so neither pays for connecting. It prints, per client, the CPU seconds
of this process per auction and per buyer request, the CPU ratio, and the wall time over
the bound (the buyer latency) at p50/p99. Then it measures the decision time past the
deadline when buyers never answer (``fail=hang``), with one and with four concurrent
callers, for ``http_send_many`` only: requests has no total deadline to measure.

With ``--spread LOW,HIGH`` it also runs ``http_send_many`` against buyers whose answers are
spread uniformly over LOW..HIGH ms (the bench's ``http`` market: 10,250), as they are in
production, and prints its CPU per auction (user and system) and the thread's wake-ups
beside the same figures for answers that arrive together: the driver wakes once per answer
that arrives alone, and each wake-up costs more than the work it does (caches gone cold
while it slept).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import requests
from django.test import override_settings

from apps.core.http import OutboundRequest, http_client_close, http_send_many
from apps.demo.simulator.testing import simulator_process

WARMUP_AUCTIONS = 10
PING_BODY = b'{"vertical": "auto-insurance", "zip": "90210", "age": 34}'
HEADERS = {"Content-Type": "application/json"}


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the nearest-rank percentile of ``values`` (``fraction`` in 0..1)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def measure(run_auction: Callable[[], int], auctions: int, bound_s: float) -> dict[str, float]:
    """Run ``auctions`` auctions; return CPU per auction and wall time over ``bound_s``."""
    for _ in range(WARMUP_AUCTIONS):
        run_auction()
    overheads_ms: list[float] = []
    failures = 0
    cpu_started = time.process_time()
    for _ in range(auctions):
        started = time.monotonic()
        failures += run_auction()
        overheads_ms.append(1000 * (time.monotonic() - started - bound_s))
    cpu = time.process_time() - cpu_started
    return {"cpu_s_per_auction": cpu / auctions, "failures": failures,
            "over_bound_ms_p50": percentile(overheads_ms, 0.50),
            "over_bound_ms_p99": percentile(overheads_ms, 0.99)}


def wakeup_cost(run_auction: Callable[[], int], auctions: int) -> dict[str, float]:
    """Return this thread's user and system CPU ms and voluntary context switches (sleeps
    in ``poll``: wake-ups) per auction, over ``auctions`` auctions after a warm-up."""
    for _ in range(WARMUP_AUCTIONS):
        run_auction()
    before = resource.getrusage(resource.RUSAGE_THREAD)
    for _ in range(auctions):
        run_auction()
    after = resource.getrusage(resource.RUSAGE_THREAD)
    return {"user_ms": 1000 * (after.ru_utime - before.ru_utime) / auctions,
            "system_ms": 1000 * (after.ru_stime - before.ru_stime) / auctions,
            "wakeups": (after.ru_nvcsw - before.ru_nvcsw) / auctions}


def spread_bounds(text: str) -> tuple[float, float]:
    """``"LOW,HIGH"`` in ms, as ``--spread`` takes it."""
    low, _, high = text.partition(",")
    try:
        bounds = float(low), float(high)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not LOW,HIGH in ms") from None
    if not 0 <= bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError(f"{text!r}: need 0 <= LOW <= HIGH")
    return bounds


def aiohttp_auction(urls: list[str]) -> Callable[[], int]:
    """Return a function running one fan-out with ``http_send_many``; it returns failures."""
    batch = [OutboundRequest("POST", url, headers=HEADERS, body=PING_BODY, timeout=1.0)
             for url in urls]

    def run() -> int:
        responses = http_send_many(batch, deadline=time.monotonic() + 1.0)
        return sum(not response.ok for response in responses)

    return run


def requests_auction(urls: list[str], pool: ThreadPoolExecutor) -> Callable[[], int]:
    """Return a function running one fan-out on ``pool``, a requests.Session per thread."""
    local = threading.local()

    def send(url: str) -> bool:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        try:
            answer = session.post(url, data=PING_BODY, headers=HEADERS, timeout=1.0,
                                  allow_redirects=False)
        except requests.RequestException:
            return False
        return answer.status_code == 200

    def run() -> int:
        return sum(not ok for ok in pool.map(send, urls))

    return run


def deadline_overrun(
    base_url: str, buyers: int, runs: int, budget_s: float, callers: int
) -> list[float]:
    """Return ms past the deadline at which ``http_send_many`` decided, per auction.

    One buyer in ten never answers, the others answer within the budget. ``callers``
    threads run ``runs`` auctions between them, at the same time (a busy web process).
    """
    batch = [OutboundRequest("POST", f"{base_url}/hang-{i}/ping?fail=hang" if i % 10 == 0
                             else f"{base_url}/ok-{i}/ping?latency_ms=20",
                             headers=HEADERS, body=PING_BODY, timeout=1.0)
             for i in range(buyers)]
    overruns: list[float] = []

    def caller() -> None:
        for _ in range(runs // callers):
            deadline = time.monotonic() + budget_s
            http_send_many(batch, deadline=deadline)
            overruns.append(1000 * (time.monotonic() - deadline))

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return overruns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--auctions", type=int, default=200)
    parser.add_argument("--buyers", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--deadline-runs", type=int, default=200)
    parser.add_argument("--deadline-ms", type=float, default=100.0)
    parser.add_argument("--spread", type=spread_bounds, metavar="LOW,HIGH",
                        help="also: the CPU of answers spread over LOW..HIGH ms")
    args = parser.parse_args()
    # Settings are read lazily, on the first send: setting the module here is in time.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadexchange.settings")

    with simulator_process(seed=1) as base_url, \
            override_settings(HTTP_ALLOWED_NETWORKS=["127.0.0.1/32"]):
        urls = [f"{base_url}/buyer-{i}/ping?latency_ms={args.latency_ms:g}"
                for i in range(args.buyers)]
        bound_s = args.latency_ms / 1000
        ours = measure(aiohttp_auction(urls), args.auctions, bound_s)
        with ThreadPoolExecutor(max_workers=args.buyers) as pool:
            theirs = measure(requests_auction(urls, pool), args.auctions, bound_s)
        overruns = {callers: deadline_overrun(base_url, args.buyers, args.deadline_runs,
                                              args.deadline_ms / 1000, callers)
                    for callers in (1, 4)}
        wakeups = {}
        if args.spread:
            low, high = args.spread
            spread_urls = [f"{base_url}/spread-{i}/ping?latency=uniform:{low:g},{high:g}"
                           for i in range(args.buyers)]
            wakeups = {"together": wakeup_cost(aiohttp_auction(urls), args.auctions),
                       "spread": wakeup_cost(aiohttp_auction(spread_urls), args.auctions)}
        http_client_close()

    print(f"{args.auctions} auctions x {args.buyers} buyers, buyer latency "
          f"{args.latency_ms:g} ms (CPU of this process only)")
    print(f"{'client':<26}{'CPU ms/auction':>15}{'CPU ms/request':>15}"
          f"{'over bound p50':>16}{'p99':>8}{'failed':>8}")
    for name, figures in (("apps.core.http (pycurl)", ours), ("requests + 50 threads", theirs)):
        cpu_ms = 1000 * figures["cpu_s_per_auction"]
        print(f"{name:<26}{cpu_ms:>15.2f}{cpu_ms / args.buyers:>15.3f}"
              f"{figures['over_bound_ms_p50']:>13.1f} ms{figures['over_bound_ms_p99']:>5.1f} ms"
              f"{figures['failures']:>8}")
    ratio = ours["cpu_s_per_auction"] / theirs["cpu_s_per_auction"]
    print(f"CPU ratio apps.core.http / requests+threads: {ratio:.3f} (1/{1 / ratio:.1f})")
    print(f"decision past a {args.deadline_ms:g} ms deadline, 1 buyer in 10 hanging, "
          f"{args.deadline_runs} auctions:")
    for callers, values in overruns.items():
        print(f"  {callers} concurrent caller(s): p50 {statistics.median(values):.2f} ms, "
              f"p99 {percentile(values, 0.99):.2f} ms, max {max(values):.2f} ms")
    if wakeups:
        low, high = args.spread
        print(f"apps.core.http, the calling thread's CPU per auction of {args.buyers} buyers:")
        for name, label in (("together", f"answers together ({args.latency_ms:g} ms)"),
                            ("spread", f"answers spread over {low:g}-{high:g} ms")):
            figures = wakeups[name]
            print(f"  {label:<38} user {figures['user_ms']:.2f} ms, system "
                  f"{figures['system_ms']:.2f} ms, {figures['wakeups']:.1f} wake-ups")


if __name__ == "__main__":
    main()
