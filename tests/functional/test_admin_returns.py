"""Admin after the sale: staff file a return for a buyer through the same rules as the API,
rejecting a selection needs a note, a new buyer key is shown once, the buyer page shows its
postback URL, the contract and source pages their return settings, the ledger page the
ledger's figures, and the roles see what they should."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from apps.billing.models import BuyerApiKey, Return, ReturnStatus
from apps.billing.selectors import buyer_key_authenticate
from apps.billing.services import return_submit
from tests.factories.billing import Market

pytestmark = pytest.mark.django_db


@pytest.fixture
def market() -> Market:
    return Market()


@pytest.fixture
def root(client):
    user = get_user_model().objects.create_superuser("root", "r@example.com", "pw")
    client.force_login(user)
    return user


def _member(client, role: str):
    user = get_user_model().objects.create_user(role.split()[0].lower(), is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


def test_staff_file_a_return_for_a_buyer_through_the_same_rules(client, root, market):
    lead = market.sold((market.c1, "24.00"), payout="18.00")
    add = "/admin/billing/return/add/"

    filed = client.post(add, {"lead_id": str(lead.uuid), "buyer": market.b1.pk,
                              "reason": "bad_contact", "comment": "Called us"})
    twice = client.post(add, {"lead_id": str(lead.uuid), "buyer": market.b1.pk,
                              "reason": "bad_contact"})
    wrong_buyer = client.post(add, {"lead_id": str(lead.uuid), "buyer": market.b2.pk,
                                    "reason": "bad_contact"})
    bad_reason = client.post(add, {"lead_id": str(lead.uuid), "buyer": market.b1.pk,
                                   "reason": "meh"})

    assert filed.status_code == 302
    row = Return.objects.get()
    assert (row.channel, row.entered_by, row.credit, row.comment) == (
        "admin", root, row.sale.price, "Called us")
    assert "already_returned" in twice.content.decode()
    assert "not_your_lead" in wrong_buyer.content.decode()
    assert "Use one of: bad_contact" in bad_reason.content.decode()
    assert Return.objects.count() == 1


def test_rejecting_from_the_queue_asks_a_note_first(client, root, market):
    row = return_submit(buyer=market.b1, reason="fraud",
                        lead_uuid=market.sold((market.c1, "10.00"), payout="7.00").uuid)
    url = "/admin/billing/return/"
    ask = client.post(url, {"action": "reject_selected", "_selected_action": [row.pk]})
    empty = client.post(url, {"action": "reject_selected", "_selected_action": [row.pk],
                              "apply": "1", "note": ""})
    assert ask.status_code == empty.status_code == 200
    assert "Say why the returns are rejected." in empty.content.decode()
    assert Return.objects.get().status == ReturnStatus.PENDING

    done = client.post(url, {"action": "reject_selected", "_selected_action": [row.pk],
                             "apply": "1", "note": "Consumer confirmed"}, follow=True)

    assert "Rejected 1 return(s)." in done.content.decode()
    row.refresh_from_db()
    assert (row.status, row.note, row.decided_by) == ("rejected", "Consumer confirmed", root)


def test_a_new_buyer_key_is_shown_once_and_works(client, root, market):
    response = client.post("/admin/billing/buyerapikey/add/",
                           {"buyer": market.b1.pk, "name": "crm"})

    key = re.search(r'<code class="new-api-key">(lxb_[^<]+)</code>', response.content.decode())
    assert key is not None
    assert buyer_key_authenticate(key[1]).buyer == market.b1
    row = BuyerApiKey.objects.get()
    assert key[1] not in client.get(f"/admin/billing/buyerapikey/{row.pk}/change/").content.decode()


def test_the_buyer_page_shows_its_full_postback_url(client, root, market):
    page = client.get(f"/admin/buyers/buyer/{market.b1.pk}/change/").content.decode()

    assert (f"http://testserver/postback/b/{market.b1.postback_token}?lead={{lead_id}}"
            "&amp;event={event}&amp;value={value}") in page


def test_contract_and_source_pages_show_the_return_settings(client, root, market):
    contract = client.get(f"/admin/buyers/contract/{market.c1.pk}/change/").content.decode()
    source = client.get(f"/admin/sources/source/{market.source.pk}/change/").content.decode()

    for name in ("return_window_days", "return_cap_pct", "return_cap_days"):
        assert f'name="{name}"' in contract
    assert 'name="return_policy"' in source


def test_the_ledger_page_shows_the_ledgers_figures_and_its_csv(client, root, market):
    market.sold((market.c1, "24.00"), payout="18.00")
    query = f"?party=buyer&id={market.b1.pk}&period=month"

    page = client.get(f"/billing/ledger/{query}").content.decode()
    csv = client.get(f"/billing/ledger/{query}&format=csv")

    assert '<strong class="ledger-closing">24.00</strong>' in page
    assert page.count("<td>24.00</td>") == 2  # the month's charges and its closing
    assert csv["Content-Type"].startswith("text/csv")
    assert csv.content.decode().splitlines()[1].endswith(",0.00,24.00,0.00,24.00")


def test_the_ledger_page_opens_on_every_balance_each_linked_to_its_ledger(client, root,
                                                                          market):
    market.sold((market.c1, "24.00"), payout="18.00")

    page = client.get("/billing/ledger/").content.decode()

    buyers = page[page.index('id="ledger-buyers"'):page.index('id="ledger-sources"')]
    sources = page[page.index('id="ledger-sources"'):]
    assert f"?party=buyer&amp;id={market.b1.pk}&amp;" in buyers
    assert "<td>0.00</td><td>24.00</td><td>0.00</td><td>24.00</td>" in buyers  # B1
    assert "<td>0.00</td><td>0.00</td><td>0.00</td><td>0.00</td>" in buyers  # B2 bought none
    assert "<td>0.00</td><td>18.00</td><td>0.00</td><td>18.00</td>" in sources
    assert client.get("/billing/ledger/?to=2026-01-01&from=2026-02-01").status_code == 400


def test_managers_read_the_queue_and_ledger_but_cannot_decide(client, market):
    _member(client, "Managers")
    row = return_submit(buyer=market.b1, reason="fraud",
                        lead_uuid=market.sold((market.c1, "10.00"), payout="7.00").uuid)

    queue = client.get("/admin/billing/return/")
    ledger = client.get(f"/billing/ledger/?party=buyer&id={market.b1.pk}")
    client.post("/admin/billing/return/", {"action": "approve_selected",
                                           "_selected_action": [row.pk], "apply": "1"})

    assert queue.status_code == ledger.status_code == 200
    assert "approve_selected" not in queue.content.decode()
    assert Return.objects.get().status == ReturnStatus.PENDING


def test_account_managers_decide_returns_and_manage_keys(client, market):
    _member(client, "Account managers")
    row = return_submit(buyer=market.b1, reason="fraud",
                        lead_uuid=market.sold((market.c1, "10.00"), payout="7.00").uuid)

    client.post("/admin/billing/return/", {"action": "approve_selected",
                                           "_selected_action": [row.pk], "apply": "1",
                                           "note": ""})
    keys = client.get("/admin/billing/buyerapikey/add/")

    assert Return.objects.get().status == ReturnStatus.APPROVED
    assert keys.status_code == 200
