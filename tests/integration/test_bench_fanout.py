"""The bench's fan-out row (row 8) runs both clients over the same 50 contracts."""

from __future__ import annotations

import pytest

from bench import fanout
from bench.setup import BUYERS, leads_create, world_create


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_requests_side_pings_and_parses_every_contract_like_ping_round(sim_url):
    world = world_create(sim_url, sim_url, seed=3)
    market = world.markets["burst"]  # 50 buyers, every one bids after 50 ms
    lead_id = leads_create(world, market, 600_000, 1)[0]

    result = fanout.fanout_cpu(market, lead_id, auctions=2)

    assert result["buyers"] == BUYERS
    assert result["bids_missing"] == {"ours": 0, "theirs": 0}
    assert result["auctions"] == 2  # BLOCKS alternating blocks of one auction per side
