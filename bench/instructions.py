"""The instruction count: machine instructions per lead, counted by valgrind's callgrind.

CPU time moves with whatever else a shared machine runs (±30 % between sessions); the
instructions a lead costs do not. A child Python process runs, under
``valgrind --tool=callgrind``, the cost figure's own loops (``bench.cost.captures_post``
and ``bench.cost.auctions_run``): a warm-up, then ``batches`` batches of async captures
through Django's test client, each followed by the auctions of its leads. Only that
process is counted; the buyers (the bench's simulator) are another process.

Parts, not a difference of two runs: callgrind dumps its counters and starts again from
zero each time the child enters ``getloadavg`` (``--dump-before``), which the child calls
(``os.getloadavg()``, a libc call nothing else in the platform makes) between the parts.
On x86-64 the child starts up and warms up uninstrumented (``--instr-atstart=no``, some 6x
faster than instrumented) and then starts the instrumentation itself with valgrind's client
request (``client_request``); elsewhere callgrind instruments it from the start. So dump 1
is whatever ran before the first batch, then each batch's captures, a bookkeeping part
(looking the leads up), each batch's auctions and a bookkeeping part (checking that every
lead sold); the last file is the shutdown. The instructions per lead are a part's total
over its leads; the spread is the range over the batches.

Threads apart (``--separate-threads=yes``): the figure is the thread that runs the leads
(capture, auction and its HTTP fan-out, which libcurl drives on the calling thread); a dump
on entering a function writes that thread's counts only. The other threads (SQLite's WAL
checkpointer, which wakes every second of wall time, so its count follows how slowly
valgrind runs; PostgreSQL's pool workers) are counted once, from the start of the
measurement to the exit, as ``other_threads``.

Under valgrind the child runs some 50× slower, so its source's budget and its buyers' ping
and post timeouts are minutes (``instructions_world``): no bid is lost to a deadline, and
every lead must sell (a timeout path would change the count): ``instruction_figures``
raises otherwise.
What still follows the clock: libcurl's timers and poll wake-ups, the 1 ms kick interval
of a fan-out being built, and the 10 s per-process row cache — the count is that of the
slowed program, steady run to run, not exactly the native one.

Per phase (``phase_leads``, after the batches): callgrind sees the interpreter's C
functions, not the Python functions the phases are named for, so the child marks the
phases itself. It wraps the cost figure's phase functions (``bench.cost``'s
``CAPTURE_PHASES`` and ``AUCTION_PHASES``) so that every entry into one and every exit from
one is a mark: each part between two marks is labelled with the innermost phase running
in it, or the lead's ``other`` when none is (``PhaseMarks``). A phase's count is then its
own, its nested phases' apart, like the cost figure's exclusive CPU. The per-process caches'
clocks are held still meanwhile (``_caches_held``), after an unmarked lead has refreshed
them, so no 10 s cache entry expires inside the slowed phase leads. The marks cost
instructions of their own (a Python call and a dump per entry and exit, some 250 per
auction of 50 buyers: two per ping built and per answer parsed); they land in the parts
around them, so the phase leads' sum is reported beside the batches' unmarked mean
(``phases_marked_total`` against ``instructions_per_lead``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bench.setup import (
    BENCH_VAR,
    REPO_ROOT,
    Market,
    Scenario,
    World,
    market_create,
    scenarios,
    source_create,
)

# Under valgrind: the source's budget and each buyer's ping and post timeout (the most
# the buyers' API allows), far beyond what a slowed auction needs.
BUDGET_MS = 600_000
TIMEOUT_MS = 60_000
MARKER = "getloadavg"  # the libc function whose entry makes callgrind dump (see above)
_SKIP = "between"  # the label of a part that is no lead's (bookkeeping)
_DUMP = re.compile(r"^(?:\.(\d+))?-(\d+)$")  # after callgrind.out.<pid>: [.<part>]-<thread>


def valgrind() -> str | None:
    """The valgrind executable, or None when it is not installed."""
    return shutil.which("valgrind")


def instructions_world(sim_url: str, seed: int) -> World:
    """The instruction count's source and market: the ``cost`` market's 50 buyers (all
    answer at once) with timeouts and a budget that a run under valgrind cannot reach."""
    scenario = scenarios(seed)["cost"]
    market = market_create(Scenario("instructions", scenario.latencies_ms), sim_url,
                           timeout_ms=TIMEOUT_MS, slow_threshold_ms=TIMEOUT_MS)
    return source_create("bench instructions source", {"instructions": market},
                         budget_ms=BUDGET_MS)


def instruction_figures(world: World, market: Market, first_consumer: int, *, leads: int,
                        batches: int, warmup: int = 20, phase_leads: int = 0,
                        database_url: str | None = None,
                        keep_dir: Path | None = None) -> dict[str, Any]:
    """Instructions per captured async lead and per sold lead's auction (see the module
    docstring), counted in a child process under callgrind, and per phase over
    ``phase_leads`` more leads when not 0; ``database_url`` is the database it opens
    (default: this process's ``DATABASE_URL``). The callgrind files are written to a
    temporary directory (or ``keep_dir``, kept)."""
    executable = valgrind()
    if executable is None:
        raise RuntimeError("valgrind is not installed")
    per_batch = max(1, leads // batches)
    # callgrind instruments from the start unless the child can start it itself, once warm
    instrument = client_request() is not None
    job = {"source_key": world.source_key, "slug": market.slug, "first": first_consumer,
           "warmup": warmup, "batches": batches, "per_batch": per_batch,
           "instrument": instrument, "phase_leads": phase_leads}
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    with tempfile.TemporaryDirectory(prefix="callgrind-") as scratch:
        out_dir = keep_dir or Path(scratch)
        out_dir.mkdir(parents=True, exist_ok=True)
        command = [executable, "--tool=callgrind", f"--dump-before={MARKER}",
                   f"--instr-atstart={'no' if instrument else 'yes'}",
                   "--separate-threads=yes", f"--callgrind-out-file={out_dir}/callgrind.out.%p",
                   sys.executable, "-m", "bench.instructions", json.dumps(job)]
        done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the callgrind child failed ({done.returncode}): "
                               f"{done.stderr[-2000:]}")
        child = json.loads(done.stdout.strip().splitlines()[-1])
        by_part = dump_totals(out_dir, valgrind_pid(done.stderr))
    if child["not_sold"]:
        # an unsold lead took another path (a timeout, a rejection): its count is not the
        # figure's
        raise RuntimeError(f"the callgrind child sold {child['sold']} leads, "
                           f"{child['not_sold']} not")
    return _figures(child, by_part, per_batch, batches)


class PhaseMarks:
    """Marks every entry into and exit from the phase functions it wraps, and labels the
    part each mark ends (``labels``, in the order of the dumps): the innermost phase
    running in it, else ``other``. Labels are ``<lead part>: <phase>``."""

    def __init__(self, labels: list[str], part: str, other: str) -> None:
        self.labels, self.part, self.other = labels, part, other
        self._stack: list[str] = []

    def mark(self, label: str | None = None) -> None:
        """End the current part, labelled ``label`` or the phase running in it."""
        running = self._stack[-1] if self._stack else self.other
        self.labels.append(label or f"{self.part}: {running}")
        _mark()

    def wrap(self, phase: str, function: Any) -> Any:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.mark()
            self._stack.append(phase)
            try:
                return function(*args, **kwargs)
            finally:
                self.mark()
                self._stack.pop()

        return wrapper

    @contextlib.contextmanager
    def patched(self, phases: Sequence[tuple[str, str, str]]) -> Iterator[PhaseMarks]:
        """The phase functions wrapped for the block; the set-up and the tear-down are
        parts of their own (``_SKIP``), the block's first and last parts are ``other``."""
        from bench.cost import phases_wrapped

        with phases_wrapped(phases, self.wrap):
            self.mark(_SKIP)
            try:
                yield self
            finally:
                self.mark()


def _phases_run(job: dict[str, Any], client: Any, consumer: int, labels: list[str]) -> int:
    """The phase leads: captured, then auctioned, with their phases marked; how many sold.
    The part before it ended with a mark; the part after it (``_SKIP``) ends at the next."""
    from bench.cost import (
        AUCTION_PHASES,
        CAPTURE_PHASES,
        auctions_run,
        auctions_unstarted,
        captures_post,
        captures_send,
        lead_pks,
        sold_count,
    )

    count = job["phase_leads"]
    # a lead first, unmarked and not counted: what the caches had let expire is read again
    warm = lead_pks(captures_post(client, job["slug"], consumer, 1))
    auctions_run(warm)
    with _caches_held():
        # the patch of task_enqueue is set up outside the marks: not the platform's cost
        with auctions_unstarted(), PhaseMarks(
                labels, "capture", "request handling (Django, DRF)").patched(CAPTURE_PHASES):
            public_ids = captures_send(client, job["slug"], consumer + 1, count)
        lead_ids = lead_pks(public_ids)
        labels.append(_SKIP)
        _mark()
        with PhaseMarks(labels, "auction", "other (auction thread)").patched(AUCTION_PHASES):
            auctions_run(lead_ids)
    labels.append(_SKIP)  # the set-up's tear-down and the count below: the next mark's
    return sold_count(warm + lead_ids)


class _HeldClock:
    """``time`` with ``monotonic`` stopped at ``at``."""

    def __init__(self, at: float) -> None:
        self._at = at

    def monotonic(self) -> float:
        return self._at

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@contextlib.contextmanager
def _caches_held() -> Iterator[None]:
    """The per-process caches' clocks stopped for the block: a dump per phase entry and
    exit slows a lead to some 30 s, so their 10 s entries would expire inside every phase
    lead, where a running server re-reads them once per 10 s over hundreds of leads. The
    deadlines and timeouts keep the real clock."""
    from apps.auctions import setups
    from apps.core import cache

    held = _HeldClock(time.monotonic())
    modules = (cache, setups)
    for module in modules:
        module.time = held  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module in modules:
            module.time = time  # type: ignore[attr-defined]


def valgrind_pid(valgrind_stderr: str) -> int:
    """The child's pid, from valgrind's ``==<pid>==`` lines."""
    found = re.search(r"^==(\d+)==", valgrind_stderr, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no valgrind output: {valgrind_stderr[-2000:]}")
    return int(found.group(1))


def dump_totals(out_dir: Path, pid: int) -> dict[int, dict[int, int]]:
    """Instructions per dump (1, 2, … in order; 0 is the one at exit) and per thread (1 is
    the main thread), from the ``totals:`` (or ``summary:``) line of each callgrind file of
    process ``pid``."""
    totals: dict[int, dict[int, int]] = {}
    prefix = f"callgrind.out.{pid}"
    for path in out_dir.glob(f"{prefix}*"):
        found = _DUMP.match(path.name[len(prefix):])
        if found is None:
            continue
        part, thread = int(found.group(1) or 0), int(found.group(2))
        totals.setdefault(part, {})[thread] = _total(path)
    return totals


def _total(path: Path) -> int:
    summary = None
    with path.open() as lines:
        for line in lines:
            if line.startswith("totals:"):
                return int(line.split()[1])
            if line.startswith("summary:"):
                summary = int(line.split()[1])
    if summary is None:
        raise RuntimeError(f"{path}: no totals")
    return summary


def _figures(child: dict[str, Any], by_part: dict[int, dict[int, int]], per_batch: int,
             batches: int) -> dict[str, Any]:
    labels: list[str] = child["parts"]
    dumped = sorted(part for part in by_part if part)
    if dumped != list(range(1, len(labels) + 1)):
        raise RuntimeError(f"callgrind dumps {dumped} for {len(labels)} parts")
    main: dict[str, list[float]] = {"capture": [], "auction": []}
    phases: dict[str, float] = {}
    for number, label in enumerate(labels, start=1):
        if label in main:
            main[label].append(by_part[number].get(1, 0) / per_batch)
        elif ": " in label:  # a phase lead's part: "<lead part>: <phase>"
            phases[label] = phases.get(label, 0) + by_part[number].get(1, 0)
    others = sum(n for threads in by_part.values() for t, n in threads.items() if t != 1)
    return {
        "leads": per_batch * batches, "batches": batches, "warmup": child["warmup"],
        "sold": child["sold"], "not_sold": child["not_sold"],
        "instructions_per_lead": {part: _spread(values) for part, values in main.items()},
        "sold_sync_lead": round(statistics.fmean(main["capture"])
                                + statistics.fmean(main["auction"])),
        # the other threads, from the first batch to the exit, over the leads counted
        "other_threads_per_lead": round(others / (per_batch * batches)),
        **_phase_figures(phases, child.get("phase_leads", 0)),
        "method": "valgrind --tool=callgrind, a dump between parts (bench.instructions)",
    }


def _phase_figures(phases: dict[str, float], leads: int) -> dict[str, Any]:
    """Per lead part, each phase's instructions per lead (most first) and their sum."""
    if not leads:
        return {"phases": "not measured"}
    by_part: dict[str, dict[str, int]] = {}
    for label, total in sorted(phases.items(), key=lambda item: -item[1]):
        part, phase = label.split(": ", 1)
        by_part.setdefault(part, {})[phase] = round(total / leads)
    return {"phases": by_part, "phase_leads": leads,
            "phases_marked_total": {part: sum(counts.values())
                                    for part, counts in by_part.items()}}


def _spread(values: list[float]) -> dict[str, int]:
    return {"mean": round(statistics.fmean(values)), "min": round(min(values)),
            "max": round(max(values))}


# Valgrind's client request on x86-64, as valgrind.h's VALGRIND_DO_CLIENT_REQUEST_EXPR
# emits it: the special preamble (rotations of rdi that add up to none), then
# ``xchg rbx, rbx``; rax points at [request, arg1 … arg5], the answer comes back in rdx
# (its default, 0, when the program does not run under valgrind).
_CLIENT_REQUEST_X86_64 = bytes.fromhex(
    "4889f8"  # mov rax, rdi: the arguments
    "31d2"  # xor edx, edx: the default answer
    "48c1c703" "48c1c70d" "48c1c73d" "48c1c733"  # rol rdi, 3 / 13 / 61 / 51
    "4887db"  # xchg rbx, rbx: the request
    "4889d0"  # mov rax, rdx
    "c3")  # ret
_RUNNING_ON_VALGRIND = 0x1001
_START_INSTRUMENTATION = 0x43540004  # callgrind.h: VG_USERREQ_TOOL_BASE('C','T') + 4


def client_request() -> Any:
    """A function sending valgrind a client request (``request(code) -> answer``), or None
    off x86-64. It lets the child start callgrind's instrumentation once it is set up and
    warm: the start-up runs uninstrumented, about 6x faster (``--instr-atstart=no``)."""
    import ctypes
    import mmap
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    memory = mmap.mmap(-1, mmap.PAGESIZE,
                       prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    memory.write(_CLIENT_REQUEST_X86_64)
    address = ctypes.addressof(ctypes.c_char.from_buffer(memory))
    call = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_void_p)(address)

    def request(code: int) -> int:
        arguments = (ctypes.c_ulong * 6)(code, 0, 0, 0, 0, 0)
        return int(call(ctypes.addressof(arguments)))

    request.memory = memory  # type: ignore[attr-defined]  # the code lives as long as it
    return request


def _mark() -> None:
    """The end of a part: callgrind dumps on entering ``getloadavg``."""
    os.getloadavg()


def _child(job: dict[str, Any]) -> dict[str, Any]:
    """Runs under callgrind: the warm-up, then each batch's captures and auctions, with a
    mark after each part; the parts' labels in order, and how many leads sold."""
    from apps.core.process import process_tune
    from bench.cost import api_client, auctions_run, captures_post, lead_pks, sold_count
    from bench.setup import django_boot

    django_boot(BENCH_VAR / "instructions.log", migrate=False)
    process_tune()
    client = api_client(job["source_key"])
    consumer, parts = job["first"], ["start-up and warm-up"]
    auctions_run(lead_pks(captures_post(client, job["slug"], consumer, job["warmup"])))
    consumer += job["warmup"]
    if job["instrument"]:  # callgrind started without instrumentation
        request = client_request()
        if request is None or not request(_RUNNING_ON_VALGRIND):
            raise RuntimeError("not under valgrind, or its client request failed")
        request(_START_INSTRUMENTATION)
    sold = 0
    for _ in range(job["batches"]):
        _mark()
        public_ids = captures_post(client, job["slug"], consumer, job["per_batch"])
        consumer += job["per_batch"]
        _mark()
        lead_ids = lead_pks(public_ids)
        _mark()
        auctions_run(lead_ids)
        _mark()
        sold += sold_count(lead_ids)
        parts += ["capture", _SKIP, "auction", _SKIP]
    _mark()
    leads = job["batches"] * job["per_batch"]
    if job.get("phase_leads"):
        sold += _phases_run(job, client, consumer, parts)
        leads += job["phase_leads"] + 1  # and the unmarked lead before them
        _mark()
    # the rest is the shutdown, in the file without a part number
    return {"parts": parts, "warmup": job["warmup"], "sold": sold, "not_sold": leads - sold,
            "phase_leads": job.get("phase_leads", 0)}


if __name__ == "__main__":
    print(json.dumps(_child(json.loads(sys.argv[1]))), flush=True)
