"""An account manager onboards a buyer in a real browser (headless Debian Chromium driven by
Playwright, 1366 px wide): drafts the contract from the buyer's pasted samples, creates it
(in testing), runs the test round trip — the ping, then the post carrying the ping's real
token, both flagged as tests — and switches it live. Every page is screenshot into
``docs/screenshots/`` and none is wider than the window.

Skipped, with the reason, when Playwright or ``/usr/bin/chromium`` is missing.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from apps.buyers.models import Contract
from tests.factories import BuyerFactory, VerticalFactory, examples_set
from tests.functional.browser import BROWSER_MARKS, chromium, playwright
from tests.integration.buyer_server import BuyerServer, Received, json_answer

pytestmark = BROWSER_MARKS

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WIDTH = 1366
PING_SAMPLE = json.dumps({"zip": "10001", "State": "NY", "VehicleYear": 2019, "Age": 39,
                          "Homeowner": "Y", "vendor_id": "ACME-77", "api_key": "sk_live_7",
                          "test": True}, indent=2)
POST_SAMPLE = ("ping_id=abc&Lead[FirstName]=John&Lead[LastName]=Smith&Lead[Email]=j%40x.com"
               "&Lead[Phone]=5551234567&Lead[DOB]=04/12/1985&Lead[Zip]=10001&test=true")


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    """The live server's static handler serves the source tree, not a manifest."""
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


@pytest.fixture
def account_manager():
    roles = importlib.import_module("apps.reports.migrations.0002_roles")
    group, _ = Group.objects.get_or_create(name="Account managers")
    if not group.permissions.exists():  # a transactional test flushed the migration's rows
        wanted = Q(pk__in=[])
        for app, codename in (roles._codenames(roles.EDIT, ["add", "change", "delete", "view"])
                              + roles._codenames(roles.READ, ["view"])):
            wanted |= Q(content_type__app_label=app, codename=codename)
        group.permissions.set(Permission.objects.filter(wanted))
    user = get_user_model().objects.create_user("amy", "amy@example.com", "browser-pw-1",
                                                is_staff=True)
    user.groups.add(group)
    return user


@pytest.fixture
def buyer():
    server = BuyerServer()
    server.on("/ping", lambda request: json_answer(200, {
        "status": "accepted", "price": 12.5, "ping_id": "live-token-9"}))

    def post(request: Received):
        form = request.form()
        accepted = form.get("ping_id") == ["live-token-9"]
        return json_answer(200, {"result": "success" if accepted else "rejected",
                                 "reason": "" if accepted else "unknown ping_id"})

    server.on("/post", post)
    yield server
    server.close()


def _fits(page, name: str, shots: list[str]) -> tuple[str, int, int]:
    """Screenshot the page; return its name with its width and the window's."""
    path = SCREENSHOTS / f"onboarding_{name}.png"
    page.screenshot(path=path, full_page=True)
    shots.append(str(path))
    width, inner = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]")
    return name, width, inner


def test_account_manager_onboards_a_buyer_from_samples_and_switches_it_live(
        live_server, account_manager, buyer):
    vertical = examples_set(VerticalFactory(slug="auto-insurance"))
    BuyerFactory(company="Acme Insurance")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("onboarding_*.png"):
        old.unlink()
    widths: list[tuple[str, int, int]] = []
    shots: list[str] = []
    broken: list[str] = []

    with chromium() as browser:
        page = browser.new_page(viewport={"width": WIDTH, "height": 900})
        page.set_default_timeout(15_000)
        page.on("response", lambda r: broken.append(f"{r.status} {r.url}")
                if r.status >= 400 else None)
        page.goto(f"{live_server.url}/admin/")
        page.fill("#id_username", "amy")
        page.fill("#id_password", "browser-pw-1")
        page.click("input[type=submit]")
        page.get_by_role("link", name="Contracts", exact=True).first.click()
        page.click("a.draft-link")
        page.wait_for_url(re.compile(r"/admin/buyers/contract/draft/$"))

        page.select_option("#id_vertical", label=vertical.name)
        page.select_option("#id_buyer", label="Acme Insurance")
        page.fill("#id_name", "Acme auto (from samples)")
        page.fill("#id_ping_url", f"{buyer.url}/ping")
        page.fill("#id_ping_request", PING_SAMPLE)
        page.fill("#id_ping_answer", '{"status": "accepted", "price": 12.5, "ping_id": "abc"}')
        page.fill("#id_post_url", f"{buyer.url}/post")
        page.fill("#id_post_request", POST_SAMPLE)
        page.fill("#id_post_answer", '{"result": "success"}')
        page.fill("#id_post_refusal", '{"result": "rejected", "reason": "duplicate"}')
        page.click("input.draft-button")
        playwright.expect(page.locator(".draft-all-matched")).to_be_visible()
        post_rows = page.locator(".draft-rows-post tbody tr").all_inner_texts()
        widths.append(_fits(page, "1_draft", shots))

        page.click("input.draft-create")
        page.wait_for_url(re.compile(r"/admin/buyers/contract/\d+/change/$"))
        playwright.expect(page.locator(".contract-testing-banner")).to_contain_text(
            "takes no live leads")
        widths.append(_fits(page, "2_testing", shots))

        page.click(".contract-testing-banner a")  # "test round trip"
        page.click("input[name=send]")
        playwright.expect(page.locator(".round-trip-outcome")).to_have_text("accepted")
        token = page.locator(".ping-parsed-token").inner_text()
        ping_request = page.locator("pre.round-trip-ping-request").inner_text()
        post_request = page.locator("pre.round-trip-post-request").inner_text()
        widths.append(_fits(page, "3_round_trip", shots))

        page.click("input.contract-go-live")
        page.wait_for_url(re.compile(r"/admin/buyers/contract/\d+/change/$"))
        playwright.expect(page.locator(".contract-health .status-on")).to_have_text("active")
        playwright.expect(page.locator(".contract-testing-banner")).to_have_count(0)
        widths.append(_fits(page, "4_live", shots))

        page.click("a.preview-link")
        playwright.expect(page.locator("table.live-values-post")).to_be_visible()
        widths.append(_fits(page, "5_preview", shots))

    assert not broken, broken
    assert [w for w in widths if w[1] > w[2]] == [], widths  # no horizontal overflow
    contract = Contract.objects.get(name="Acme auto (from samples)")
    assert contract.status == "active"
    assert any("@ping.token" in row for row in post_rows)
    assert token == "live-token-9"
    assert '"test": true' in ping_request and '"api_key": "***"' in ping_request
    assert "ping_id = live-token-9" in post_request and "test = true" in post_request
    [sent_post] = buyer.received("/post")
    assert sent_post.form()["ping_id"] == ["live-token-9"]
    for shot in shots:
        assert Path(shot).stat().st_size > 10_000, shot
