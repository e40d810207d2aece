"""The bench's ping-overhead bound: the buyers' latencies as the simulator logged them."""

from __future__ import annotations

from bench.auctions import AuctionTimes, RunResult, _LoggedLatencies
from bench.setup import Market


def _market() -> Market:
    return Market(scenario=None, vertical_id=1,  # type: ignore[arg-type]
                  latency_by_contract={1: 10.0, 2: 40.0, 3: None},
                  ping_path_by_contract={1: "/a/ping", 2: "/b/ping", 3: "/c/ping"})


def _answer(path: str, received: float, took_ms: float) -> dict:
    return {"path": path, "t_received": received, "t_answered": received + took_ms / 1000}


def test_the_bound_is_the_slowest_logged_answer_of_the_auction_window() -> None:
    logged = _LoggedLatencies(_market(), [
        _answer("/a/ping", 100.001, 10.4), _answer("/b/ping", 100.002, 41.3),
        _answer("/a/ping", 200.001, 10.2), _answer("/b/ping", 200.001, 40.6),
        _answer("/elsewhere/ping", 100.003, 900.0),  # another market's buyer
    ])
    assert round(logged.max_ms(100.0, 100.05), 3) == 41.3
    assert round(logged.max_ms(200.0, 200.05), 3) == 40.6


def test_no_logged_bound_when_a_buyer_of_the_market_has_no_line() -> None:
    logged = _LoggedLatencies(_market(), [_answer("/a/ping", 100.001, 10.4)])
    assert logged.max_ms(100.0, 100.05) is None


def test_overheads_use_the_logged_bound_where_there_is_one_else_the_configured() -> None:
    times = [AuctionTimes(1, t_ms=400.0, bids_ms=43.0, logged_latency_ms=41.5),
             AuctionTimes(2, t_ms=400.0, bids_ms=43.0),
             AuctionTimes(3, t_ms=30.0, bids_ms=31.0, logged_latency_ms=41.5)]
    result = RunResult(times, {"total": 0}, {}, 0.0, None, 1.0, {})
    assert result.overheads_ms(40.0) == [1.5, 3.0, 1.0]  # T caps the bound
    assert result.overheads_ms(40.0, logged=False) == [3.0, 3.0, 1.0]
