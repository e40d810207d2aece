"""A Celery worker killed (``kill -9``, its whole process group) while it runs auctions:
a new worker and the sweeper (``leads_redrive`` and the delivery retries, as beat runs them)
finish every lead the dead one held — the one it was auctioning, the post it had in flight,
the messages it had prefetched — with no lead sold twice and the daily cap exact."""

from __future__ import annotations

import pytest

from apps.auctions.models import Post, PostOutcome
from tests.reliability.conftest import celery_broker_use
from tests.reliability.market import (
    REDRIVE_AUCTIONING_S,
    REDRIVE_RECEIVED_S,
    assert_market_settled,
    lead_accept,
    market_create,
    market_statuses,
    sweeper_run,
    undecided,
)
from tests.reliability.workers import (
    PRODUCTION_OPTIONS,
    wait_for,
    worker_kill,
    worker_log,
    worker_start,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.slow]

LEADS = 16


def test_a_worker_killed_mid_auction_loses_no_lead_sells_none_twice_keeps_caps_exact(
        api_client, sim_url, settings, private_redis):
    broker = private_redis.url(0)
    settings.CELERY_BROKER_URL = broker
    celery_broker_use(broker)
    market = market_create(sim_url)
    first = worker_start(broker, *PRODUCTION_OPTIONS, "--loglevel", "WARNING",
                         new_session=True)
    second = None
    try:
        for _ in range(LEADS):
            lead_accept(api_client, market)
        # kill while a post is on the wire: its cap is reserved, the buyer may have it
        in_flight = wait_for(lambda: Post.objects.filter(outcome=PostOutcome.SENDING).exists(),
                             30, every=0.05)
        assert in_flight, worker_log(first)
        worker_kill(first)
        cut = list(Post.objects.filter(outcome=PostOutcome.SENDING).values_list("pk", flat=True))

        # the supervisor starts a worker again; beat runs the sweeper (thresholds shortened:
        # production waits 30 s for a received lead and 300 s for an auctioning one)
        second = worker_start(broker, *PRODUCTION_OPTIONS, "--loglevel", "WARNING",
                              new_session=True)
        settings.LEAD_REDRIVE_RECEIVED_S = REDRIVE_RECEIVED_S
        settings.LEAD_REDRIVE_AUCTIONING_S = REDRIVE_AUCTIONING_S
        settled = wait_for(lambda: undecided(market.leads) == 0, 50, every=1.0,
                           tick=sweeper_run)
        assert settled, (market_statuses(market), worker_log(second))
    finally:
        if second is not None and second.poll() is None:
            worker_kill(second)
        if first.poll() is None:
            worker_kill(first)

    assert cut  # the kill did land mid-post …
    # … and each post it cut was sent again (same buyer, same Idempotency-Key) and answered
    assert not Post.objects.filter(pk__in=cut, outcome=PostOutcome.SENDING).exists()
    assert_market_settled(market)
