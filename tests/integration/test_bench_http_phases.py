"""The cost figure through HTTP (``bench.http_phases``): phases timed inside a web worker."""

from __future__ import annotations

import os
import signal
import threading
import time
from types import SimpleNamespace

import pytest

from bench import http_phases
from bench.cost import CpuPhases


def test_phases_nest_per_thread_and_add_up_across_threads():
    phases = CpuPhases()
    inner = phases.wrap("inner", lambda: sum(range(300_000)))

    def outer() -> None:
        sum(range(300_000))
        inner()

    wrapped_outer = phases.wrap("outer", outer)
    spent: list[float] = []

    def thread() -> None:
        started = time.thread_time()
        for _ in range(5):
            wrapped_outer()
        spent.append(time.thread_time() - started)

    threads = [threading.Thread(target=thread) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    totals = phases.snapshot()
    assert set(totals) == {"inner", "outer"}
    # each thread's inner time is taken out of its own outer phase only, so the two add up
    # to the four threads' time, once
    assert sum(totals.values()) == pytest.approx(sum(spent), rel=0.05)
    assert 0.2 * sum(spent) < totals["inner"] < 0.8 * sum(spent)


def test_per_lead_is_each_phase_s_growth_and_the_rest_is_outside():
    before = {1: {"cpu_s": 10.0, "phases": {"a": 1.0, "b": 2.0}},
              2: {"cpu_s": 20.0, "phases": {"a": 0.5}}}
    after = {1: {"cpu_s": 11.0, "phases": {"a": 1.4, "b": 2.0}},
             2: {"cpu_s": 21.0, "phases": {"a": 0.7, "c": 0.3}}}

    figures = http_phases.per_lead(before, after, leads=100)

    assert figures == {"a": 6.0, "c": 3.0, http_phases.OUTSIDE: 11.0,
                       http_phases.WEB_TOTAL: 20.0}  # b never grew: left out


def test_a_worker_times_its_phases_and_answers_sigwinch_with_a_snapshot(tmp_path, monkeypatch):
    from apps.leads import services

    monkeypatch.setenv(http_phases.DIR_ENV, str(tmp_path))
    original = services.fields_validate
    worker = SimpleNamespace(wsgi=lambda environ, start: sum(range(200_000)))
    handler = signal.getsignal(signal.SIGWINCH)

    undo = http_phases.worker_install(worker)
    try:
        assert services.fields_validate is not original  # the capture's phases are wrapped
        worker.wsgi({}, None)
        os.kill(os.getpid(), signal.SIGWINCH)  # the handler runs before the next bytecode
        worker.wsgi({}, None)
        os.kill(os.getpid(), signal.SIGWINCH)
    finally:
        undo.close()

    assert services.fields_validate is original
    assert signal.getsignal(signal.SIGWINCH) == handler
    (first, second), = http_phases.snapshots_read(tmp_path).values()
    request = http_phases.REQUEST
    assert 0 < first["phases"][request] < second["phases"][request]
    assert second["cpu_s"] > first["cpu_s"]
