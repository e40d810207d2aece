"""An account manager, in a real browser (headless Debian Chromium driven by Playwright), adds
a webhook endpoint and copies its secret from the one page that shows it, opens a delivery
that failed while the receiver was down — its payload and every attempt — and redelivers it
once the receiver is back. Screenshots go to ``test-artifacts/screenshots/``.

Skipped, with the reason, when Playwright or ``/usr/bin/chromium`` is missing."""

from __future__ import annotations

import importlib
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from apps.leads.models import Lead
from apps.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from apps.webhooks.services import deliveries_send_due, endpoint_create, source_event_record
from tests.factories import VerticalFactory, source_with_key, valid_fields
from tests.functional.browser import BROWSER_MARKS, SCREENSHOTS, chromium, playwright
from tests.webhook_receiver import Receiver

pytestmark = BROWSER_MARKS


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    """The live server's static handler serves the source tree's names (no manifest)."""
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


def _account_managers() -> Group:
    """The role as the migrations grant it (reports.0002_roles, webhooks.0003_roles): a
    transactional test flushes the database afterwards, migration data included."""
    reports = importlib.import_module("apps.reports.migrations.0002_roles")
    webhooks = importlib.import_module("apps.webhooks.migrations.0003_roles")
    group, _ = Group.objects.get_or_create(name="Account managers")
    wanted = Q(content_type__app_label="webhooks",
               codename__in=webhooks.ROLES["Account managers"])
    for app, codename in (reports._codenames(reports.EDIT, ["add", "change", "delete", "view"])
                          + reports._codenames(reports.READ, ["view"])):
        wanted |= Q(content_type__app_label=app, codename=codename)
    group.permissions.set(Permission.objects.filter(wanted))
    return group


def test_an_account_manager_reads_a_failed_delivery_and_redelivers_it(live_server, settings):
    settings.WEBHOOK_RETRY_DELAYS_S = ()  # one attempt per round: it fails at once
    user = get_user_model().objects.create_user("amy", "amy@example.com", "browser-pw-1",
                                                is_staff=True)
    user.groups.add(_account_managers())
    vertical = VerticalFactory(slug="auto-insurance")
    source, _ = source_with_key(vertical, name="Acme Affiliates")
    receiver = Receiver()
    _, receiver.secret = endpoint_create(source=source, url=f"{receiver.url}/hooks")
    lead = Lead.objects.create(vertical=vertical, source=source, fields=valid_fields(),
                               status="sold", sub_id="click-42")
    source_event_record(lead, "lead.sold", payout=Decimal("12.21"))
    deliveries_send_due()  # the receiver is down: connection refused
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots = {name: SCREENSHOTS / f"admin_webhook_{name}.png"
             for name in ("secret", "failed", "redelivered")}
    for shot in shots.values():
        shot.unlink(missing_ok=True)
    broken: list[str] = []

    receiver.start()
    try:
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(15_000)
            page.on("response", lambda r: r.status >= 400 and broken.append(
                f"{r.status} {r.url}"))
            page.goto(f"{live_server.url}/admin/")
            page.fill("#id_username", "amy")
            page.fill("#id_password", "browser-pw-1")
            page.click("input[type=submit]")

            page.goto(f"{live_server.url}/admin/webhooks/webhookendpoint/add/")
            page.select_option("#id_source", label="Acme Affiliates")
            page.fill("#id_url", f"{receiver.url}/crm")
            page.uncheck("input[name=events][value='lead.unsold']")
            page.click("input[name=_save]")
            secret = page.locator("code.new-signing-secret").inner_text()
            page.screenshot(path=shots["secret"], full_page=True)

            page.goto(f"{live_server.url}/admin/webhooks/webhookdelivery/")
            page.get_by_role("link", name=delivery.msg_id).click()
            page.wait_for_url(re.compile(r"/admin/webhooks/webhookdelivery/\d+/change/$"))
            payload = page.locator("pre.webhook-payload").inner_text()
            before = page.locator("table.webhook-attempts tbody tr").all_inner_texts()
            page.screenshot(path=shots["failed"], full_page=True)

            page.click("button.redeliver-button")
            playwright.expect(page.locator(".messagelist .success")).to_contain_text(
                f"Redelivering {delivery.msg_id}")
            after = page.locator("table.webhook-attempts tbody tr").all_inner_texts()
            status = page.locator(".field-status .readonly").inner_text()
            page.screenshot(path=shots["redelivered"], full_page=True)
    finally:
        receiver.stop()

    assert secret.startswith("whsec_")
    assert WebhookEndpoint.objects.get(url=f"{receiver.url}/crm").events == [
        "lead.sold", "lead.returned", "lead.error"]
    assert '"sub_id": "click-42"' in payload and '"payout": "12.21"' in payload
    assert len(before) == 1 and "failed" in before[0] and "connect" in before[0].lower()
    assert len(after) == 2 and "\tok\t200" in after[1]
    assert status == "Succeeded"
    assert receiver.ids() == [delivery.msg_id] and receiver.webhooks()[0].verified
    assert not broken, broken
    for shot in shots.values():
        assert shot.is_file() and shot.stat().st_size > 10_000, shot
