"""``pii_mask``: every PII value becomes the one constant mask, whatever its shape; other
fields and empty values are kept (apps.leads.disclosure)."""

from __future__ import annotations

import pytest

from apps.leads.disclosure import HIDDEN_BODY, MASK, PersonalData, pii_mask


@pytest.mark.parametrize("value", ["jane.doe@example.com", "+12125550147", "Jo", 1985,
                                   {"line1": "12 Main St"}])
def test_a_pii_value_becomes_the_constant_mask(value):
    assert pii_mask({"x": value, "zip": "10001"}, {"x"}) == {"x": MASK, "zip": "10001"}


def test_empty_values_and_other_fields_are_kept():
    fields = {"email": "", "phone": None, "zip": "10001", "homeowner": False}

    assert pii_mask(fields, {"email", "phone", "missing"}) == fields


def test_the_mask_is_the_same_for_every_value():
    masked = pii_mask({"a": "x@y.z", "b": "a-much-longer-name@example.org"}, {"a", "b"})

    assert masked["a"] == masked["b"] == "•••"


@pytest.mark.parametrize(("revealed", "body", "shown"), [
    (False, '{"Email": "x@y.z"}', HIDDEN_BODY), (False, "", ""),
    (True, '{"Email": "x@y.z"}', '{"Email": "x@y.z"}')])
def test_a_post_body_is_hidden_whole_until_revealed(revealed, body, shown):
    data = PersonalData(fields={}, consent={}, consumer_ip=None, user_agent="",
                        revealed=revealed)

    assert data.body(body) == shown
