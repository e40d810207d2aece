"""Onboarding a buyer in the admin (issue 11 items 6 and 8): a new contract says plainly that
it is in testing, the test round trip shows both exchanges laid out for reading, and staff
switch the contract live from its page or from the list."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from apps.buyers.models import Contract, ContractSecret
from apps.buyers.services import contract_create
from tests.factories import BuyerFactory, VerticalFactory, examples_set
from tests.integration.buyer_server import BuyerServer, Received, json_answer

pytestmark = pytest.mark.django_db


@pytest.fixture
def vertical():
    return examples_set(VerticalFactory(slug="auto-insurance"))


@pytest.fixture
def am_client(client):
    user = get_user_model().objects.create_user("alice", "alice@example.com", "pw",
                                                is_staff=True)
    user.groups.add(Group.objects.get(name="Account managers"))
    client.force_login(user)
    return client


@pytest.fixture
def server():
    server = BuyerServer()
    yield server
    server.close()


def _contract(vertical, server: BuyerServer, **attributes) -> Contract:
    return contract_create(
        buyer=BuyerFactory(), vertical=vertical, name="onboarding",
        test_flag="field", test_flag_key="test", test_flag_value="true",
        test_flag_type="boolean",
        endpoints={
            "ping": {"url": f"{server.url}/ping", "response_format": "json",
                     "success_path": "status", "success_values": ["bid"],
                     "price_path": "price", "token_path": "ping_id",
                     "mappings": [{"target": "zip", "source": "zip"}]},
            "post": {"url": f"{server.url}/post", "body_format": "form",
                     "response_format": "xml", "success_path": "/response/status",
                     "success_values": ["accepted"],
                     "mappings": [{"target": "ping_id", "source": "@ping.token"},
                                  {"target": "Lead.Email", "source": "email"}]}},
        **attributes)


def _pre(page: str, css_class: str) -> str:
    match = re.search(rf'<pre class="{css_class}">(.*?)</pre>', page, re.S)
    assert match, f"no <pre class={css_class}> on the page"
    return html.unescape(match.group(1))


def test_a_testing_contract_says_so_on_its_page_and_in_the_list(am_client, vertical, server):
    contract = _contract(vertical, server)

    page = am_client.get(f"/admin/buyers/contract/{contract.pk}/change/").content.decode()
    listing = am_client.get("/admin/buyers/contract/").content.decode()

    assert 'class="contract-testing-banner"' in page
    assert "Testing — this contract takes no live leads." in page
    assert 'class="button contract-go-live-banner"' in page
    assert 'class="round-trip-link"' in page
    assert "testing — no live traffic" in listing
    assert 'class="draft-link"' in listing  # the add flow offers drafting from samples
    add = am_client.get("/admin/buyers/contract/add/").content.decode()
    assert 'class="draft-link"' in add and "?template=boberdoo" in add


def test_switch_live_from_the_page_takes_the_contract_live_and_is_audited(
        am_client, vertical, server):
    contract = _contract(vertical, server)
    change = f"/admin/buyers/contract/{contract.pk}/change/"

    resumed = am_client.post(f"/admin/buyers/contract/{contract.pk}/switch/", {"on": "1"},
                             follow=True).content.decode()
    contract.refresh_from_db()
    assert contract.status == "testing" and "switch it live (go-live)" in resumed

    response = am_client.post(f"/admin/buyers/contract/{contract.pk}/go-live/")

    assert response.status_code == 302 and response["Location"] == change
    contract.refresh_from_db()
    assert contract.status == "active"
    assert LogEntry.objects.filter(object_id=str(contract.pk)).latest(
        "action_time").change_message == "Switched live."
    page = am_client.get(change).content.decode()
    assert "contract-testing-banner" not in page and 'class="status-on"' in page


def test_the_list_action_switches_the_testing_contracts_live(am_client, vertical, server):
    testing = _contract(vertical, server)
    paused = _contract(vertical, server, status="paused")

    response = am_client.post("/admin/buyers/contract/", {
        "action": "go_live", "_selected_action": [testing.pk, paused.pk]}, follow=True)

    page = html.unescape(response.content.decode())
    assert f"{testing} is live: it takes live leads from the next auction." in page
    assert f"{paused} is not in testing; left as it is." in page
    assert Contract.objects.get(pk=testing.pk).status == "active"
    assert Contract.objects.get(pk=paused.pk).status == "paused"


def test_the_round_trip_page_shows_both_exchanges_laid_out_and_offers_to_go_live(
        am_client, vertical, server):
    server.on("/ping", lambda request: json_answer(200, {"status": "bid", "price": "8.50",
                                                         "ping_id": "tok-5"}))

    def post(request: Received):
        accepted = request.form().get("ping_id") == ["tok-5"]
        return (200, "application/xml",
                f"<response><status>{'accepted' if accepted else 'rejected'}</status>"
                "<id>99</id></response>")

    server.on("/post", post)
    contract = _contract(vertical, server)
    url = f"/admin/buyers/contract/{contract.pk}/round-trip/"

    assert 'class="round-trip-outcome"' not in am_client.get(url).content.decode()
    page = am_client.post(url).content.decode()

    assert re.search(r'class="round-trip-outcome">accepted<', page)
    assert "Both are flagged as tests the way this buyer wants: field test = true." in page
    assert re.search(r'class="ping-parsed-token">tok-5<', page)
    ping = _pre(page, "round-trip-ping-request")
    assert json.loads(ping[ping.index("{"):]) == {"zip": "10001", "test": True}
    assert '\n  "zip": "10001",' in ping  # indented for reading
    post_request = _pre(page, "round-trip-post-request")
    # a form body decoded to one key = value a line
    assert post_request.endswith("ping_id = tok-5\nLead[Email] = jane.doe@example.com\n"
                                 "test = true")
    assert _pre(page, "round-trip-post-request-exact").rstrip().endswith(
        "ping_id=tok-5&Lead%5BEmail%5D=jane.doe%40example.com&test=true")
    response = _pre(page, "round-trip-post-response")
    assert response.endswith("<response>\n  <status>accepted</status>\n  <id>99</id>\n"
                             "</response>")
    assert 'class="default contract-go-live"' in page
    assert len(server.received("/post")) == 1


# --- draft from samples -----------------------------------------------------------------------

DRAFT_URL = "/admin/buyers/contract/draft/"


def _draft_form(vertical, server: BuyerServer, **overrides) -> dict[str, str]:
    form = {
        "vertical": str(vertical.pk), "buyer": "", "name": "Acme from samples",
        "template": "",
        "ping_url": f"{server.url}/ping", "ping_format": "",
        "ping_request": '{"zip": "10001", "Age": 39, "Gender": "F", "api_key": "k-1"}',
        "ping_answer": '{"status": "bid", "price": 8.5, "ping_id": "abc"}',
        "ping_refusal": "",
        "post_url": f"{server.url}/post", "post_format": "",
        "post_request": "ping_id=abc&Lead[Email]=j%40x.com&Lead[Phone]=5551234567",
        "post_answer": "<response><status>accepted</status></response>",
        "post_refusal": "", "_draft": "Draft",
    }
    form.update(overrides)
    return form


def test_the_draft_page_lists_the_rows_and_what_it_could_not_match(am_client, vertical,
                                                                    server):
    page = am_client.post(DRAFT_URL, _draft_form(vertical, server)).content.decode()

    rows = re.search(r'class="draft-rows draft-rows-post">(.*?)</table>', page, re.S)[1]
    cells = [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", rows)]
    assert cells == ["ping_id", "ping_id", "@ping.token", "",
                     "Lead.Email", "Lead[Email]", "email", "",
                     "Lead.Phone", "Lead[Phone]", "phone", "phone_10"]
    unmatched = re.findall(r"<strong>(.*?)</strong>", re.search(
        r'class="draft-unmatched">(.*?)</ul>', page, re.S)[1])
    assert unmatched == ["Gender"]
    assert "<code>api_key</code> (stored write-only)" in page
    assert 'name="_create"' in page
    assert not Contract.objects.exists()  # drafting saves nothing


def test_creating_the_draft_saves_it_in_testing_and_opens_it(am_client, vertical, server):
    buyer = BuyerFactory()

    without_buyer = am_client.post(DRAFT_URL, _draft_form(vertical, server, _create="1"))
    assert "buyer: choose the buyer" in without_buyer.content.decode()

    response = am_client.post(DRAFT_URL, _draft_form(vertical, server, _create="1",
                                                     buyer=str(buyer.pk)))

    contract = Contract.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/buyers/contract/{contract.pk}/change/"
    assert (contract.buyer, contract.status, contract.name) == (buyer, "testing",
                                                                "Acme from samples")
    assert contract.secrets.get().name == "api_key"
    assert list(contract.mappings.filter(kind="ping").values_list("target", "transform")) == [
        ("zip", ""), ("Age", "age"), ("api_key", "")]
    assert LogEntry.objects.get(object_id=str(contract.pk)).change_message == (
        "Added from the buyer's samples.")


def test_a_template_fills_the_form_with_its_samples(am_client, vertical):
    page = html.unescape(am_client.get(DRAFT_URL + "?template=leadspedia").content.decode())

    assert "lp_campaign_key=REPLACE-WITH-BUYER-KEY" in page
    assert 'value="https://buyer.example.com/ping.do"' in page


def test_a_sample_that_cannot_be_read_is_named_on_the_form(am_client, vertical, server):
    page = am_client.post(DRAFT_URL, _draft_form(vertical, server, ping_request="{oops")
                          ).content.decode()

    assert re.search(r'errorlist.*not JSON', page, re.S)
    assert "draft-result" not in page


def test_drafting_needs_the_add_permission(client, vertical):
    user = get_user_model().objects.create_user("mark", "m@example.com", "pw", is_staff=True)
    user.groups.add(Group.objects.get(name="Managers"))
    client.force_login(user)

    assert client.get(DRAFT_URL).status_code == 403


# --- readable tools: pickers, live values, the floor -------------------------------------------


def test_the_mapping_tables_offer_the_fields_the_context_and_the_transform_grammars(
        am_client, vertical, server):
    contract = _contract(vertical, server)
    ContractSecret.objects.create(contract=contract, name="api_key", value="k-1")

    page = html.unescape(am_client.get(f"/admin/buyers/contract/{contract.pk}/change/")
                         .content.decode())

    assert 'name="mappings-post-0-source"' in page
    assert re.search(r'<input[^>]*list="mapping-sources"[^>]*name="mappings-post-0-source"'
                     r'|<input[^>]*name="mappings-post-0-source"[^>]*list="mapping-sources"',
                     page)
    sources = re.search(r'<datalist id="mapping-sources">(.*?)</datalist>', page, re.S)[1]
    assert '<option value="zip" label="zip">' in sources
    assert '<option value="email" label="email, personal data: post only">' in sources
    assert '<option value="@ping.token" label="context">' in sources
    assert '<option value="@secret.api_key" label="secret">' in sources
    assert '<option value="date_format">date_format — <strftime format>, e.g. %m/%d/%Y' in page
    assert '<option value="phone_10">phone_10</option>' in page
    hints = json.loads(re.search(r'id="transform-hints" type="application/json">(.*?)<',
                                 page)[1])
    assert hints["split"] == "<separator>|<index>, e.g.  |0" and hints["upper"] == ""
    assert "js/contract_mapping.js" in page


def test_the_preview_shows_each_rows_live_value_for_the_chosen_lead(am_client, vertical,
                                                                    server):
    from apps.leads.models import Lead
    from tests.factories import SourceFactory, valid_fields

    contract = _contract(vertical, server)
    contract.mappings.filter(kind="post", target="Lead.Email").update(target="Lead.Mail")
    ContractSecret.objects.create(contract=contract, name="api_key", value="k-secret-1")
    contract.mappings.create(kind="post", target="key", source="@secret.api_key", position=5)
    contract.mappings.create(kind="post", target="city", source="city", position=6)
    lead = Lead.objects.create(source=SourceFactory(verticals=[vertical]), vertical=vertical,
                               fields=valid_fields(email="ann@example.com", city=None))

    page = html.unescape(am_client.get(f"/admin/buyers/contract/{contract.pk}/preview/"
                                       f"?lead={lead.uuid}").content.decode())

    table = re.search(r'class="live-values live-values-post">(.*?)</table>', page, re.S)[1]
    rows = [[re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]]
    assert rows == [
        ["ping_id", "@ping.token", "", "sample-ping-token"],
        ["Lead.Mail", "email", "", "•••"],  # a real lead's PII: masked until revealed
        ["key", "@secret.api_key", "", "***"],
        ["city", "city", "", "nothing — no value for 'city'"]]
    assert "k-secret-1" not in page and "ann@example.com" not in page
    assert f'<option value="{lead.uuid}"' in page  # the recent leads to pick from


def test_the_floor_that_applies_is_shown_next_to_the_bid_settings(am_client, vertical,
                                                                  server):
    from decimal import Decimal

    from tests.factories import SourceFactory

    SourceFactory(name="Premium", verticals=[vertical], floor_price=Decimal("6.00"))
    SourceFactory(name="Plain", verticals=[vertical])
    contract = _contract(vertical, server, min_bid=Decimal("2.50"))

    page = html.unescape(am_client.get(f"/admin/buyers/contract/{contract.pk}/change/")
                         .content.decode())

    floor = re.search(r'<span class="bid-floor">(.*?)</span>', page, re.S)[1]
    assert re.sub(r"<[^>]+>", "", floor) == (
        "2.50 for most leads (vertical default 1.00, this contract's minimum bid 2.50); "
        "leads of Premium 6.00")
