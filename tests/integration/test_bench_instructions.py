"""The bench's instruction count (``bench.instructions``): callgrind's count per lead."""

from __future__ import annotations

import sqlite3
from urllib.parse import urlsplit, urlunsplit

import pytest

from bench import instructions

# Two runs of the same leads must agree this closely. Measured here: the per-lead counts of
# two runs usually differ by under 1 % (the parts that follow the clock — libcurl's timers,
# poll wake-ups — are a small share of a lead's count), but on PostgreSQL two runs of 3 leads
# differed by 4 % once: whether a per-process row cache (10 s of the slowed clock) expires
# during so few leads moves them. A CPU-time figure on this machine swings by ±30 %, so 5 %
# still tells a count from a timing; one phase lead moves more.
AGREE = 0.05
PHASES_AGREE = 0.10


def _database_url(tmp_path) -> str:
    """A URL the child process can open on the test's data: on PostgreSQL the test
    database itself; on SQLite (in memory, this process only) a file copy of it."""
    import os

    from django.db import connection

    if connection.vendor == "postgresql":
        parts = urlsplit(os.environ["DATABASE_URL"])
        return urlunsplit(parts._replace(path=f"/{connection.settings_dict['NAME']}"))
    connection.ensure_connection()
    copy = tmp_path / "copy.sqlite3"
    target = sqlite3.connect(copy)
    connection.connection.backup(target)
    target.close()
    return f"sqlite:///{copy}"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_runs_count_the_same_instructions_per_lead_and_every_lead_sells(sim_url, tmp_path):
    if instructions.valgrind() is None:
        pytest.skip("valgrind is not installed: the instruction count needs it")
    world = instructions.instructions_world(sim_url, seed=3)
    market = world.markets["instructions"]
    database_url = _database_url(tmp_path)

    runs = [instructions.instruction_figures(world, market, first, leads=3, batches=1,
                                             warmup=3, phase_leads=1,
                                             database_url=database_url)
            for first in (2_000_000, 2_100_000)]

    for run in runs:
        assert (run["leads"], run["batches"], run["sold"], run["not_sold"]) == (3, 1, 5, 0)
        phases = run["phases"]
        assert set(phases["capture"]) == {
            "request handling (Django, DRF)", "validation + normalization", "enrichment",
            "dedupe", "store", "capture service"}
        assert {"ping build", "ping parse", "ping send (auction thread)", "ping rows",
                "sale + outcome writes", "other (auction thread)"} <= set(phases["auction"])
        for part in ("capture", "auction"):
            # the marks cost instructions of their own, in the parts around them: the sum
            # of the phases is a little over the unmarked leads' count, never under it
            marked, unmarked = (run["phases_marked_total"][part],
                                run["instructions_per_lead"][part]["mean"])
            assert unmarked <= marked <= 1.25 * unmarked, part
        for part in ("capture", "auction"):
            stats = run["instructions_per_lead"][part]
            assert 0 < stats["min"] <= stats["mean"] <= stats["max"]
        # an auction of 50 buyers costs more than a capture, and a sold sync lead is both
        per_lead = run["instructions_per_lead"]
        assert per_lead["auction"]["mean"] > per_lead["capture"]["mean"]
        assert run["sold_sync_lead"] == pytest.approx(
            per_lead["capture"]["mean"] + per_lead["auction"]["mean"], abs=1)
    for part in ("capture", "auction"):
        first, second = (run["instructions_per_lead"][part]["mean"] for run in runs)
        assert second == pytest.approx(first, rel=AGREE), part
        # one phase lead: a cache expiring during it moves its count more (5 % seen)
        first, second = (run["phases_marked_total"][part] for run in runs)
        assert second == pytest.approx(first, rel=PHASES_AGREE), part


def test_the_dumps_are_read_per_part_and_thread_and_bookkeeping_is_left_out(tmp_path):
    pid = 4242
    # callgrind.out.<pid>.<dump>-<thread>: dump 1 start-up, 2 capture, 3 between,
    # 4 auction, 5 between, all of thread 1 (the one that enters the marker)
    counts = {(1, 1): 900, (2, 1): 40, (3, 1): 7, (4, 1): 100, (5, 1): 3}
    for (part, thread), total in counts.items():
        (tmp_path / f"callgrind.out.{pid}.{part}-{thread:02d}").write_text(
            f"# callgrind format\nevents: Ir\nsummary: {total}\nfn=main\n0 {total}\n"
            f"totals: {total}\n")
    # at the exit: a file per thread without a part number; thread 2's count of the run
    (tmp_path / f"callgrind.out.{pid}-01").write_text("totals: 5\n")
    (tmp_path / f"callgrind.out.{pid}-02").write_text("totals: 12\n")
    (tmp_path / "callgrind.out.99.1-01").write_text("totals: 5\n")  # another process

    by_part = instructions.dump_totals(tmp_path, pid)
    figures = instructions._figures(
        {"parts": ["start-up", "capture", "between", "auction", "between"], "warmup": 1,
         "sold": 2, "not_sold": 0}, by_part, per_batch=2, batches=1)

    assert by_part[4] == {1: 100} and by_part[0] == {1: 5, 2: 12}
    assert figures["instructions_per_lead"] == {"capture": {"mean": 20, "min": 20, "max": 20},
                                                "auction": {"mean": 50, "min": 50, "max": 50}}
    assert figures["sold_sync_lead"] == 70
    assert figures["other_threads_per_lead"] == 6


def test_each_phase_part_is_summed_under_its_lead_part_and_phase(tmp_path):
    pid = 4343
    labels = ["start-up", "capture", "between", "auction", "between",
              "between", "capture: request handling", "capture: store",
              "capture: request handling", "between", "between",
              "auction: other", "auction: ping parse", "auction: other",
              "auction: ping parse", "auction: other", "between"]
    counts = [900, 40, 7, 100, 3, 1, 10, 20, 6, 2, 1, 30, 11, 4, 13, 8, 2]
    for part, total in enumerate(counts, start=1):
        (tmp_path / f"callgrind.out.{pid}.{part}-01").write_text(f"totals: {total}\n")

    figures = instructions._figures(
        {"parts": labels, "warmup": 1, "sold": 4, "not_sold": 0, "phase_leads": 2},
        instructions.dump_totals(tmp_path, pid), per_batch=2, batches=1)

    assert figures["phases"] == {"capture": {"store": 10, "request handling": 8},
                                 "auction": {"other": 21, "ping parse": 12}}
    assert figures["phases_marked_total"] == {"capture": 18, "auction": 33}
    assert figures["instructions_per_lead"]["auction"]["mean"] == 50


def test_phase_marks_label_each_part_with_the_innermost_phase_running(monkeypatch):
    marks: list[str] = []
    labels: list[str] = []
    monkeypatch.setattr(instructions, "_mark", lambda: marks.append(labels[-1]))
    import types

    module = types.ModuleType("phase_marks_example")
    module.inner = lambda: None

    def outer():
        module.inner()

    module.outer = outer
    import sys

    monkeypatch.setitem(sys.modules, "phase_marks_example", module)
    phases = (("outer phase", "phase_marks_example", "outer"),
              ("inner phase", "phase_marks_example", "inner"))
    with instructions.PhaseMarks(labels, "auction", "other").patched(phases):
        module.outer()

    assert labels == marks == ["between", "auction: other", "auction: outer phase",
                               "auction: inner phase", "auction: outer phase",
                               "auction: other"]
