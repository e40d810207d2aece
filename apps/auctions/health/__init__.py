"""Buyer health: the circuit breaker (``breaker``), its streak storage (``storage``) and the
account manager's alerts (``alerts``)."""

from apps.auctions.health.breaker import (
    RULE_PAUSE_PREFIX,
    contract_go_live,
    contract_pause,
    contract_resume,
    contract_switch,
    health_observe,
)
from apps.auctions.health.storage import Observation

__all__ = ["RULE_PAUSE_PREFIX", "Observation", "contract_go_live", "contract_pause",
           "contract_resume", "contract_switch", "health_observe"]
