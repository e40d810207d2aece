"""Process start-up tuning for the web and worker processes.

Auctions are decided against millisecond deadlines, and CPython's full garbage collections
pause the whole process for tens of milliseconds once Django's import-time objects pile up
in the oldest generation. ``process_tune`` moves everything alive at start-up out of the
collector's sight (``gc.freeze``) and lets the young generation grow larger before it is
collected, so collections are rarer and much shorter. It also builds the ZIP index (~0.6 s)
now rather than inside the first lead's request.
"""

from __future__ import annotations

import gc

_GEN0_THRESHOLD = 50_000


def process_tune() -> None:
    from apps.leads.enrich import zip_lookup

    zip_lookup("10001")
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(_GEN0_THRESHOLD, gen1, gen2)
