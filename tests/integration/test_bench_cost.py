"""The bench's cost figure (``bench.cost``): CPU per lead by phase, adding up to the total."""

from __future__ import annotations

import pytest

from bench import cost
from bench.setup import BUYERS, world_create


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_cost_figure_splits_each_leads_cpu_into_phases_that_add_up(sim_url):
    world = world_create(sim_url, sim_url, seed=3)

    result = cost.cost_figures(world, world.markets["cost"], 1_000_000, leads=4, batches=2,
                               warmup=1)

    assert (result["leads"], result["batches"], result["buyers"]) == (4, 2, BUYERS)
    assert (result["sold"], result["not_sold"]) == (4, 0)
    for part, phases in (("capture_cpu_ms", {"validation + normalization", "dedupe", "store",
                                             "request handling (Django, DRF)"}),
                         ("auction_cpu_ms", {"claim + load", "eligibility", "ping build",
                                             "ping parse", "rank", "ping rows", "post",
                                             "sale + outcome writes", "HTTP loop thread"})):
        figures = result[part]
        assert phases <= set(figures), part
        # statements per lead: whole numbers here (every lead of a batch does the same)
        reads, writes = figures.pop("#database reads"), figures.pop("#database writes")
        figures.pop("#savepoints and such")
        assert reads["mean"] >= 1 and writes["mean"] >= 1
        assert reads["min"] == reads["max"] and writes["min"] == writes["max"]
        total = figures.pop("total")
        assert total["min"] <= total["mean"] <= total["max"] and total["mean"] > 0
        # exclusive phases: they add up to the total (to the rounding of each)
        assert sum(f["mean"] for f in figures.values()) == pytest.approx(total["mean"],
                                                                          abs=0.01 * len(figures))


def test_nested_phases_count_once():
    import time

    phases = cost.CpuPhases()

    def inner():
        sum(range(1_000_000))

    def outer():
        sum(range(1_000_000))
        wrapped_inner()

    wrapped_inner = phases.wrap("inner", inner)
    started = time.thread_time()
    phases.wrap("outer", outer)()
    spent = time.thread_time() - started

    assert set(phases.totals) == {"inner", "outer"}
    # the outer phase is charged without the inner one: together they are the time spent once
    assert sum(phases.totals.values()) == pytest.approx(spent, rel=0.05)
    assert phases.totals["outer"] < 0.8 * spent
