"""The cost figure through HTTP: the same phases, measured inside the web server's workers.

``bench.cost`` splits a lead's CPU by phase in the bench's own process, through Django's
test client. Through HTTP a lead costs the web process more; this row says where. A
gunicorn started for it (the rig's layout) runs with a config file whose
``post_worker_init`` hook (``worker_install``) wraps, inside each worker and with
thread-safe exclusive CPU accounting (``bench.cost.CpuPhases``):

- the cost figure's phase functions (capture and auction, the same list);
- the WSGI application: "request handling (Django, DRF)", less the capture phases nested in
  it (a sync request waiting for its auction spends no CPU);
- the auction (``auction_run``, on the web process's auction pool): "other (auction
  thread)", less its phases.

It also answers SIGWINCH (which gunicorn's workers ignore) by appending a snapshot to a
file: the phase totals and the worker's whole CPU (``getrusage``: every thread). The bench
signals every worker as the load generator's window opens and closes; per lead, a phase is
its growth over the window divided by the leads answered in it, and what no phase covers
— gunicorn's own loop and HTTP parsing, the WSGI response write, threads waking and
handing the interpreter over, the SQLite checkpointer — is ``OUTSIDE``.

Two closed-loop steps after a warm-up step: sold sync leads (50 buyers) and async captures.
The wrappers cost CPU of their own (two clock reads per phase entered, ~110 an auction),
charged to the phases around them.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import load
from bench.cost import AUCTION_PHASES, CAPTURE_PHASES, CpuPhases, phases_wrapped
from bench.processes import Children, process_tree
from bench.redisdb import redis_flush
from bench.setup import Market, World

DIR_ENV = "BENCH_HTTP_PHASES_DIR"  # where the workers write their snapshots
REQUEST = "request handling (Django, DRF)"
AUCTION_OTHER = "other (auction thread)"
OUTSIDE = "outside every phase (gunicorn, threads)"
WEB_TOTAL = "total (web workers)"
# consumers of its own: the HTTP rows' rig numbers its steps' from 1,000,000 (a repeated
# consumer is a 409 duplicate, whose CPU no lead would be charged with)
FIRST_CONSUMER = 5_000_000
_OUTER_PHASES = ((AUCTION_OTHER, "apps.auctions.services", "auction_run"),)
_CONFIG = '''"""Written by bench.http_phases: the phase accounting inside each gunicorn worker."""


def post_worker_init(worker):
    from bench.http_phases import worker_install

    worker_install(worker)
'''


_installed: list[contextlib.ExitStack] = []  # held: a dropped one would be collected, and
# closing ``phases_wrapped``'s generator puts the original functions back


def worker_install(worker: Any) -> contextlib.ExitStack:
    """Wrap the phases in this worker process and answer SIGWINCH with a snapshot (see the
    module docstring). Returns what undoes the wrapping (tests)."""
    phases = CpuPhases()
    undo = contextlib.ExitStack()
    _installed.append(undo)
    undo.enter_context(phases_wrapped((*CAPTURE_PHASES, *AUCTION_PHASES, *_OUTER_PHASES),
                                      phases.wrap))
    worker.wsgi = phases.wrap(REQUEST, worker.wsgi)
    path = Path(os.environ[DIR_ENV]) / f"{os.getpid()}.jsonl"

    def snapshot(signum: int, frame: Any) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        line = {"cpu_s": usage.ru_utime + usage.ru_stime, "phases": phases.snapshot()}
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")

    previous = signal.signal(signal.SIGWINCH, snapshot)
    undo.callback(signal.signal, signal.SIGWINCH, previous)
    undo.callback(_installed.remove, undo)
    return undo


def snapshots_read(directory: Path) -> dict[int, list[dict[str, Any]]]:
    """Each worker's snapshots so far, by pid, in the order taken."""
    return {int(path.stem): [json.loads(line) for line in path.read_text().splitlines()]
            for path in directory.glob("*.jsonl")}


