"""M3 contract admin: a contract and all its rules on one screen, refused on save when
misconfigured, with the account manager's tools (test ping, payload preview, pause/resume),
the two staff roles, the audit trail, and record changelists that stay cheap on big tables."""

from __future__ import annotations

import html
import json
import re
import time
import uuid
from datetime import time as clock
from html.parser import HTMLParser

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.auctions.admin.leads import LeadAdmin
from apps.auctions.engine import Outcome
from apps.auctions.models import Auction, HealthEvent, HealthEventKind, Ping
from apps.buyers.models import (
    Buyer,
    Contract,
    ContractCap,
    ContractFilter,
    ContractStatus,
    Endpoint,
    FieldMapping,
    ScheduleWindow,
)
from apps.leads.disclosure import HIDDEN_BODY, MASK
from apps.leads.models import Lead, LeadStatus
from apps.sources.models import Vertical, VerticalField
from tests.factories import (
    BuyerFactory,
    SourceFactory,
    VerticalFactory,
    sim_contract,
    sim_requests,
    sim_reset,
    valid_fields,
)

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/buyers/contract/add/"
# The vertical's example values: test pings and previews build their sample lead from them.
EXAMPLES = {
    "first_name": "Jane", "last_name": "Doe", "email": "jane.doe@example.com",
    "phone": "(212) 555-0147", "address": "12 Main St", "city": "New York", "state": "NY",
    "zip": "10001", "date_of_birth": "1985-04-12", "vehicle_year": "2019",
    "homeowner": "true", "credit_rating": "good",
}
# How each PII example may appear in a payload (raw or normalized).
PII_TRACES = ["Jane", "Doe", "jane.doe@example.com", "555-0147", "5550147", "12 Main St",
              "1985-04-12", "first_name", "last_name", "email", "phone", "address",
              "date_of_birth"]


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    """Admin pages render ``{% static %}`` URLs: with the manifest storage of the settings
    they need ``collectstatic`` first, which a fresh checkout (and ``make test``) has not
    run. Test the pages, not the deployment step."""
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


@pytest.fixture
def vertical() -> Vertical:
    vertical = VerticalFactory(slug="auto-insurance")
    for key, example in EXAMPLES.items():
        VerticalField.objects.filter(vertical=vertical, key=key).update(example=example)
    return vertical


def _staff(username: str, group: str | None):
    user = get_user_model().objects.create_user(username, f"{username}@example.com", "pw",
                                                is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))  # created by reports.0002_roles
    return user


@pytest.fixture
def account_manager():
    return _staff("alice", "Account managers")


@pytest.fixture
def manager():
    return _staff("mark", "Managers")


@pytest.fixture
def am_client(client, account_manager):
    client.force_login(account_manager)
    return client


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


# --- helpers -------------------------------------------------------------------------------


