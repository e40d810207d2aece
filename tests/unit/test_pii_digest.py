"""Keyed digests of personal data (apps.core.pii) and a lead's consumer (apps.leads.consumers):
no database."""

from __future__ import annotations

import hashlib

import pytest

from apps.core.exceptions import FieldErrors
from apps.core.pii import pii_digest
from apps.leads.consumers import consumer_digests_parse, consumer_keys
from apps.sources.models import FieldType, VerticalField


def test_a_digest_depends_on_the_key_and_the_kind(settings):
    settings.PII_DIGEST_KEY = "one-key"
    first = pii_digest("email", "jane@example.com")
    assert len(first) == 64
    assert first != hashlib.sha256(b"jane@example.com").hexdigest()  # keyed, not plain
    assert first != pii_digest("phone", "jane@example.com")
    settings.PII_DIGEST_KEY = "another-key"
    assert pii_digest("email", "jane@example.com") != first


def test_staff_input_is_normalized_like_a_captured_lead():
    email, phone = consumer_digests_parse(email=" Jane.Doe@EXAMPLE.com", phone="212-555-0147")
    assert email == pii_digest("email", "jane.doe@example.com")
    assert phone == pii_digest("phone", "+12125550147")
    assert consumer_digests_parse(email=None, phone="+1 (212) 555 0147") == ("", phone)


def test_staff_input_names_what_is_wrong():
    with pytest.raises(FieldErrors) as raised:
        consumer_digests_parse(email="jane@", phone=" ")
    assert list(raised.value.errors) == ["email"]


def test_a_leads_consumer_is_the_first_email_and_phone_field_of_its_schema():
    schema = [VerticalField(key="name", type=FieldType.TEXT),
              VerticalField(key="work_phone", type=FieldType.PHONE),
              VerticalField(key="email", type=FieldType.EMAIL),
              VerticalField(key="home_phone", type=FieldType.PHONE)]
    keys = consumer_keys(schema, {"name": "Jane", "email": "j@example.com",
                                  "work_phone": "+12125550101", "home_phone": "+12125550102"})
    assert keys.email == pii_digest("email", "j@example.com")
    assert keys.phone == pii_digest("phone", "+12125550101")
    assert consumer_keys(schema, {"name": "Jane"}).digests == []
