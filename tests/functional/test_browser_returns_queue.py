"""An account manager, in a real browser (headless Debian Chromium driven by Playwright),
opens the returns review queue (pending first), selects two pending returns, approves them in
bulk with a note on the intermediate page, and reads the buyer's ledger. Screenshots go to
``test-artifacts/screenshots/``.

Skipped, with the reason, when Playwright or ``/usr/bin/chromium`` is missing."""

from __future__ import annotations

import importlib

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from apps.billing.models import Return, ReturnStatus
from apps.billing.services import return_submit, returns_decide
from apps.leads.models import Lead, LeadStatus
from tests.factories.billing import Market
from tests.functional.browser import BROWSER_MARKS, SCREENSHOTS, chromium, playwright

pytestmark = BROWSER_MARKS


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


def _account_managers() -> Group:
    """The role as billing.0002_roles grants it (a transactional test flushes migration
    data)."""
    roles = importlib.import_module("apps.billing.migrations.0002_roles")
    group, _ = Group.objects.get_or_create(name="Account managers")
    group.permissions.set(Permission.objects.filter(
        content_type__app_label="billing", codename__in=roles.ROLES["Account managers"]))
    return group


def test_an_account_manager_approves_two_returns_in_bulk_with_a_note(live_server):
    user = get_user_model().objects.create_user("amy", "amy@example.com", "browser-pw-1",
                                                is_staff=True)
    user.groups.add(_account_managers())
    market = Market()
    leads = [market.sold((market.c1, price), payout="7.00") for price in ("10.00", "12.00",
                                                                          "14.00")]
    rows = [return_submit(buyer=market.b1, lead_uuid=lead.uuid, reason=reason,
                          comment="Phone disconnected")
            for lead, reason in zip(leads, ["bad_contact", "fraud", "duplicate"], strict=True)]
    returns_decide([rows[2]], approve=False, by=user, note="Consumer confirmed")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots = {name: SCREENSHOTS / f"admin_returns_{name}.png"
             for name in ("queue", "note", "approved", "ledger")}
    for shot in shots.values():
        shot.unlink(missing_ok=True)
    broken: list[str] = []

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(15_000)
        page.on("response", lambda r: r.status >= 400 and broken.append(f"{r.status} {r.url}"))
        page.goto(f"{live_server.url}/admin/")
        page.fill("#id_username", "amy")
        page.fill("#id_password", "browser-pw-1")
        page.click("input[type=submit]")

        page.goto(f"{live_server.url}/admin/billing/return/")
        statuses = page.locator("#result_list tbody td.field-status").all_inner_texts()
        page.screenshot(path=shots["queue"], full_page=True)
        for row in rows[:2]:
            page.check(f"input[name=_selected_action][value='{row.pk}']")
        page.select_option("select[name=action]", "approve_selected")
        page.click("button[name=index]")
        page.fill("#id_note", "Verified on the call recordings")
        page.screenshot(path=shots["note"], full_page=True)
        page.click("input[type=submit][value=Approve]")
        playwright.expect(page.locator(".messagelist .success")).to_contain_text(
            "Approved 2 return(s).")
        page.screenshot(path=shots["approved"], full_page=True)

        page.click("a.ledger-link")
        page.select_option("select[name=id]", label=f"B1 (buyer {market.b1.pk})")
        page.click("input[type=submit][value=Show]")
        closing = page.locator("strong.ledger-closing").inner_text()
        page.screenshot(path=shots["ledger"], full_page=True)

    assert statuses == ["Pending", "Pending", "Rejected"]
    decided = {row.pk: (row.status, row.note, row.decided_by_id)
               for row in Return.objects.all()}
    assert decided == {
        rows[0].pk: (ReturnStatus.APPROVED, "Verified on the call recordings", user.pk),
        rows[1].pk: (ReturnStatus.APPROVED, "Verified on the call recordings", user.pk),
        rows[2].pk: (ReturnStatus.REJECTED, "Consumer confirmed", user.pk)}
    assert [Lead.objects.get(pk=lead.pk).status for lead in leads] == [
        LeadStatus.RETURNED, LeadStatus.RETURNED, LeadStatus.SOLD]
    assert closing == "14.00"  # 36.00 charged, 22.00 credited
    assert not broken, broken
    for shot in shots.values():
        assert shot.is_file() and shot.stat().st_size > 10_000, shot
