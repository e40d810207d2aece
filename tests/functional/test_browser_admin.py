"""An account manager switches a buyer on in a real browser (headless Debian Chromium driven
by Playwright): log in, add a ping-post contract with its endpoints and a post mapping, save,
send a test ping to a local buyer simulator and read the parsed bid. Screenshots of each step
go to ``test-artifacts/screenshots/``.

Skipped, with the reason, when Playwright or ``/usr/bin/chromium`` is missing; ``make install``
brings Playwright and ``.ci/run`` installs Chromium. Playwright never downloads a browser here.
"""

from __future__ import annotations

import importlib
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from apps.buyers.models import Contract
from apps.sources.models import VerticalField
from tests.factories import BuyerFactory, VerticalFactory
from tests.functional.browser import BROWSER_MARKS, SCREENSHOTS, chromium, playwright

pytestmark = BROWSER_MARKS  # ~4-7 s: a browser, a live server, a simulator


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    """Pages link ``/static/admin/…`` as they are in the source tree, which is what the live
    server's static handler serves (the manifest storage of the settings needs
    ``collectstatic`` and would link hashed names the handler does not know)."""
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


def _account_managers() -> Group:
    """The role exactly as reports.0002_roles grants it. A transactional test flushes the
    database afterwards, migration data included, so an earlier one may have dropped it."""
    roles = importlib.import_module("apps.reports.migrations.0002_roles")
    group, _ = Group.objects.get_or_create(name="Account managers")
    if not group.permissions.exists():
        wanted = Q(pk__in=[])
        for app, codename in (roles._codenames(roles.EDIT, ["add", "change", "delete", "view"])
                              + roles._codenames(roles.READ, ["view"])):
            wanted |= Q(content_type__app_label=app, codename=codename)
        group.permissions.set(Permission.objects.filter(wanted))
    return group


@pytest.fixture
def account_manager():
    user = get_user_model().objects.create_user("amy", "amy@example.com", "browser-pw-1",
                                                is_staff=True)
    user.groups.add(_account_managers())
    return user


def test_account_manager_adds_a_contract_and_sends_a_test_ping(
        live_server, sim_url, account_manager):
    vertical = VerticalFactory(slug="auto-insurance")
    VerticalField.objects.filter(vertical=vertical, key="zip").update(example="10001")
    BuyerFactory(company="Acme Insurance")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots = {name: SCREENSHOTS / f"admin_contract_{name}.png"
             for name in ("add_filled", "saved", "test_ping")}
    for shot in shots.values():
        shot.unlink(missing_ok=True)
    broken: list[str] = []
    loaded: list[str] = []

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(15_000)
        page.on("response", lambda r: (broken if r.status >= 400 else loaded).append(
            f"{r.status} {r.url}"))

        page.goto(f"{live_server.url}/admin/")
        page.fill("#id_username", "amy")
        page.fill("#id_password", "browser-pw-1")
        page.click("input[type=submit]")
        page.get_by_role("link", name="Contracts", exact=True).first.click()
        page.get_by_role("link", name="Add contract").click()
        page.wait_for_url(re.compile(r"/admin/buyers/contract/add/$"))

        page.select_option("#id_buyer", label="Acme Insurance")
        page.select_option("#id_vertical", label=vertical.name)
        page.fill("#id_name", "Browser offer")
        page.select_option("#id_mode", "ping_post")
        add_endpoint = page.locator("#endpoints-group .add-row a")
        add_endpoint.click()  # rows come from the admin's inline JS: static files work
        _endpoint(page, 0, kind="ping", url=f"{sim_url}/acme/ping?bid=12.34&format=json",
                  success_path="status", success_values='["bid"]', price_path="price",
                  token_path="token")
        add_endpoint.click()
        _endpoint(page, 1, kind="post", url=f"{sim_url}/acme/post?format=json",
                  success_path="result", success_values='["accepted"]',
                  reason_path="reason")
        page.locator("#mappings-post-group .add-row a").click()
        page.fill("#id_mappings-post-0-target", "ping_token")
        page.fill("#id_mappings-post-0-source", "@ping.token")
        page.screenshot(path=shots["add_filled"], full_page=True)

        page.click("input[name=_continue]")
        page.wait_for_url(re.compile(r"/admin/buyers/contract/\d+/change/$"))
        playwright.expect(page.locator(".messagelist .success")).to_contain_text(
            "was added successfully")
        playwright.expect(page.locator(".contract-health")).to_contain_text("testing")
        page.screenshot(path=shots["saved"], full_page=True)

        page.click("a.test-ping-link")
        page.click("input[name=send]")
        playwright.expect(page.locator(".test-ping-outcome")).to_have_text("bid")
        price = page.locator(".parsed-price").inner_text()
        token = page.locator(".parsed-token").inner_text()
        request = page.locator(".test-ping-request").inner_text()
        response = page.locator(".test-ping-response").inner_text()
        page.screenshot(path=shots["test_ping"], full_page=True)

    assert price == "12.34"
    assert token and token in response
    assert request.startswith(f"POST {sim_url}/acme/ping?bid=12.34&format=json")
    assert '"zip": "10001"' in request or '"zip":"10001"' in request
    assert response.startswith("HTTP 200")
    assert not broken, broken
    assert any("/static/admin/css/base.css" in url for url in loaded)
    assert any("/static/admin/js/inlines.js" in url for url in loaded)
    for shot in shots.values():
        assert shot.is_file() and shot.stat().st_size > 10_000, shot
    contract = Contract.objects.get(name="Browser offer")
    assert sorted(contract.endpoints.values_list("kind", flat=True)) == ["ping", "post"]
    assert list(contract.mappings.values_list("kind", "target", "source")) == [
        ("post", "ping_token", "@ping.token")]


def _endpoint(page, index: int, *, kind: str, **fields: str) -> None:
    prefix = f"#id_endpoints-{index}"
    page.select_option(f"{prefix}-kind", kind)
    for name, value in fields.items():
        page.fill(f"{prefix}-{name}", value)
