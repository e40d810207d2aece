"""Synthetic leads with their whole auctions: a month of plausible business for the dashboards
and the reports benchmark (``manage.py generate_leads``). Development and benchmarks only.

The auctions are not replayed over HTTP but simulated with the real engine
(``select_eligible``, ``rank_bids``, ``post_plan``) over the real contract set-ups, each
buyer answering as its simulator URL says it would (bid range, no-bid and reject rates;
latencies drawn from a lognormal around the configured ones, so slow tails time out). Leads
arrive on a daily curve (US Eastern hours, quieter weekends); a lead's appeal (credit,
insurance, vehicle or home) moves how often buyers bid and how often they reject the post,
which is what leaves ~40 % of the accepted leads unsold. Caps, schedules, filters, blocked
sources, traffic shares and auto-pause windows exclude contracts with the engine's own codes.

Simplifications: every sale is exclusive (shared bids are recorded but never win), posts
are retried in real time only (no scheduled retries), request/response bodies are empty.

Everything written is marked: leads carry ``sub_id="synthetic"`` (their auctions, pings,
posts and sales hang off them); buyers, sources and health events made here say
"(synthetic)". ``synthetic_clear`` removes exactly those rows.
"""

from apps.demo.synthetic.services import GenerateResult, synthetic_clear, synthetic_generate
from apps.demo.synthetic.world import EASTERN, MARK, SUFFIX, SYNTHETIC_BUYERS

__all__ = ["EASTERN", "MARK", "SUFFIX", "SYNTHETIC_BUYERS", "GenerateResult", "synthetic_clear",
           "synthetic_generate"]
