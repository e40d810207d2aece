"""The demo's contracts are contracts the staff API accepts: ``demo_data`` writes them through
the API's own validation, fails loudly on one it would refuse, and its buyers get back the
ping token they hand out."""

from __future__ import annotations

import json
import shlex
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import CommandError, call_command

from apps.buyers.models import Buyer, Contract
from apps.demo import dataset
from apps.leads.models import Lead, LeadStatus
from apps.sources.models import Source

pytestmark = pytest.mark.django_db


def demo_data(*args: str) -> str:
    out = StringIO()
    call_command("demo_data", *args, stdout=out)
    return out.getvalue()


def test_every_demo_contract_reads_back_and_puts_back_unchanged(am_client):
    """What an account manager does with any contract: GET it, PUT it back as it came."""
    demo_data()
    ids = list(Contract.objects.order_by("pk").values_list("pk", flat=True))

    answers = {}
    for contract_id in ids:
        document = am_client.get(f"/api/v1/contracts/{contract_id}").json()
        response = am_client.put(f"/api/v1/contracts/{contract_id}", document, format="json")
        answers[document["buyer"]] = (response.status_code, response.json())

    assert len(ids) == len(dataset.DEMO_BUYERS) == 8
    assert {buyer: status for buyer, (status, _) in answers.items()} == {
        buyer: 200 for buyer in answers}, answers


def test_every_demo_ping_post_buyer_gets_its_ping_token_back_where_it_checks_it():
    demo_data()

    checked = 0
    for contract in Contract.objects.filter(mode="ping_post").prefetch_related(
            "endpoints", "mappings"):
        post = contract.endpoints.get(kind="post")
        expected_key = parse_qs(urlsplit(post.url).query)["post_token_key"][0]
        carried = [m.target for m in contract.mappings.all()
                   if m.kind == "post" and m.source == "@ping.token"]
        assert carried == [expected_key], contract.buyer.company
        checked += 1
    assert checked == 7  # all but the direct-post buyer


def test_a_demo_contract_the_api_would_refuse_fails_demo_data_and_writes_nothing(monkeypatch):
    broken = {**dataset.DEMO_BUYERS[0],
              "filters": [{"field": "shoe_size", "operator": "gte", "value": 40}]}
    monkeypatch.setattr(dataset, "DEMO_BUYERS", [*dataset.DEMO_BUYERS[1:], broken])

    with pytest.raises(CommandError) as raised:
        demo_data()

    assert "fails the staff API's validation: filters.0.field: Unknown lead field " \
           "'shoe_size'." in str(raised.value)
    assert (Contract.objects.count(), Buyer.objects.count(), Source.objects.count()) == (0, 0, 0)


def test_demo_data_says_how_to_admit_the_local_simulator_when_the_guard_refuses_it(settings):
    settings.HTTP_ALLOWED_NETWORKS = []

    with pytest.raises(CommandError, match=r"set HTTP_ALLOWED_NETWORKS=127\.0\.0\.1/32"):
        demo_data()

    assert not Contract.objects.exists()


def test_the_demo_contracts_point_at_the_simulator_url_given():
    demo_data("--simulator-url", "http://127.0.0.1:8222/")

    hosts = {urlsplit(url).netloc for url in
             Contract.objects.values_list("endpoints__url", flat=True)}
    assert hosts == {"127.0.0.1:8222"}


def test_the_printed_curl_sells_a_lead_through_the_demo_buyers(api_client, sim_url):
    output = demo_data("--simulator-url", sim_url, "--base-url", "http://testserver")
    curl = next(line.strip() for line in output.splitlines() if line.startswith("  curl "))
    argv = shlex.split(curl)
    headers = dict(argv[i + 1].split(": ", 1) for i, arg in enumerate(argv) if arg == "-H")
    body = argv[argv.index("-d") + 1]

    response = api_client.post(argv[argv.index("-X") + 2].removeprefix("http://testserver"),
                               data=body, content_type="application/json",
                               HTTP_AUTHORIZATION=headers["Authorization"])

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "sold"
    lead = Lead.objects.get(uuid=response.json()["id"])
    assert lead.status == LeadStatus.SOLD and lead.fields["email"] == json.loads(body)[
        "fields"]["email"]


