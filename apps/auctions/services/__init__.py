"""Auction services: ``auction_run`` (the whole auction of a lead) and the delivery retries."""

from apps.auctions.services.outcome import lead_finalize, post_retry_run
from apps.auctions.services.run import auction_run

__all__ = ["auction_run", "lead_finalize", "post_retry_run"]
