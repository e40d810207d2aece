"""A lead's status URL: the route reversed once, the lead's id put in (every capture
answers with it)."""

from __future__ import annotations

import uuid
from unittest import mock

import pytest
from django.urls import reverse, set_script_prefix

from apps.leads import models
from apps.leads.models import Lead


@pytest.fixture
def fresh_parts():
    models._status_path_parts.cache_clear()
    yield
    models._status_path_parts.cache_clear()
    set_script_prefix("/")


def test_the_status_url_is_the_routes_own(fresh_parts) -> None:
    lead = Lead(uuid=uuid.uuid4())
    assert lead.get_absolute_url() == reverse("api:lead-detail",
                                              kwargs={"lead_id": lead.uuid})
    assert lead.get_absolute_url() == f"/api/v1/leads/{lead.uuid}"


def test_the_status_url_follows_the_script_prefix(fresh_parts) -> None:
    lead = Lead(uuid=uuid.uuid4())
    assert lead.get_absolute_url() == f"/api/v1/leads/{lead.uuid}"
    set_script_prefix("/exchange/")  # served under a path by the proxy (SCRIPT_NAME)
    assert lead.get_absolute_url() == f"/exchange/api/v1/leads/{lead.uuid}"
    set_script_prefix("/")
    assert lead.get_absolute_url() == f"/api/v1/leads/{lead.uuid}"


def test_the_route_is_reversed_once_not_per_lead(fresh_parts) -> None:
    leads = [Lead(uuid=uuid.uuid4()) for _ in range(5)]
    with mock.patch.object(models, "reverse", wraps=reverse) as reversed_:
        urls = [lead.get_absolute_url() for lead in leads]
    assert reversed_.call_count == 1
    assert urls == [f"/api/v1/leads/{lead.uuid}" for lead in leads]
