"""Pure helpers: API keys, error flattening, PII masking, rate-limit buckets."""

from __future__ import annotations

import pytest

from apps.core.exceptions import flatten_errors
from apps.core.keys import key_digest, key_generate, key_matches, key_prefix
from apps.core.logging import mask_pii
from apps.core.ratelimit import _MemoryBuckets


def test_a_generated_key_carries_its_prefix_and_matches_only_its_digest():
    new = key_generate("lx")

    assert new.key.startswith(f"lx_{new.prefix}_")
    assert key_prefix(new.key) == new.prefix
    assert key_matches(new.key, new.digest)
    assert not key_matches(new.key + "x", new.digest)
    assert new.key not in new.digest and new.digest == key_digest(new.key)


def test_generated_keys_are_unique():
    assert len({key_generate().key for _ in range(200)}) == 200


@pytest.mark.parametrize("key", ["", "lx", "lx_short_secret", "lx_abcdefgh_", "nounderscores"])
def test_a_malformed_key_has_no_prefix(key):
    assert key_prefix(key) is None


@pytest.mark.parametrize(("detail", "flat"), [
    ({"vertical": ["Required."]}, {"vertical": ["Required."]}),
    ({"consent": {"jornaya_leadid": ["Bad."]}}, {"consent.jornaya_leadid": ["Bad."]}),
    ({"non_field_errors": ["Nope."]}, {"body": ["Nope."]}),
    ({"drivers": [{}, {"age": ["Too young."]}]}, {"drivers.1.age": ["Too young."]}),
    (["Just a message."], {"body": ["Just a message."]}),
], ids=["flat", "nested", "non-field", "list-of-dicts", "bare-list"])
def test_errors_are_flattened_to_dotted_keys(detail, flat):
    assert flatten_errors(detail) == flat


@pytest.mark.parametrize(("text", "leaked"), [
    ("sent to jane.doe@example.com today", "jane.doe@example.com"),
    ("call +1 (212) 555-0147 now", "555-0147"),
    ("phone=2125550147", "2125550147"),
])
def test_pii_is_masked(text, leaked):
    assert leaked not in mask_pii(text)


def test_pii_masking_keeps_ordinary_values():
    line = "lead.received lead=7b462e23-aaa7-476a-a3ec-c1af3ebb4df0 latency_ms=123 status=202"
    assert mask_pii(line) == line


def test_a_bucket_allows_its_burst_then_refuses_with_a_wait():
    buckets = _MemoryBuckets()
    results = [buckets.take("k", capacity=3, rate=3 / 60) for _ in range(4)]

    assert [allowed for allowed, _ in results] == [True, True, True, False]
    assert 19 < results[-1][1] <= 20  # one token comes back after 60/3 seconds
