"""Process start-up tuning for the web and worker processes.

Auctions are decided against millisecond deadlines, and CPython's full garbage collections
pause the whole process for tens of milliseconds once Django's import-time objects pile up
in the oldest generation. ``process_tune`` moves everything alive at start-up out of the
collector's sight (``gc.freeze``) and lets the young generation grow larger before it is
collected, so collections are rarer and much shorter. Before the freeze it runs the
warm-ups the apps registered (``process_warmup_register``, from their ``AppConfig.ready``:
the leads app builds its ZIP index, ~0.6 s), so that work happens at start-up rather than
inside the first lead's request, and what it built is frozen with the rest. Core calls
them without knowing them: it imports no app to its right.

It also shortens the GIL's switch interval from 5 ms to 1 ms: a thread woken by a buyer's
answer must get the interpreter back within a millisecond or two, but CPython hands the
GIL to a waiting thread only once the running thread has held it for the whole interval,
so with a few busy request threads a woken auction thread waited up to 5 ms per hand-off.

On the embedded SQLite database it moves WAL checkpoints (the only disk flushes) off the
request path into a background thread (``apps.core.sqlite_backend.checkpoints``).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable

_GEN0_THRESHOLD = 50_000
_SWITCH_INTERVAL_S = 0.001
_warmups: list[Callable[[], object]] = []


def process_warmup_register(warmup: Callable[[], object]) -> None:
    """Have ``process_tune`` call ``warmup()`` at start-up, before the freeze; registering
    the same function twice keeps one. Call it from an ``AppConfig.ready``."""
    if warmup not in _warmups:
        _warmups.append(warmup)


def process_tune() -> None:
    """Tune this web or worker process once it is set up: run the registered warm-ups, then
    freeze what is alive, enlarge the young generation, shorten the switch interval and
    (SQLite) checkpoint from a background thread."""
    from apps.core.sqlite_backend.checkpoints import wal_checkpoints_offload

    for warmup in _warmups:
        warmup()
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(_GEN0_THRESHOLD, gen1, gen2)
    sys.setswitchinterval(_SWITCH_INTERVAL_S)
    wal_checkpoints_offload()
