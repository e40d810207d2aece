"""What every KPI means, in the words the dashboards (tooltips, footnotes) and the KPI API
(``definitions``) show next to the numbers."""

from __future__ import annotations

DEFINITIONS: dict[str, str] = {
    "received": "Every submission, rejected and duplicate ones included (test leads never).",
    "accepted": "Received minus rejected minus duplicates: leads that went to auction.",
    "rejected": "Submissions refused for invalid input (400).",
    "rejection_rate": "Rejected ÷ received: submissions refused for invalid input.",
    "duplicates": "Submissions refused as duplicates (409).",
    "sold": "Accepted leads that at least one buyer took.",
    "unsold": "Accepted leads no buyer took.",
    "sell_through": "Sold ÷ accepted.",
    "revenue": "What buyers pay for the sold leads, by the hour each lead was received; "
               "grouped by buyer or contract, or with a buyer filter, what the buyers paid "
               "by the hour of each sale.",
    "payouts": "What sources earn for them.",
    "margin": "Revenue − payouts.",
    "revenue_per_lead": "Revenue ÷ accepted leads (average revenue per lead).",
    "deliver_p50_ms": "Median time from receipt to sale (ms), sold leads.",
    "deliver_p95_ms": "95th percentile of the time from receipt to sale (ms).",
    "pings_received": "Pings sources sent (POST /api/v1/pings) before posting their leads, "
                      "by the hour received; test pings never.",
    "pings_bid": "Source pings answered with a bid (a price promised to the source).",
    "ping_bid_rate": "Source pings answered with a bid ÷ pings received.",
    "avg_bid_offered": "What the bids promised the sources, on average: the sum of the bids "
                       "÷ pings answered with a bid.",
    "pings_posted": "Pings with a bid whose lead the source then posted.",
    "ping_post_rate": "Pings posted ÷ pings answered with a bid (ping → post rate).",
    "pings_expired": "Pings with a bid never posted before their expiry (the held room went "
                     "back to the buyers).",
    "pings_sold": "Posted pings whose lead sold (its revenue is in the lead figures).",
    "pings": "Pings sent to buyers (direct-post offers included).",
    "bids": "Pings answered with a price (including bids under the floor).",
    "bids_below_floor": "Bids under the floor (the vertical's, source's or contract's "
                        "minimum price): counted in bids, never ranked.",
    "bid_rate": "Bids ÷ pings.",
    "avg_bid": "Average price bid.",
    "wins": "Leads sold to the buyer.",
    "win_rate_pings": "Wins ÷ pings: how often a ping ends in a sale.",
    "win_rate_bids": "Wins ÷ bids: how often a bid ends in a sale.",
    "posts": "Post attempts that got an answer or failed (retries included).",
    "post_rejects": "Posts the buyer rejected.",
    "post_reject_rate": "Post rejects ÷ answered posts (accepted + rejected).",
    "timeouts_pct": "Pings with no answer by the deadline ÷ pings, in percent (0–100).",
    "latency_p50_ms": "Median buyer answer time to pings (ms).",
    "latency_p95_ms": "95th percentile buyer answer time to pings (ms).",
    "auto_pauses": "Times the circuit breaker paused a contract.",
    "returns": "Approved returns: sales buyers gave back and got credited for. Like every "
               "after-sale figure, counted in the hour the lead was received (its cohort), "
               "so a return approved today changes the day the lead came in.",
    "returns_pending": "Returns filed and not decided yet (they change no money until "
                       "approved).",
    "returns_rejected": "Returns refused: the sale stands.",
    "return_rate": "Approved returns ÷ sold leads received in the range (÷ wins by buyer or "
                   "contract).",
    "credits": "Returned revenue: what approved returns give back to buyers (the sale "
               "price). Pending and rejected returns do not count.",
    "net_revenue": "Revenue − credits.",
    "clawbacks": "What approved returns take back from sources (their payout for the sale; "
                 "0 where the source's policy absorbs returns).",
    "net_payout": "Payouts − clawbacks.",
    "net_margin": "Net revenue − net payout.",
    "conversions": "Conversion events buyers reported (contacted, quoted, sold …), each "
                   "(lead, buyer, event) once.",
    "converted_leads": "Sold leads with at least one conversion (by buyer or contract: "
                       "leads that buyer converted).",
    "conversion_rate": "Converted leads ÷ sold leads (÷ wins by buyer or contract).",
    "conversion_value": "The sum of the values buyers reported with their conversions.",
}
