"""The staff roles and privacy (apps/privacy/migrations/0003_role_permissions.py): an account
manager requests erasures, keeps the suppression list and sets a vertical's privacy
(retention 1–3650 days, or none); a manager reads all of it and changes nothing; no role
sees consumers' PII."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from apps.leads.models import SuppressedConsumer, VerticalPrivacy
from apps.privacy.models import ErasureRequest
from tests.api.conftest import ACCOUNT_MANAGERS, MANAGERS

pytestmark = pytest.mark.django_db

CONSUMER = {"email": "gone@example.com"}


@pytest.fixture
def manager_client(staff_client):
    return staff_client("mia", group=MANAGERS)


def test_an_account_manager_requests_an_erasure_and_a_manager_cannot(
        am_client, manager_client, django_capture_on_commit_callbacks):
    assert manager_client.post("/api/v1/staff/erasures", CONSUMER,
                               format="json").status_code == 403
    assert not ErasureRequest.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        answer = am_client.post("/api/v1/staff/erasures", CONSUMER, format="json")

    assert answer.status_code == 202, answer.json()
    for client in (am_client, manager_client):
        assert client.get("/api/v1/staff/erasures").json()["count"] == 1
        assert client.get(f"/api/v1/staff/erasures/{answer.json()['id']}").status_code == 200


def test_an_account_manager_adds_an_opt_out_and_a_manager_cannot(am_client, manager_client):
    assert manager_client.post("/api/v1/staff/suppressions", CONSUMER,
                               format="json").status_code == 403
    assert am_client.post("/api/v1/staff/suppressions", CONSUMER,
                          format="json").status_code == 201
    assert SuppressedConsumer.objects.count() == 1


def test_an_account_manager_sets_the_retention_and_a_manager_reads_it(
        am_client, manager_client, vertical):
    url = f"/api/v1/verticals/{vertical.slug}/privacy"
    assert manager_client.get(url).json() == {"suppression_enforced": True,
                                              "retention_days": None}  # the defaults
    assert manager_client.patch(url, {"retention_days": 30}, format="json").status_code == 403

    answer = am_client.patch(url, {"retention_days": 30}, format="json")

    assert answer.status_code == 200, answer.json()
    assert answer.json() == {"suppression_enforced": True, "retention_days": 30}
    assert VerticalPrivacy.objects.get(vertical=vertical).retention_days == 30
    assert manager_client.get(url).json()["retention_days"] == 30
    assert am_client.put(url, {"suppression_enforced": False},
                         format="json").json() == {"suppression_enforced": False,
                                                   "retention_days": None}  # PUT: whole


@pytest.mark.parametrize("days", [0, 3651, -1, "30", 1.5])
def test_a_retention_outside_1_to_3650_days_is_a_400(am_client, vertical, days):
    answer = am_client.patch(f"/api/v1/verticals/{vertical.slug}/privacy",
                             {"retention_days": days}, format="json")

    assert answer.status_code == 400, answer.json()
    assert set(answer.json()["errors"]) == {"retention_days"}
    assert not VerticalPrivacy.objects.exists()


def test_the_roles_hold_the_privacy_permissions_and_not_view_pii():
    def held(name: str) -> set[str]:
        return {f"{app}.{code}" for app, code in Group.objects.get(name=name).permissions
                .values_list("content_type__app_label", "codename")}

    privacy = {p for p in held(ACCOUNT_MANAGERS) | held(MANAGERS)
               if p.endswith(("erasurerequest", "suppressedconsumer", "verticalprivacy",
                              "view_pii"))}
    assert {p for p in privacy if p in held(ACCOUNT_MANAGERS)} == {
        "privacy.add_erasurerequest", "privacy.view_erasurerequest",
        "leads.add_suppressedconsumer", "leads.view_suppressedconsumer",
        "leads.delete_suppressedconsumer", "leads.view_verticalprivacy",
        "leads.change_verticalprivacy"}
    assert {p for p in privacy if p in held(MANAGERS)} == {
        "privacy.view_erasurerequest", "leads.view_suppressedconsumer",
        "leads.view_verticalprivacy"}
