"""The auction engine: pure functions over frozen dataclasses (no Django, no I/O, no clock).

``select_eligible`` → (the service pings) → ``rank_bids`` → ``post_plan`` → (the service
posts, falling back offer by offer). ``tests/unit/test_engine_is_pure.py`` keeps Django out.
"""

from apps.auctions.engine.eligibility import (
    consented,
    schedule_open,
    select_eligible,
    window_start,
)
from apps.auctions.engine.filters import filter_passes, filters_pass
from apps.auctions.engine.ranking import (
    best_shared_group,
    contract_floor,
    effective_bid,
    post_plan,
    rank_bids,
)
from apps.auctions.engine.types import (
    EXCLUDED,
    FAILED,
    OFFERED,
    PINGED,
    Bid,
    CapState,
    ContractTerms,
    Eligibility,
    Exclusion,
    FilterRule,
    LeadFacts,
    Mode,
    Offer,
    Outcome,
    RankedBid,
    Ranking,
    Window,
)

__all__ = [
    "EXCLUDED", "FAILED", "OFFERED", "PINGED",
    "Bid", "CapState", "ContractTerms", "Eligibility", "Exclusion", "FilterRule", "LeadFacts",
    "Mode", "Offer", "Outcome", "RankedBid", "Ranking", "Window", "best_shared_group",
    "consented", "contract_floor", "effective_bid", "filter_passes", "filters_pass", "post_plan",
    "rank_bids", "schedule_open", "select_eligible", "window_start",
]
