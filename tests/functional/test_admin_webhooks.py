"""Admin for webhook endpoints and deliveries: a rotated secret is shown once, a time range is
redelivered from the endpoint list, switching an endpoint off and on is recorded, a delivery
is redelivered only by a role that may, and the delivery list stays cheap."""

from __future__ import annotations

import importlib
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from apps.leads.models import Lead
from apps.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from apps.webhooks.services import deliveries_send_due, endpoint_create, source_event_record
from tests.factories import VerticalFactory, source_with_key, valid_fields

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "pw"))
    return client


@pytest.fixture
def world(settings):
    """A source whose endpoint is down, with two failed deliveries."""
    settings.WEBHOOK_RETRY_DELAYS_S = ()
    vertical = VerticalFactory(slug="auto-insurance")
    source, _ = source_with_key(vertical, name="Acme")
    endpoint, _ = endpoint_create(source=source, url="http://127.0.0.1:9/hooks")
    for _ in range(2):
        lead = Lead.objects.create(vertical=vertical, source=source, fields=valid_fields())
        source_event_record(lead, "lead.sold", payout=Decimal("5.00"))
    deliveries_send_due()
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"failed"}
    return source, endpoint


def test_rotating_shows_the_new_secret_once_and_keeps_the_old_one_signing(admin_client, world):
    _, endpoint = world
    old = endpoint.secret

    response = admin_client.post("/admin/webhooks/webhookendpoint/", {
        "action": "rotate_secret", "_selected_action": [endpoint.pk]})

    shown = re.search(r'class="new-signing-secret">([^<]+)<', response.content.decode())
    endpoint.refresh_from_db()
    assert shown is not None and shown.group(1) == endpoint.secret != old
    assert endpoint.previous_secret == old and endpoint.previous_secret_expires_at is not None
    change_page = admin_client.get(f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/")
    assert endpoint.secret not in change_page.content.decode()


def test_a_time_range_is_redelivered_from_the_endpoint_list(admin_client, world):
    _, endpoint = world
    url = "/admin/webhooks/webhookendpoint/"
    form = admin_client.post(url, {"action": "redeliver_range",
                                   "_selected_action": [endpoint.pk]})
    assert form.status_code == 200 and b'name="since_0"' in form.content
    today = timezone.now()

    done = admin_client.post(url, {
        "action": "redeliver_range", "_selected_action": [endpoint.pk], "apply": "1",
        "since_0": f"{today:%Y-%m-%d}", "since_1": "00:00:00",
        "until_0": f"{today:%Y-%m-%d}", "until_1": "23:59:59"}, follow=True)

    assert "Redelivering 2 deliveries." in done.content.decode()
    assert set(WebhookDelivery.objects.values_list("status", "attempts", "round_start")) == {
        (DeliveryStatus.PENDING, 1, 1)}


def test_switching_an_endpoint_off_and_on_in_the_admin_is_recorded(admin_client, world):
    source, endpoint = world
    page = f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/"
    fields = {"source": source.pk, "url": endpoint.url, "description": "",
              "events": ["lead.sold", "lead.unsold"]}

    admin_client.post(page, fields)  # is_active unticked
    endpoint.refresh_from_db()
    off = (endpoint.is_active, endpoint.disabled_reason, endpoint.events)
    admin_client.post("/admin/webhooks/webhookendpoint/", {
        "action": "switch_on", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()

    assert off == (False, "switched off by staff", ["lead.sold", "lead.unsold"])
    assert (endpoint.is_active, endpoint.disabled_at, endpoint.disabled_reason) == (
        True, None, "")


def test_only_a_role_that_may_redelivers_a_delivery(client, world):
    delivery = WebhookDelivery.objects.first()
    reader = get_user_model().objects.create_user("mo", "mo@example.com", "pw", is_staff=True)
    roles = importlib.import_module("apps.webhooks.migrations.0003_roles")
    managers, _ = Group.objects.get_or_create(name="Managers")
    managers.permissions.add(*Permission.objects.filter(
        content_type__app_label="webhooks", codename__in=roles.ROLES["Managers"]))
    reader.groups.add(managers)
    client.force_login(reader)
    page = f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/"

    shown = client.get(page)
    refused = client.post(f"/admin/webhooks/webhookdelivery/{delivery.pk}/redeliver/",
                          follow=True)

    assert shown.status_code == 200 and b"redeliver-button" not in shown.content
    assert "You may not redeliver." in refused.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert client.get(f"/admin/webhooks/webhookdelivery/{delivery.pk}/redeliver/"
                      ).status_code == 405


def test_a_delivery_to_a_disabled_endpoint_is_not_redelivered_and_says_why(admin_client,
                                                                            world):
    _, endpoint = world
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False)
    delivery = WebhookDelivery.objects.first()

    response = admin_client.post(f"/admin/webhooks/webhookdelivery/{delivery.pk}/redeliver/",
                                 follow=True)

    assert "endpoint is disabled; switch it on first" in response.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED


def test_the_delivery_list_and_page_take_a_bounded_number_of_queries(
        admin_client, world, django_assert_max_num_queries):
    source, _ = world
    lead = Lead.objects.filter(source=source).first()
    for _ in range(30):
        source_event_record(lead, "lead.unsold")

    with django_assert_max_num_queries(12):
        listed = admin_client.get("/admin/webhooks/webhookdelivery/")
    with django_assert_max_num_queries(12):
        page = admin_client.get(
            f"/admin/webhooks/webhookdelivery/{WebhookDelivery.objects.first().pk}/change/")

    assert listed.status_code == 200 and page.status_code == 200
    assert b"webhook-attempts" in page.content
