"""``python -m bench.scaleout``'s pure parts: its options, the exactness verdicts fed with
rows, and the Redis/PostgreSQL per-lead arithmetic. (The run itself needs root and network
namespaces: it is a bench, not a test.)"""

from __future__ import annotations

import argparse
from collections import Counter
from decimal import Decimal

import pytest

from bench.opcount import monitor_line_counted, pg_per_lead, redis_per_lead
from bench.scaleout import Layout, arguments, counts_parse, layouts_parse
from bench.scaleout_checks import caps_verdict, dedupe_verdict, health_verdict


def test_layouts_are_web_by_workers_comma_separated() -> None:
    assert layouts_parse("1x1, 2X2,1x3") == [Layout(1, 1), Layout(2, 2), Layout(1, 3)]
    assert Layout(2, 1).label == "2x1"


@pytest.mark.parametrize("text", ["2", "2x", "x2", "0x1", "1x5", "ax1", "1x1,,2x2"])
def test_a_layout_that_is_not_one_to_four_of_each_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        layouts_parse(text)


def test_defaults_compare_one_host_of_each_with_two() -> None:
    args = arguments([])
    assert (args.layouts, args.clients) == ([Layout(1, 1), Layout(2, 2)], [8, 16, 24])
    assert arguments(["--layouts", "2x1", "--clients", "8"]).clients == [8]
    with pytest.raises(SystemExit):
        arguments(["--clients", "0"])
    assert counts_parse("4,8") == [4, 8]


def _caps(**changes: object) -> bool:
    figures: dict = {"cap": 15, "offered": 40, "capped_sales": 15,
                     "counter_used": Decimal(15), "sales_per_lead": [1] * 40}
    figures.update(changes)
    return caps_verdict(**figures).ok


def test_caps_hold_when_the_capped_contract_sold_exactly_its_cap_and_its_counter_agrees() -> None:
    assert _caps()
    assert _caps(offered=10, capped_sales=10, counter_used=Decimal(10),
                 sales_per_lead=[1] * 10)  # fewer leads than the cap: all of them


@pytest.mark.parametrize("changes", [
    {"capped_sales": 16, "counter_used": Decimal(16)},  # oversold
    {"capped_sales": 14, "counter_used": Decimal(14)},  # a reservation lost
    {"counter_used": Decimal(16)},  # counter leaked
    {"sales_per_lead": [1] * 39 + [2]},  # a lead sold twice
])
def test_caps_fail_on_any_difference(changes: dict) -> None:
    assert not _caps(**changes)


def test_a_lead_nobody_bought_in_time_is_counted_not_failed() -> None:
    verdict = caps_verdict(cap=15, offered=35, capped_sales=15, counter_used=Decimal(15),
                           sales_per_lead=[1] * 35 + [0] * 5)
    assert verdict.ok
    assert (verdict.figures["leads"], verdict.figures["unsold"]) == (40, 5)


def test_dedupe_holds_with_one_accepted_submission_and_one_stored_original_each() -> None:
    answers = [("a", 202, "received"), ("a", 409, "duplicate"), ("a", 409, "duplicate"),
               ("b", 409, "duplicate"), ("b", 202, "received")]
    verdict = dedupe_verdict(answers, {"a": 1, "b": 1})
    assert verdict.ok
    assert (verdict.figures["accepted"], verdict.figures["duplicates"]) == (2, 3)


@pytest.mark.parametrize("answers,stored", [
    ([("a", 202, "received"), ("a", 202, "received")], {"a": 1}),  # accepted twice
    ([("a", 409, "duplicate"), ("a", 409, "duplicate")], {"a": 1}),  # none accepted
    ([("a", 202, "received"), ("a", 500, None)], {"a": 1}),  # an error is no answer
    ([("a", 202, "received"), ("a", 409, "duplicate")], {"a": 2}),  # stored twice
    ([("a", 202, "received"), ("a", 409, "duplicate")], {}),  # not stored
])
def test_dedupe_fails_on_a_second_acceptance_or_a_wrong_answer(answers: list,
                                                               stored: dict) -> None:
    assert not dedupe_verdict(answers, stored).ok


def test_health_holds_with_one_pause_after_exactly_the_limit_shared_by_two_workers() -> None:
    assert health_verdict(limit=6, pauses=1, pings=6, paused=True,
                          pings_by_worker={"w0": 3, "w1": 3}, workers=2).ok
    assert health_verdict(limit=6, pauses=1, pings=6, paused=True,
                          pings_by_worker={"w0": 6}, workers=1).ok


@pytest.mark.parametrize("changes", [
    {"pings": 7},  # pinged after it should have been paused (a streak per process)
    {"pings": 5},
    {"pauses": 2},  # paused twice: two processes each tripped
    {"pauses": 0, "paused": False},
    {"pings_by_worker": {"w0": 6, "w1": 0}},  # one worker did it all: sharing untested
])
def test_health_fails_when_the_streak_was_not_shared_or_paused_twice(changes: dict) -> None:
    figures: dict = {"limit": 6, "pauses": 1, "pings": 6, "paused": True,
                     "pings_by_worker": {"w0": 2, "w1": 4}, "workers": 2}
    figures.update(changes)
    assert not health_verdict(**figures).ok


def test_monitor_counts_the_bench_db_from_the_hosts_and_their_scripts_only() -> None:
    def counted(line: str) -> str | None:
        return monitor_line_counted(line, 5, "10.231.0.")

    assert counted('+1765000000.123456 [5 10.231.0.2:41234] "evalsha" "abc" "2"') == "EVALSHA"
    assert counted('+1765000000.123456 [5 lua] "SET" "health:1:slow" "0"') == "SET"
    assert counted('+1765000000.123456 [5 127.0.0.1:5000] "GET" "x"') is None  # harness
    assert counted('+1765000000.123456 [13 10.231.0.2:41234] "GET" "x"') is None  # other db
    assert counted('+1765000000.123456 [5 10.231.1.2:41234] "GET" "x"') is None
    assert counted("OK") is None


def test_redis_per_lead_takes_the_idle_polling_off() -> None:
    figures = redis_per_lead(Counter(BRPOP=10), 5.0,  # 2 a second while idle
                             Counter(BRPOP=30, EVALSHA=500, LPUSH=20), 10.0, 10)
    assert figures["per_lead"] == 53.0  # (550 - 2 * 10) / 10
    assert figures["raw_per_lead"] == 55.0
    assert figures["by_command_per_lead"] == {"EVALSHA": 50.0, "LPUSH": 2.0, "BRPOP": 1.0}


def test_pg_per_lead_adds_up_the_rows_written() -> None:
    before = {"xact_commit": 100, "xact_rollback": 0, "tup_inserted": 1000,
              "tup_updated": 50, "tup_deleted": 0, "tup_fetched": 9000}
    after = {"xact_commit": 250, "xact_rollback": 0, "tup_inserted": 1600,
             "tup_updated": 100, "tup_deleted": 10, "tup_fetched": 12000}
    figures = pg_per_lead(before, after, 10)
    assert (figures["rows_written"], figures["xact_commit"]) == (66.0, 15.0)