def per_lead(before: dict[int, dict[str, Any]], after: dict[int, dict[str, Any]],
             leads: int) -> dict[str, float]:
    """CPU ms per lead by phase between two snapshots of each worker (``before`` and
    ``after``, by pid), ``OUTSIDE`` what no phase covers and ``WEB_TOTAL`` all of it."""
    spent: dict[str, float] = {}
    total = 0.0
    for pid, end in after.items():
        start = before[pid]
        total += end["cpu_s"] - start["cpu_s"]
        for phase, seconds in end["phases"].items():
            grown = seconds - start["phases"].get(phase, 0.0)
            if grown > 0:  # a phase the step never entered is left out
                spent[phase] = spent.get(phase, 0.0) + grown
    spent[OUTSIDE] = max(0.0, total - sum(spent.values()))
    spent[WEB_TOTAL] = total
    count = max(1, leads)
    ordered = sorted(spent.items(), key=lambda item: (item[0] == WEB_TOTAL, -item[1]))
    return {phase: round(1000 * seconds / count, 3) for phase, seconds in ordered}


def http_phase_figures(children: Children, world: World, market: Market, simulator_pid: int,
                       var: Path, *, workers: int, threads: int, sync_clients: int,
                       async_clients: int, warmup: float, duration: float) -> dict[str, Any]:
    """The two steps (see the module docstring) on a gunicorn of their own."""
    directory = var / "http-phases"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    config = var / "http_phases_gunicorn.py"
    config.write_text(_CONFIG, encoding="utf-8")
    os.environ[DIR_ENV] = str(directory)  # the rig's gunicorn inherits the environment
    try:
        rig = load.rig_start(children, world, simulator_pid, var, workers=workers,
                             threads=threads, settle_s=20.0, config=config)
    finally:
        os.environ.pop(DIR_ENV, None)
    rig.next_consumer = FIRST_CONSUMER
    try:
        # every thread's connections and caches warm, as the rate search has them
        load.step_run(rig, world, market, mode="closed", clients=sync_clients, warmup=warmup,
                      duration=duration)
        load.settle(rig)
        sync = _step(rig, world, market, directory, clients=sync_clients, async_capture=False,
                     warmup=warmup, duration=duration)
        load.settle(rig)
        captures = _step(rig, world, market, directory, clients=async_clients,
                         async_capture=True, warmup=warmup, duration=duration)
    finally:
        children.stop(rig.web)
        if rig.broker:
            redis_flush(rig.broker)  # the async leads' tasks no worker will run
    return {"workers": workers, "threads": threads, "sold sync lead": sync,
            "async capture": captures}


def _step(rig: load.Rig, world: World, market: Market, directory: Path, *, clients: int,
          async_capture: bool, warmup: float, duration: float) -> dict[str, Any]:
    workers = [pid for pid in process_tree(rig.web_pid) if pid != rig.web_pid]
    taken = {pid: len(lines) for pid, lines in snapshots_read(directory).items()}

    def signal_workers(_: str) -> None:
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGWINCH)

    step = load.step_run(rig, world, market, mode="closed", clients=clients, warmup=warmup,
                         duration=duration, async_capture=async_capture,
                         on_window=signal_workers)
    wanted = {pid: taken.get(pid, 0) + 2 for pid in workers}
    snapshots = _snapshots_wait(directory, wanted)
    before = {pid: lines[wanted[pid] - 2] for pid, lines in snapshots.items()}
    after = {pid: lines[wanted[pid] - 1] for pid, lines in snapshots.items()}
    answer = ("received", 202) if async_capture else ("sold", 200)
    leads = sum(1 for r in step.records if (r[3], r[2]) == answer)
    others = Counter(f"{status} {word}" for _, _, status, word, *_ in step.records
                     if (word, status) != answer)
    return {"clients": clients, "leads": leads,
            "leads_per_s": round(leads / step.window_s, 1),
            "other_answers": dict(others),  # a sold lead's cost only when there are none
            "cpu_ms_per_lead": per_lead(before, after, leads)}


def _snapshots_wait(directory: Path, wanted: dict[int, int], timeout: float = 5.0
                    ) -> dict[int, list[dict[str, Any]]]:
    """The workers' snapshots once each has written its window's two (a signal handler
    runs when the worker's main thread next wakes)."""
    deadline = time.monotonic() + timeout
    while True:
        snapshots = snapshots_read(directory)
        if all(len(snapshots.get(pid, ())) >= count for pid, count in wanted.items()):
            return {pid: snapshots[pid] for pid in wanted}
        if time.monotonic() > deadline:
            raise RuntimeError(f"the web workers did not write their snapshots: {wanted}")
        time.sleep(0.05)
