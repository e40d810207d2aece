"""How much a bench run does: ``Plan.quick()`` (``--quick``) or ``Plan.full()``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    """How much of everything a run does: ``--quick`` fits in under 3 minutes."""

    auctions: int  # sequential auction_run calls per in-process row
    concurrent_threads: int  # the deadline row's concurrent variant
    concurrent_auctions: int
    fanout_auctions: int  # per client, row 8
    sync_clients: int  # the rate search's first closed-loop step; it doubles from there
    sync_bisections: int  # then steps between the best good step and the first bad one
    step_warmup_s: float
    step_s: float
    e2e_s: float
    ping_post_s: float  # the ping-post rows' window, at the e2e row's rate …
    ping_post_min: int  # … made long enough for this many pings (a p99 worth reading)
    async_clients: int
    async_s: float
    phase_auctions: int  # the per-phase breakdown (diagnostic)
    cost_leads: int  # the cost figure: CPU per lead, by phase, over this many leads …
    cost_batches: int  # … in batches (the spread is the range of the batch means)
    settle_s: float  # the longest wait between HTTP steps for the server to finish the last
    instruction_leads: int  # the instruction count (callgrind): leads counted …
    instruction_batches: int  # … in batches (the spread is the range of the batch means)
    instruction_phase_leads: int  # … and per phase over this many more
    warmup_auctions: int = 5
    hang_budget_ms: float = 300.0  # T = (300 − 30) × 0.6 = 162 ms: the hang row goes faster

    @classmethod
    def quick(cls) -> Plan:
        return cls(auctions=40, concurrent_threads=4, concurrent_auctions=40,
                   fanout_auctions=40, sync_clients=8, sync_bisections=1, step_warmup_s=1.5,
                   step_s=5.0, e2e_s=12.0, ping_post_s=8.0, ping_post_min=220,
                   async_clients=32, async_s=6.0, phase_auctions=15, cost_leads=300,
                   cost_batches=3, settle_s=6.0, instruction_leads=20,
                   instruction_batches=2, instruction_phase_leads=1)

    @classmethod
    def full(cls) -> Plan:
        return cls(auctions=300, concurrent_threads=4, concurrent_auctions=200,
                   fanout_auctions=200, sync_clients=4, sync_bisections=2, step_warmup_s=3.0,
                   step_s=15.0, e2e_s=60.0, ping_post_s=40.0, ping_post_min=1000,
                   async_clients=32, async_s=20.0, phase_auctions=60, cost_leads=1500,
                   cost_batches=3, settle_s=20.0, instruction_leads=60,
                   instruction_batches=3, instruction_phase_leads=3)
