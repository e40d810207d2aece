"""The bench's ping-post rows: the load generator pings and posts through HTTP, and both
figures (ping answer overhead, post-after-ping overhead) come out of its records."""

from __future__ import annotations

import argparse
import asyncio

import pytest

from bench import loadgen, pingpost, setup
from bench.consumers import PII_KEYS
from bench.load import Step


def test_the_bench_pings_carry_exactly_the_verticals_non_pii_fields() -> None:
    assert {spec["key"] for spec in setup._FIELDS if spec.get("pii")} == PII_KEYS


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_few_pings_and_their_posts_give_both_overheads(sim_url, live_server):
    world = setup.world_create(sim_url, sim_url, seed=3)
    market = world.markets["http"]  # the spread buyers: 10–250 ms, posts 20 ms
    # the first pair (a cold server) falls in the warm-up second, which is not recorded
    args = argparse.Namespace(
        url=[live_server.url], key=world.source_key, vertical=market.slug, first=5_000_000,
        mode="closed", clients=1, rate=0.0, warmup=1.0, duration=2.0, async_capture=False,
        ping_post=True, seed=1)

    result = asyncio.run(loadgen.run(args))
    step = Step(result["records"], result["errors"], result["window_s"], {},
                result["arrival_lag_ms_max"], result["answers_by_status"])
    figures = pingpost.ping_post_figures(world, market, step)

    pings = len(step.records)
    assert pings >= 2
    assert (figures["pings_answered"], figures["bid"], figures["posted"], figures["sold"]) == (
        pings, pings, pings, pings)  # every buyer bids and takes its post
    assert figures["no_bid"] == figures["posts_not_sold"] == figures["ping_failed"] == 0
    assert figures["lost_in_time_bids"] == 0
    t_ms, bound = pingpost.ping_bound_ms(world, market)
    assert bound == 250.0 < t_ms  # the slowest buyer, well inside the ping budget
    assert figures["ping_overhead_ms"]["n"] == figures["post_overhead_ms"]["n"] == pings
    # a ping cannot answer before its slowest buyer, nor a post before its buyer took it
    assert 0 < figures["ping_overhead_ms"]["p50"] <= figures["ping_overhead_ms"]["p99"]
    assert 0 < figures["post_overhead_ms"]["p50"] <= figures["post_overhead_ms"]["p99"]
    assert figures["ping_overhead_parts_ms"]["ping round − bound"]["n"] == pings
    assert figures["post_overhead_parts_ms"]["stored → sold − Σ post lat."]["n"] == pings
