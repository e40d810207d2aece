"""Admin for verticals, sources (key shown once) and read-only leads."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from apps.leads.models import Lead
from apps.sources.models import Source, SourceApiKey
from tests.factories import VerticalFactory, source_with_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def test_adding_a_source_shows_its_key_once_and_the_key_works(admin_client):
    vertical = VerticalFactory(slug="auto-insurance")
    response = admin_client.post("/admin/sources/source/add/", {
        "name": "New Partner", "status": "active", "verticals": [vertical.pk],
        "payout_model": "fixed", "payout_value": "10.00", "default_mode": "sync",
        "time_budget_ms": "2000", "rate_limit_per_minute": "600", "ip_allowlist": "[]",
        "return_policy": "clawback",
        "api_keys-TOTAL_FORMS": "0", "api_keys-INITIAL_FORMS": "0",
    })

    assert response.status_code == 200
    key = re.search(r'class="new-api-key">([^<]+)<', response.content.decode()).group(1)
    assert Source.objects.filter(name="New Partner").exists()
    assert APIClient().get("/api/v1/leads", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200
    change_page = admin_client.get(
        f"/admin/sources/source/{Source.objects.get(name='New Partner').pk}/change/")
    assert key not in change_page.content.decode()


def test_rotating_a_key_revokes_the_old_one(admin_client):
    vertical = VerticalFactory(slug="auto-insurance")
    source, old_key = source_with_key(vertical)
    row = source.api_keys.get()

    response = admin_client.post("/admin/sources/sourceapikey/", {
        "action": "rotate", "_selected_action": [row.pk]})

    new_key = re.search(r'class="new-api-key">([^<]+)<', response.content.decode()).group(1)
    api = APIClient()
    assert api.get("/api/v1/leads", HTTP_AUTHORIZATION=f"Bearer {old_key}").status_code == 401
    assert api.get("/api/v1/leads", HTTP_AUTHORIZATION=f"Bearer {new_key}").status_code == 200
    assert SourceApiKey.objects.filter(source=source, revoked_at__isnull=True).count() == 1


def test_revoking_a_key_locks_it_out(admin_client):
    source, key = source_with_key(VerticalFactory(slug="auto-insurance"))

    admin_client.post("/admin/sources/sourceapikey/", {
        "action": "revoke", "_selected_action": [source.api_keys.get().pk]})

    assert APIClient().get("/api/v1/leads", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401


def test_a_vertical_field_with_bounds_its_type_cannot_take_is_refused(admin_client):
    response = admin_client.post("/admin/sources/vertical/add/", {
        "name": "Solar", "slug": "solar", "is_active": "on", "default_floor": "1.00",
        "dedupe_fields": "[]", "dedupe_match": "any", "dedupe_window_days": "30",
        "fields-TOTAL_FORMS": "1", "fields-INITIAL_FORMS": "0",
        "fields-0-position": "0", "fields-0-key": "phone", "fields-0-type": "phone",
        "fields-0-choices": "[]", "fields-0-min_value": "5", "fields-0-max_value": "",
    })

    assert response.status_code == 200
    assert "do not take min/max values" in response.content.decode()


def test_leads_are_read_only_in_the_admin(admin_client):
    source, _ = source_with_key(VerticalFactory(slug="auto-insurance"))
    lead = Lead.objects.create(source=source, fields={})

    assert admin_client.get("/admin/leads/lead/").status_code == 200
    assert admin_client.get(f"/admin/leads/lead/{lead.pk}/change/").status_code == 200
    assert admin_client.get("/admin/leads/lead/add/").status_code == 403
    assert admin_client.post(f"/admin/leads/lead/{lead.pk}/delete/").status_code == 403
