"""``python -m bench.fanout_cost --spread LOW,HIGH``: the bounds it reads."""

from __future__ import annotations

import argparse

import pytest

from bench.fanout_cost import spread_bounds


def test_spread_reads_low_and_high_milliseconds():
    assert spread_bounds("10,250") == (10.0, 250.0)
    assert spread_bounds("0,0.5") == (0.0, 0.5)


@pytest.mark.parametrize("text", ["250", "a,b", "250,10", "-1,5", ""])
def test_spread_refuses_what_is_not_low_then_high(text):
    with pytest.raises(argparse.ArgumentTypeError):
        spread_bounds(text)
