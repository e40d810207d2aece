"""The bench's wait between HTTP steps (``bench.load``): longer after an overloaded step,
whose auctions go on after their ``202`` and would run beside the next row."""

from __future__ import annotations

from bench import load


def test_after_an_overloaded_step_the_wait_is_the_backlog_s():
    kept_up, overloaded = {"clients": 8, "ok": True}, {"clients": 32, "ok": False}

    assert load._patience([]) is None
    assert load._patience([kept_up]) is None
    assert load._patience([kept_up, overloaded]) == load.BACKLOG_PATIENCE_S
    assert load._patience([overloaded, kept_up]) == load.BACKLOG_PATIENCE_S
