"""Reading the simulator's ``--log``: when each buyer received each ping and answered it.

The simulator stamps both with ``time.time()``, the clock of the platform's timestamps, and
writes its log once a second (see apps.demo.simulator.request_log).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

FLUSH_WAIT_S = 1.3  # the simulator writes its log every second


def ping_answers(path: Path | None, *, wait: bool = True) -> list[dict[str, Any]]:
    """Every ping the simulator answered, as logged (``path``, ``t_received``, ``t_answered``,
    ``latency_ms_requested``); waits for the pending lines first when ``wait``."""
    if path is None:
        return []
    if wait:
        time.sleep(FLUSH_WAIT_S)
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as lines:
        return [entry for entry in map(json.loads, lines) if entry.get("kind") == "ping"]