def test_the_printed_ping_and_post_curls_sell_a_lead(api_client, sim_url):
    output = demo_data("--simulator-url", sim_url, "--base-url", "http://testserver")
    ping_curl, post_curl = [shlex.split(line.strip()) for line in output.splitlines()
                            if line.startswith("  curl ") and "/api/v1/pings" in line]
    auth = ping_curl[ping_curl.index("-H") + 1].removeprefix("Authorization: ")

    pinged = api_client.post("/api/v1/pings", data=ping_curl[ping_curl.index("-d") + 1],
                             content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert pinged.status_code == 200, pinged.json()
    assert pinged.json()["status"] == "bid"
    posted = api_client.post(f"/api/v1/pings/{pinged.json()['ping_id']}/post",
                             data=post_curl[post_curl.index("-d") + 1],
                             content_type="application/json", HTTP_AUTHORIZATION=auth)

    assert posted.status_code == 200, posted.json()
    assert posted.json()["status"] == "sold"


def test_the_printed_returns_curl_lists_the_demo_buyers_returns(api_client, sim_url):
    output = demo_data("--simulator-url", sim_url, "--base-url", "http://testserver")
    demo_data("--simulator-url", sim_url)  # idempotent: the documented key stays the one
    curl = next(line.strip() for line in output.splitlines()
                if line.startswith("  curl ") and "/api/v1/returns" in line)
    argv = shlex.split(curl)
    authorization = argv[argv.index("-H") + 1].removeprefix("Authorization: ")

    response = api_client.get(argv[2].removeprefix("http://testserver"),
                              HTTP_AUTHORIZATION=authorization)

    assert response.status_code == 200, response.json()
    assert response.json()["results"] == []
    assert f"Buyer {dataset.DEMO_BUYERS[0]['company']!r} returns API key: " in output


# --- after the sale: the demo sources hear of their leads -------------------------------------

def test_a_demo_sale_is_delivered_to_the_demo_receiver_signed_and_answered_204(api_client,
                                                                              sim_url):
    from apps.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
    from apps.webhooks.services.delivery import deliveries_send_due
    from tests.factories import sim_requests, sim_reset

    demo_data("--simulator-url", sim_url, "--base-url", "http://testserver")
    sim_reset(sim_url)
    source = dataset.DEMO_SOURCES[0]
    response = api_client.post("/api/v1/leads", data=json.dumps({
        "vertical": "auto-insurance", "fields": dataset.demo_lead_fields(
            __import__("random").Random(3))}), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {source.key}")
    assert response.json()["status"] == "sold", response.json()

    while deliveries_send_due():
        pass

    deliveries = WebhookDelivery.objects.filter(lead__uuid=response.json()["id"])
    assert sorted(deliveries.values_list("kind", "event", "status")) == [
        ("postback", "lead.sold", DeliveryStatus.SUCCEEDED),
        ("webhook", "lead.sold", DeliveryStatus.SUCCEEDED)]
    assert set(WebhookAttempt.objects.filter(delivery__in=deliveries).values_list(
        "http_status", flat=True)) == {204}
    hook = sim_requests(sim_url, f"/hooks/{source.slug}")[-1]
    assert hook["headers"]["webhook-signature"].startswith("v1,")
    assert json.loads(hook["body"])["type"] == "lead.sold"
    pixel = sim_requests(sim_url, "/hooks/postback")[-1]
    assert "event=lead.sold" in pixel["query"]


def test_the_demo_sources_return_policies_and_receivers():
    demo_data("--simulator-url", "http://127.0.0.1:8222/")

    sources = {s.name: s for s in Source.objects.prefetch_related("webhook_endpoints")}
    acme, blue = sources["Acme Affiliates"], sources["Blue Landing Pages"]
    assert (acme.return_policy, blue.return_policy) == ("clawback", "absorb")
    assert [e.url for e in acme.webhook_endpoints.all()] == ["http://127.0.0.1:8222/hooks/acme"]
    assert blue.postback_url_template.startswith("http://127.0.0.1:8222/hooks/postback?")
    demo_data("--simulator-url", "http://127.0.0.1:8222/")  # idempotent
    assert acme.webhook_endpoints.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_demo_history_fills_every_net_figure(settings):
    """What `make run` generates on a first start (fewer leads): every figure non-empty."""
    from datetime import date, timedelta

    from apps.billing.models import Conversion, Return
    from apps.demo.synthetic import synthetic_generate
    from apps.reports.selectors import ReportFilter, kpi_totals, return_reasons
    from apps.webhooks.models import WebhookDelivery

    settings.HTTP_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    synthetic_generate(count=1500, days=7, seed=1, method="orm")

    today = date.today()
    totals = kpi_totals(ReportFilter(today - timedelta(days=7), today + timedelta(days=1)))

    assert Return.objects.exists() and Conversion.objects.exists()
    assert WebhookDelivery.objects.filter(status="succeeded").exists()
    assert 0.01 < totals.return_rate < 0.08
    for name in ("returns", "returns_pending", "credits", "net_revenue", "clawbacks",
                 "net_payout", "net_margin", "conversions", "converted_leads",
                 "conversion_rate", "conversion_value"):
        assert getattr(totals, name), name
    assert totals.net_revenue < totals.revenue
    for name in ("pings_received", "pings_bid", "ping_bid_rate", "avg_bid_offered",
                 "pings_posted", "ping_post_rate", "pings_expired", "pings_sold"):
        assert getattr(totals, name), name  # the first demo source pings
    assert return_reasons(ReportFilter(today - timedelta(days=7), today + timedelta(days=1)),
                          "source")
