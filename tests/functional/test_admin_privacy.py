"""Admin: erase a consumer from *Erasure requests → Add*, record an opt-out from *Suppressed
consumers → Add* (the typed e-mail/phone is digested, never stored), and switch a vertical's
suppression off in its privacy inline."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from apps.core.pii import pii_digest
from apps.leads.models import Lead, SuppressedConsumer, VerticalPrivacy
from apps.privacy.models import ErasureRequest, ErasureStatus
from apps.privacy.scrub import ERASED
from tests.factories import VerticalFactory, lead_submit, source_with_key, valid_fields

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def test_adding_an_erasure_request_erases_the_consumer(admin_client, api_client,
                                                        django_capture_on_commit_callbacks):
    _, key = source_with_key(VerticalFactory(slug="auto-insurance"), default_mode="async")
    assert lead_submit(api_client, key, valid_fields(email="gone@example.com"),
                       mode="async").status_code == 202
    assert admin_client.get("/admin/privacy/erasurerequest/add/").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/privacy/erasurerequest/add/",
                                     {"email": "GONE@example.com", "phone": ""})

    assert response.status_code == 302, response.content.decode()[:2000]
    row = ErasureRequest.objects.get()
    assert (row.status, row.leads_erased, row.channel) == (ErasureStatus.DONE, 1, "admin")
    assert Lead.objects.get().fields["email"] == ERASED
    assert "gone@example.com" not in admin_client.get(
        f"/admin/privacy/erasurerequest/{row.pk}/change/").content.decode()


def test_an_erasure_without_email_or_phone_is_refused_in_the_form(admin_client):
    response = admin_client.post("/admin/privacy/erasurerequest/add/", {"email": "", "phone": ""})

    assert response.status_code == 200
    assert "Give the consumer" in response.content.decode()
    assert not ErasureRequest.objects.exists()


def test_adding_an_opt_out_suppresses_the_digests(admin_client):
    response = admin_client.post("/admin/leads/suppressedconsumer/add/",
                                 {"email": "no@example.com", "phone": "212 555 0133"})

    assert response.status_code == 302, response.content.decode()[:2000]
    assert set(SuppressedConsumer.objects.values_list("digest", "reason")) == {
        (pii_digest("email", "no@example.com"), "opt_out"),
        (pii_digest("phone", "+12125550133"), "opt_out")}


def test_a_verticals_page_has_its_privacy_switch(admin_client):
    vertical = VerticalFactory(slug="auto-insurance")
    page = admin_client.get(f"/admin/sources/vertical/{vertical.pk}/change/").content.decode()

    assert 'name="privacy-0-suppression_enforced"' in page
    assert not VerticalPrivacy.objects.exists()


def test_the_verticals_list_shows_how_long_pii_is_kept(admin_client):
    kept = VerticalFactory(slug="auto-insurance", name="Auto")
    VerticalPrivacy.objects.create(vertical=kept, retention_days=30)
    VerticalFactory(slug="home-insurance", name="Home")  # no privacy row: kept forever

    page = admin_client.get("/admin/sources/vertical/").content.decode()

    assert "PII kept" in page
    assert '<td class="field-pii_kept">30 days</td>' in page
    assert '<td class="field-pii_kept">forever</td>' in page


def test_an_account_manager_sets_the_retention_in_the_privacy_inline(client):
    from django.contrib.auth.models import Group

    user = get_user_model().objects.create_user("am", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="Account managers"))
    client.force_login(user)
    vertical = VerticalFactory(slug="auto-insurance")

    page = client.get(f"/admin/sources/vertical/{vertical.pk}/change/").content.decode()

    assert 'name="privacy-0-retention_days"' in page
    assert 'min="1"' in page and 'max="3650"' in page
