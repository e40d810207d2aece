"""``bench.claim_commit``: the claim timed in alternating blocks, with its commit as shipped
and left to wait."""

from __future__ import annotations

import pytest

from apps.auctions.services import run
from apps.core.sql import sql_unflushed
from apps.leads.models import Lead, LeadStatus
from bench import claim_commit
from bench.cost import api_client, captures_post, lead_pks
from bench.setup import world_create


@pytest.mark.django_db(transaction=True)
def test_each_side_claims_its_blocks_and_the_statement_is_put_back(sim_url):
    world = world_create(sim_url, sim_url, seed=3)
    market = world.markets["cost"]
    lead_ids = lead_pks(captures_post(api_client(world.source_key), market.slug, 1, 6))

    times = claim_commit.claims_timed(lead_ids, blocks=3, per_block=2,
                                      unflushed=sql_unflushed)

    assert [len(times["waits"]), len(times["unflushed"])] == [4, 2]  # blocks 0 and 2 wait
    assert all(t > 0 for side in times.values() for t in side)
    assert set(Lead.objects.filter(pk__in=lead_ids).values_list("status", flat=True)) == {
        LeadStatus.AUCTIONING}
    assert run.sql_unflushed is sql_unflushed