class _FormValues(HTMLParser):
    """The values a browser would submit for the page's main form (not the empty inline
    templates): inputs, checked boxes, selected options, textareas."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def _add(self, name: str | None, value: str) -> None:
        if name and "__prefix__" not in name:
            self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self._add(a.get("name"), a.get("value") or ("on" if kind == "checkbox" else ""))
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self._add(self._select, a.get("value", ""))
        elif tag == "textarea":
            self._textarea = a.get("name")
            self._add(self._textarea, "")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea and "__prefix__" not in self._textarea:
            self.data[self._textarea][-1] += data


def form_values(response) -> dict[str, list[str]]:
    parser = _FormValues()
    parser.feed(response.content.decode())
    parser.data.pop("csrfmiddlewaretoken", None)
    return {name: [html.unescape(v) for v in values] for name, values in parser.data.items()}


def _endpoint(prefix: str, **values) -> dict[str, str]:
    row = {"id": "", "contract": "", "method": "POST", "body_format": "json",
           "key_style": "brackets",
           "timeout_ms": "1000", "auth_type": "none", "auth_name": "", "auth_username": "",
           "auth_secret": "", "oauth_token_url": "", "xml_root": "lead", "headers": "{}",
           "response_format": "json", "success_statuses": "[]", "success_path": "",
           "success_values": "[]", "success_regex": "", "price_path": "", "token_path": "",
           "reason_path": ""}
    row.update(values)
    return {f"{prefix}-{name}": value for name, value in row.items()}


def _rows(prefix: str, rows: list[dict[str, str]]) -> dict[str, str]:
    data = {f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}
    for index, row in enumerate(rows):
        data.update({f"{prefix}-{index}-{name}": value for name, value in row.items()})
    return data


def _mapping(position: int, target: str, source: str = "", transform: str = "") -> dict:
    return {"id": "", "contract": "", "position": str(position), "target": target,
            "source": source, "constant": "", "constant_type": "string",
            "transform": transform, "arg": ""}


PING = {"kind": "ping", "url": "http://127.0.0.1:9/acme/ping", "success_path": "status",
        "success_values": '["bid"]', "price_path": "price", "token_path": "token"}
POST = {"kind": "post", "url": "http://127.0.0.1:9/acme/post", "success_path": "result",
        "success_values": '["accepted"]', "reason_path": "reason"}


def contract_form(vertical: Vertical, buyer, *, mode: str = "ping_post",
                  ping: dict | None = PING, post: dict | None = POST,
                  filters: list[dict] | None = None, caps: list[dict] | None = None,
                  schedule: list[dict] | None = None, ping_mappings: list[dict] | None = None,
                  post_mappings: list[dict] | None = None, secrets: list[dict] | None = None,
                  **fields) -> dict[str, str]:
    """The POST body of the contract add form, every table filled as staff would (a valid
    ping-post contract unless overridden; ``ping=None`` leaves the ping endpoint out)."""
    data = {
        "buyer": str(buyer.pk), "vertical": str(vertical.pk), "name": "Auto exclusive",
        "status": "active", "mode": mode, "fixed_price": "", "min_bid": "2.00",
        "bid_multiplier": "1.000", "bid_penalty": "0.00", "priority": "1", "weight": "100",
        "traffic_share_pct": "100", "exclusive": "on", "shared_max_sales": "3",
        "accepts_test_leads": "on", "slow_threshold_ms": "200", "slow_count": "10",
        "error_count": "10", "health_ping_interval_s": "60", "test_flag": "none",
        "test_flag_key": "", "test_flag_value": "", "test_flag_type": "string",
        "return_window_days": "7", "return_cap_pct": "", "return_cap_days": "30",
        "_save": "Save",
    }
    data.update(fields)
    endpoints = [e for e in (ping, post) if e is not None]
    data.update({"endpoints-TOTAL_FORMS": str(len(endpoints)), "endpoints-INITIAL_FORMS": "0",
                 "endpoints-MIN_NUM_FORMS": "0", "endpoints-MAX_NUM_FORMS": "2"})
    for index, endpoint in enumerate(endpoints):
        data.update(_endpoint(f"endpoints-{index}", **endpoint))
    data.update(_rows("secrets", secrets or []))
    data.update(_rows("filters", filters or []))
    data.update(_rows("caps", caps or []))
    data.update(_rows("schedule", schedule or []))
    data.update(_rows("mappings-ping", ping_mappings or []))
    data.update(_rows("mappings-post", post_mappings if post_mappings is not None else [
        _mapping(0, "ping_token", "@ping.token")]))
    return data


def _pre(page: str, css_class: str) -> str:
    match = re.search(rf'<pre class="{css_class}">(.*?)</pre>', page, re.S)
    assert match, f"no <pre class={css_class}> on the page"
    return html.unescape(match.group(1))


def _cell(page: str, css_class: str) -> str:
    match = re.search(rf'class="{css_class}">([^<]*)<', page)
    assert match, f"no {css_class} on the page"
    return html.unescape(match.group(1)).strip()


# --- adding a contract ---------------------------------------------------------------------


def test_account_manager_adds_a_contract_with_every_table_on_one_screen(
        am_client, vertical):
    buyer = BuyerFactory(company="Acme Insurance")
    response = am_client.post(ADD_URL, contract_form(
        vertical, buyer,
        ping={**PING, "headers": '{"X-Partner": "lx"}'},
        post={**POST, "body_format": "form"},
        filters=[{"id": "", "contract": "", "field": "state", "operator": "in",
                  "value": '["NY", "NJ"]'},
                 {"id": "", "contract": "", "field": "zip", "operator": "regex",
                  "value": '"^1\\\\d{4}$"'}],
        caps=[{"id": "", "contract": "", "period": "day", "metric": "leads", "limit": "50"}],
        schedule=[{"id": "", "contract": "", "weekday": "0", "opens_at": "09:00",
                   "closes_at": "17:00"}],
        ping_mappings=[_mapping(0, "zip", "zip"), _mapping(1, "vehicle.year", "vehicle_year")],
        post_mappings=[_mapping(0, "lead.first_name", "first_name", "upper"),
                       _mapping(1, "lead.phone", "phone", "phone_e164"),
                       _mapping(2, "ping_token", "@ping.token")],
    ))

    assert response.status_code == 302, _errors(response)
    contract = Contract.objects.get(name="Auto exclusive")
    assert (contract.buyer, contract.vertical, contract.mode) == (buyer, vertical, "ping_post")
    endpoints = {e.kind: e for e in Endpoint.objects.filter(contract=contract)}
    assert endpoints["ping"].headers == {"X-Partner": "lx"}
    assert (endpoints["ping"].price_path, endpoints["ping"].token_path) == ("price", "token")
    assert endpoints["ping"].success_values == ["bid"]
    assert (endpoints["post"].body_format, endpoints["post"].reason_path) == ("form", "reason")
    assert list(ContractFilter.objects.filter(contract=contract).values_list(
        "field", "operator", "value")) == [("state", "in", ["NY", "NJ"]),
                                           ("zip", "regex", "^1\\d{4}$")]
    assert list(ContractCap.objects.filter(contract=contract).values_list(
        "period", "metric", "limit")) == [("day", "leads", 50)]
    assert list(ScheduleWindow.objects.filter(contract=contract).values_list(
        "weekday", "opens_at", "closes_at")) == [(0, clock(9), clock(17))]
    assert list(FieldMapping.objects.filter(contract=contract).values_list(
        "kind", "target", "source", "transform")) == [
        ("ping", "zip", "zip", ""), ("ping", "vehicle.year", "vehicle_year", ""),
        ("post", "lead.first_name", "first_name", "upper"),
        ("post", "lead.phone", "phone", "phone_e164"),
        ("post", "ping_token", "@ping.token", "")]
    added = LogEntry.objects.get(object_id=str(contract.pk))
    assert (added.user.username, added.is_addition()) == ("alice", True)

    page = am_client.get(f"/admin/buyers/contract/{contract.pk}/change/").content.decode()
    assert "Health and caps" in page
    assert '<span class="status-on">active</span>' in page
    assert 'class="cap-usage">leads/day: 0 / 50 (0%)' in page
    assert "no request yet" in page
    assert 'class="test-ping-link"' in page and 'class="preview-link"' in page


def _errors(response) -> str:
    """Every error of a re-rendered admin form, for assertion messages."""
    context = response.context
    if context is None or "adminform" not in context:
        return f"HTTP {response.status_code}"
    found = [str(context["adminform"].form.errors)]
    for inline in context["inline_admin_formsets"]:
        found += [str(inline.formset.non_form_errors()), str(inline.formset.errors)]
    return " ".join(found)


# --- misconfigurations refused on save ------------------------------------------------------


def _form_of(response, prefix: str, index: int):
    for inline in response.context["inline_admin_formsets"]:
        if inline.formset.prefix == prefix:
            return inline.formset.forms[index]
    raise AssertionError(f"no inline {prefix}")


MISCONFIGURATIONS = {
    "mapping from an unknown lead field": (
        {"post_mappings": [_mapping(0, "colour", "favourite_colour"),
                           _mapping(1, "ping_token", "@ping.token")]},
        "mappings-post", 0, "source", "Unknown lead field &#x27;favourite_colour&#x27;"),
    "PII in the ping mapping": (
        {"ping_mappings": [_mapping(0, "zip", "zip"), _mapping(1, "email", "email")]},
        "mappings-ping", 1, "source", "&#x27;email&#x27; is personal data and is never sent"),
    "invalid JSON path": (
        {"ping": {**PING, "price_path": "bid[?"}},
        "endpoints", 0, "price_path", "invalid JSON path"),
    "invalid XPath": (
        {"post": {**POST, "response_format": "xml", "success_path": "/response/[result"}},
        "endpoints", 1, "success_path", "invalid XPath"),
    "invalid success regex": (
        {"post": {**POST, "response_format": "text", "success_path": "",
                  "success_values": "[]", "reason_path": "",
                  "success_regex": "^(ACCEPTED"}},
        "endpoints", 1, "success_regex", "invalid regular expression"),
    "invalid regex in a text price path": (
        {"ping": {**PING, "response_format": "text", "success_path": "", "token_path": "",
                  "success_values": "[]", "price_path": "^BID (\\d+"}},
        "endpoints", 0, "price_path", "invalid regular expression"),
    "invalid regex filter": (
        {"filters": [{"id": "", "contract": "", "field": "zip", "operator": "regex",
                      "value": '"^(100"'}]},
        "filters", 0, "value", "Invalid regular expression"),
    "ping token read but never posted": (
        {"post_mappings": [_mapping(0, "zip", "zip")]},
        "endpoints", 0, "token_path", "no post mapping carries it"),
    "price path on a direct-post contract": (
        {"mode": "direct_post", "fixed_price": "15.00", "ping": None,
         "post": {**POST, "price_path": "price"}, "post_mappings": []},
        "endpoints", 0, "price_path", "A direct-post contract pays its fixed price"),
    "private address": (
        {"ping": {**PING, "url": "http://10.1.2.3/ping"}},
        "endpoints", 0, "url", "This address is refused"),
    "cloud metadata address": (
        {"post": {**POST, "url": "http://169.254.169.254/"}},
        "endpoints", 1, "url", "This address is refused"),
}


@pytest.mark.parametrize(("overrides", "prefix", "index", "field", "message"),
                         list(MISCONFIGURATIONS.values()), ids=list(MISCONFIGURATIONS))
def test_a_misconfigured_contract_is_refused_with_the_field_named(
        am_client, vertical, overrides, prefix, index, field, message):
    response = am_client.post(ADD_URL, contract_form(vertical, BuyerFactory(), **overrides))

    assert response.status_code == 200  # the form again, not a redirect
    form = _form_of(response, prefix, index)
    plain = html.unescape(message)
    assert any(plain in error for error in form.errors.get(field, [])), form.errors
    # shown in the field's own error list, right by its input
    page = response.content.decode()
    shown = re.search(rf'<ul class="errorlist" id="id_{prefix}-{index}-{field}_error">(.*?)</ul>',
                      page, re.S)
    assert shown and message in shown[1]
    assert "Please correct the errors below." in page
    assert not Contract.objects.exists()
    assert not Endpoint.objects.exists() and not FieldMapping.objects.exists()


def test_the_same_contract_without_the_mistake_is_saved(am_client, vertical):
    """The control for the table above: its base form is valid."""
    response = am_client.post(ADD_URL, contract_form(vertical, BuyerFactory()))

    assert response.status_code == 302, _errors(response)
    assert Contract.objects.count() == 1


# --- test ping, preview, pause/resume -------------------------------------------------------


def test_test_ping_shows_the_parsed_bid_the_exact_request_and_the_raw_response(
        am_client, vertical, sim_url):
    sim_reset(sim_url)
    contract = sim_contract(vertical, sim_url, query="bid=12.34",
                            post_mappings=[{"target": "ping_token", "source": "@ping.token"}])
    url = f"/admin/buyers/contract/{contract.pk}/test-ping/"

    assert 'class="test-ping-outcome"' not in am_client.get(url).content.decode()
    page = am_client.post(url).content.decode()

    assert _cell(page, "test-ping-outcome") == "bid"
    assert _cell(page, "parsed-price") == "12.34"
    token = _cell(page, "parsed-token")
    assert token
    request = _pre(page, "test-ping-request")
    exact = _pre(page, "test-ping-request-exact")
    response = _pre(page, "test-ping-response")
    received = sim_requests(sim_url, f"/b{contract.pk}/ping")
    assert len(received) == 1  # one request, sent exactly as shown
    for shown in (request, exact):
        assert shown.startswith(f"POST {sim_url}/b{contract.pk}/ping?bid=12.34&format=json\n")
    assert exact.rstrip().endswith(received[0]["body"])
    # laid out for reading: the same document, indented
    assert json.loads(request[request.index("{"):]) == json.loads(received[0]["body"])
    assert '\n  "zip": "10001"' in request
    assert json.loads(received[0]["body"])["zip"] == "10001"
    assert not any(trace in request for trace in PII_TRACES)
    assert response.startswith("HTTP 200\n")
    raw = json.loads(response[response.index("{"):])
    assert raw["status"] == "bid" and raw["token"] == token
    entry = LogEntry.objects.get(object_id=str(contract.pk))
    assert (entry.user.username, entry.change_message) == ("alice", "Sent a test ping: bid.")


def test_test_ping_to_a_failing_buyer_shows_the_failure(am_client, vertical, sim_url):
    contract = sim_contract(vertical, sim_url, query="fail=5xx&status=502",
                            post_mappings=[{"target": "ping_token", "source": "@ping.token"}])

    page = am_client.post(f"/admin/buyers/contract/{contract.pk}/test-ping/").content.decode()

    assert _cell(page, "test-ping-outcome") == "error"
    assert "HTTP 502" in page  # the outcome's detail and the raw status line
    assert _pre(page, "test-ping-response").startswith("HTTP 502\n")
    assert 'class="parsed-price"' not in page


def test_payload_preview_keeps_pii_out_of_the_ping_and_puts_the_token_in_the_post(
        manager_client, vertical, sim_url):
    contract = sim_contract(
        vertical, sim_url, post_mappings=[
            {"target": "lead.first_name", "source": "first_name"},
            {"target": "lead.email", "source": "email"},
            {"target": "lead.buyer_ref", "source": "@ping.token"}])
    source = SourceFactory(verticals=[vertical])
    lead = Lead.objects.create(source=source, vertical=vertical, fields={
        **valid_fields(email="jane.doe@example.com", phone="+12125550147", city="Albany",
                       state="NY")})
    url = f"/admin/buyers/contract/{contract.pk}/preview/"

    for query in ("", f"?lead={lead.uuid}"):  # the vertical's sample lead, then a real one
        response = manager_client.get(url + query)  # a read-only role may preview
        assert response.status_code == 200
        page = response.content.decode()
        ping = html.unescape(re.search(r'payload-ping">.*?<pre>(.*?)</pre>', page, re.S)[1])
        post = html.unescape(re.search(r'payload-post">.*?<pre>(.*?)</pre>', page, re.S)[1])
        ping_body = json.loads(ping[ping.index("{"):])
        assert ping_body["zip"] == "10001"
        assert not [trace for trace in PII_TRACES if trace in ping], ping
        if not query:  # the sample: the vertical's examples, shown as they are
            post_body = json.loads(post[post.index("{"):])
            assert post_body["lead"]["buyer_ref"] == "sample-ping-token"
            assert post_body["lead"]["first_name"] == "Jane"  # the post does carry PII
            assert post_body["lead"]["email"] == "jane.doe@example.com"
        else:  # a real lead's personal data is hidden until revealed (issue 14)
            assert post.endswith(HIDDEN_BODY) and "jane.doe@example.com" not in page
            values = re.findall(r"<td>lead\.(\w+)</td>.*?<code>(.*?)</code>", page)
            assert ("email", MASK) in values and ("first_name", MASK) in values


def test_a_user_who_may_reveal_previews_a_real_leads_post_in_clear_audited(
        client, manager, vertical, sim_url):
    contract = sim_contract(vertical, sim_url, post_mappings=[
        {"target": "lead.email", "source": "email"}])
    lead = Lead.objects.create(source=SourceFactory(verticals=[vertical]), vertical=vertical,
                               fields=valid_fields(email="jane.doe@example.com"))
    url = f"/admin/buyers/contract/{contract.pk}/preview/"
    client.force_login(manager)
    refused = client.get(url, {"lead": str(lead.uuid), "reveal": "on"})
    manager.user_permissions.add(Permission.objects.get(codename="view_pii"))

    page = client.get(url, {"lead": str(lead.uuid)}).content.decode()
    revealed = client.get(url, {"lead": str(lead.uuid), "reveal": "on"})

    assert refused.status_code == 403
    assert 'name="reveal"' in page and "jane.doe@example.com" not in page
    assert revealed.status_code == 200
    post = html.unescape(re.search(r'payload-post">.*?<pre>(.*?)</pre>',
                                   revealed.content.decode(), re.S)[1])
    assert json.loads(post[post.index("{"):])["lead"]["email"] == "jane.doe@example.com"
    [entry] = LogEntry.objects.filter(content_type__model="lead")
    assert (entry.object_id, entry.user_id) == (str(lead.pk), manager.pk)
    assert entry.change_message == "Revealed the consumer's personal data (admin)."


def _lead_errors(page: str) -> list[str]:
    match = re.search(r'<ul class="errorlist lead-errors">(.*?)</ul>', page, re.S)
    return [html.unescape(m) for m in re.findall(r"<li>(.*?)</li>", match[1])] if match else []


BAD_LEAD_ID = ("Enter a lead id: the UUID the API answers (e.g. "
               "3f2a0c1e-8d4b-4e57-9a1c-2b7d5e6f8a90) or the lead's number in the admin.")


@pytest.mark.parametrize(("given", "error"), [
    ("not-a-uuid", BAD_LEAD_ID),
    ("12ab", BAD_LEAD_ID),
    ("99999999", "No Auto Insurance lead has the id 99999999."),
    (str(uuid.UUID(int=5)), f"No Auto Insurance lead has the id {uuid.UUID(int=5)}."),
])
def test_a_bad_lead_id_is_a_form_error_on_both_tools_and_nothing_is_sent(
        am_client, vertical, sim_url, given, error):
    sim_reset(sim_url)
    contract = sim_contract(vertical, sim_url, query="bid=12.34",
                            post_mappings=[{"target": "ping_token", "source": "@ping.token"}])

    ping = am_client.post(f"/admin/buyers/contract/{contract.pk}/test-ping/", {"lead": given})
    preview = am_client.get(f"/admin/buyers/contract/{contract.pk}/preview/", {"lead": given})

    assert ping.status_code == 200 and preview.status_code == 200
    assert _lead_errors(ping.content.decode()) == [error]
    assert _lead_errors(preview.content.decode()) == [error]
    assert 'class="test-ping-outcome"' not in ping.content.decode()
    assert "payload-preview" not in preview.content.decode()
    assert sim_requests(sim_url, f"/b{contract.pk}/ping") == []
    assert not LogEntry.objects.filter(object_id=str(contract.pk)).exists()


@pytest.mark.parametrize("id_kind", ["uuid", "number"])
def test_the_tools_take_a_lead_by_its_public_uuid_or_its_admin_number(
        am_client, vertical, sim_url, id_kind):
    sim_reset(sim_url)
    contract = sim_contract(vertical, sim_url, query="bid=12.34",
                            post_mappings=[{"target": "ping_token", "source": "@ping.token"}])
    lead = Lead.objects.create(source=SourceFactory(verticals=[vertical]), vertical=vertical,
                               fields=valid_fields(zip="30301", state="GA", city="Atlanta"))
    given = str(lead.uuid) if id_kind == "uuid" else str(lead.pk)

    ping = am_client.post(f"/admin/buyers/contract/{contract.pk}/test-ping/", {"lead": given})
    preview = am_client.get(f"/admin/buyers/contract/{contract.pk}/preview/", {"lead": given})

    assert _cell(ping.content.decode(), "test-ping-outcome") == "bid"
    assert json.loads(sim_requests(sim_url, f"/b{contract.pk}/ping")[0]["body"])["zip"] \
        == "30301"
    ping_preview = html.unescape(re.search(r'payload-ping">.*?<pre>(.*?)</pre>',
                                           preview.content.decode(), re.S)[1])
    assert json.loads(ping_preview[ping_preview.index("{"):])["zip"] == "30301"


def test_the_lead_admin_answers_the_public_uuid_the_api_returns(am_client, vertical):
    lead = Lead.objects.create(source=SourceFactory(verticals=[vertical]), vertical=vertical,
                               fields=valid_fields())

    response = am_client.get(f"/admin/leads/lead/{lead.uuid}/change/")
    short = am_client.get(f"/admin/leads/lead/{lead.uuid}/", follow=True)
    unknown = am_client.get(f"/admin/leads/lead/{uuid.UUID(int=9)}/change/", follow=True)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/leads/lead/{lead.pk}/change/"
    assert am_client.get(response["Location"]).status_code == 200
    assert short.redirect_chain[-1] == (f"/admin/leads/lead/{lead.pk}/change/", 302)
    assert short.status_code == 200 and str(lead.uuid) in short.content.decode()
    assert unknown.status_code == 200
    assert f"Lead with ID “{uuid.UUID(int=9)}” doesn’t exist" in unknown.content.decode()


def test_pause_and_resume_flip_the_status_and_are_audited(am_client, vertical, sim_url):
    contract = sim_contract(vertical, sim_url)
    switch = f"/admin/buyers/contract/{contract.pk}/switch/"
    change = f"/admin/buyers/contract/{contract.pk}/change/"

    assert am_client.get(switch).status_code == 405  # a state change is a POST
    response = am_client.post(switch, {"on": "0"})
    assert response.status_code == 302 and response["Location"] == change
    contract.refresh_from_db()
    assert contract.status == ContractStatus.PAUSED
    page = am_client.get(change).content.decode()
    assert "paused by staff" in page and re.search(r'value="1" class="button contract-switch',
                                                   page)

    am_client.post(switch, {"on": "1"})
    contract.refresh_from_db()
    assert contract.status == ContractStatus.ACTIVE
    assert list(LogEntry.objects.filter(object_id=str(contract.pk)).order_by("pk")
                .values_list("user__username", "change_message")) == [
        ("alice", "Paused."), ("alice", "Resumed.")]


def test_resuming_an_auto_paused_contract_closes_the_breaker(am_client, vertical, sim_url):
    contract = sim_contract(vertical, sim_url)
    Contract.objects.filter(pk=contract.pk).update(
        auto_paused_at=timezone.now(), auto_pause_reason="10 consecutive failed requests",
        consecutive_errors=10)
    change = f"/admin/buyers/contract/{contract.pk}/change/"

    page = am_client.get(change).content.decode()
    assert "auto-paused since" in page and "10 consecutive failed requests" in page
    assert re.search(r'value="1" class="button contract-switch">\s*Resume', page)

    am_client.post(f"/admin/buyers/contract/{contract.pk}/switch/", {"on": "1"})

    contract.refresh_from_db()
    assert (contract.status, contract.auto_paused_at, contract.consecutive_errors) == (
        ContractStatus.ACTIVE, None, 0)
    assert HealthEvent.objects.filter(contract=contract, kind=HealthEventKind.RESUMED,
                                      reason="resumed by alice").exists()
    assert LogEntry.objects.filter(object_id=str(contract.pk), user__username="alice",
                                   change_message="Resumed.").exists()
    assert '<span class="status-on">active</span>' in am_client.get(change).content.decode()


# --- roles and history ----------------------------------------------------------------------


def test_a_manager_reads_contracts_and_buyers_but_changes_nothing(
        manager_client, vertical, sim_url):
    contract = sim_contract(vertical, sim_url)
    change = f"/admin/buyers/contract/{contract.pk}/change/"
    buyer_change = f"/admin/buyers/buyer/{contract.buyer_id}/change/"

    page = manager_client.get(change)
    assert page.status_code == 200 and "Health and caps" in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    buyer_page = manager_client.get(buyer_change)
    assert buyer_page.status_code == 200 and 'name="_save"' not in buyer_page.content.decode()
    assert manager_client.get("/admin/buyers/contract/").status_code == 200

    edit = {**form_values(page), "priority": ["9"]}
    assert manager_client.post(change, edit).status_code == 403
    assert manager_client.post(buyer_change, {"company": "Hijacked"}).status_code == 403
    assert manager_client.get(ADD_URL).status_code == 403
    assert manager_client.get(f"/admin/buyers/contract/{contract.pk}/test-ping/"
                              ).status_code == 403
    assert manager_client.post(f"/admin/buyers/contract/{contract.pk}/test-ping/"
                               ).status_code == 403
    assert manager_client.post(f"/admin/buyers/contract/{contract.pk}/switch/",
                               {"on": "0"}).status_code == 403
    assert manager_client.get(f"/admin/buyers/contract/{contract.pk}/preview/"
                              ).status_code == 200
    contract.refresh_from_db()
    assert (contract.priority, contract.status) == (0, ContractStatus.ACTIVE)
    assert not Buyer.objects.filter(company="Hijacked").exists()
    assert not LogEntry.objects.exists()


def test_history_shows_who_changed_what(client, account_manager, manager, vertical, sim_url):
    contract = sim_contract(vertical, sim_url, post_mappings=[
        {"target": "ping_token", "source": "@ping.token"}])
    change = f"/admin/buyers/contract/{contract.pk}/change/"
    client.force_login(account_manager)
    edit = form_values(client.get(change))
    edit.update({"priority": ["7"], "min_bid": ["4.50"], "_save": ["Save"]})

    response = client.post(change, edit)

    assert response.status_code == 302, _errors(response)
    contract.refresh_from_db()
    assert (contract.priority, str(contract.min_bid)) == (7, "4.50")
    entry = LogEntry.objects.get(object_id=str(contract.pk))
    assert entry.user == account_manager
    assert entry.get_change_message() == "Changed Min bid and Priority."

    client.force_login(manager)  # a read-only role sees the history
    history = client.get(f"/admin/buyers/contract/{contract.pk}/history/")
    assert history.status_code == 200
    text = history.content.decode()
    assert "alice" in text and "Changed Min bid and Priority." in text

    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(root)
    audit = client.get("/admin/admin/logentry/", {"q": "alice"}).content.decode()
    assert "alice" in audit and html.escape(str(contract)) in audit
    assert "Priority" in audit


# --- big tables ------------------------------------------------------------------------------


BATCH = 10_000
ROWS = 100_000


@pytest.mark.slow
def test_lead_and_ping_changelists_stay_under_20_queries_with_100k_rows(
        client, manager, vertical, sim_url, django_assert_max_num_queries, monkeypatch):
    started = time.monotonic()
    sources = [SourceFactory(verticals=[vertical]) for _ in range(3)]
    contracts = [sim_contract(vertical, sim_url) for _ in range(4)]
    statuses = [LeadStatus.SOLD, LeadStatus.UNSOLD, LeadStatus.REJECTED]
    # One batch of instances, inserted ten times under new keys: building 100k model
    # instances would cost more than inserting them.
    leads = [Lead(source=sources[n % 3], vertical=vertical, status=statuses[n % 3])
             for n in range(BATCH)]
    for _ in range(ROWS // BATCH):
        for lead in leads:
            lead.pk, lead.uuid = None, uuid.uuid4()
        Lead.objects.bulk_create(leads)
    now = timezone.now()
    auctions = Auction.objects.bulk_create([
        Auction(lead=lead, started_at=now, ping_deadline_at=now) for lead in leads[:10]])
    outcomes = [Outcome.BID, Outcome.NO_BID, Outcome.TIMEOUT, Outcome.FILTERED]
    pings = [Ping(auction=auctions[n % 10], contract=contracts[n % 4], outcome=outcomes[n % 3],
                  latency_ms=12.5) for n in range(BATCH)]
    for _ in range(ROWS // BATCH):
        for ping in pings:
            ping.pk = None
        Ping.objects.bulk_create(pings)
    assert Lead.objects.count() == Ping.objects.count() == ROWS
    assert time.monotonic() - started < 60  # minimal rows: seconds, not minutes
    client.force_login(manager)  # the widest read-only role

    pages = ["/admin/leads/lead/", "/admin/leads/lead/?status__exact=sold",
             f"/admin/leads/lead/?vertical__id__exact={vertical.pk}&source__id__exact="
             f"{sources[1].pk}", "/admin/leads/lead/?p=3",
             "/admin/auctions/ping/", "/admin/auctions/ping/?outcome__exact=timeout",
             "/admin/auctions/ping/?p=5"]
    for url in pages:
        with django_assert_max_num_queries(20):
            response = client.get(url)
        assert response.status_code == 200, url
        assert len(response.context["cl"].result_list) == 100, url  # a full page
        page = response.content.decode()
        # each row shows its joined names (fetched with the rows, not one query each)
        if "/lead/" in url:
            assert page.count('class="field-source') == 100
            assert sources[1].name in page and vertical.name in page
        else:
            assert page.count('class="field-contract') == 100
            assert sum(str(contract) in page for contract in contracts) >= 3

    # negative control: without the joins each row fetches its names (an N+1)
    monkeypatch.setattr(LeadAdmin, "list_select_related", [])
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/admin/leads/lead/").status_code == 200
    assert len(queries) > 100
