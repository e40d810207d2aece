"""Fixtures shared by the integration tests that run auctions against the simulator."""

from __future__ import annotations

import pytest

from tests.factories import process_warm, sim_reset


@pytest.fixture
def fresh_simulator(sim_url):
    """The shared simulator process with its buyers' state and request log cleared, and
    this process warmed up as a web process is (so the first auction is not the slow one)."""
    process_warm(sim_url)
    sim_reset(sim_url)
    return sim_url
