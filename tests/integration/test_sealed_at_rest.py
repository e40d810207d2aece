"""Personal data and secrets at rest (issue 14 item 1): after a full run — sync and async
leads sold through the simulator, an idempotent replay, a rejection, a duplicate, a source
ping and its post, a buyer that echoes the consumer, buyer credentials and a webhook secret —
no canary value is in clear anywhere: not in any table's raw text, not in the database file
(SQLite: the database written out with VACUUM INTO; PostgreSQL: pg_dump), not in the logs.
The same values read back whole through the models, so the scan is looking at real data.
Runs on SQLite and on PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from apps.auctions.models import Auction, Post
from apps.buyers.models import ContractSecret, Endpoint
from apps.core.sealing import PREFIX
from apps.leads.models import IdempotencyRecord, Lead, LeadStatus
from apps.webhooks.models import WebhookEndpoint
from tests.factories import sim_contract, source_with_key, valid_fields

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL, PHONE = "Zed.Canarywing@Example.org", "(212) 555-0199"
FIRST, LAST, STREET = "Zebulonius", "Canarywing", "17 Quillfeather Lane"
# every spelling of the canaries a table, a file or a log line could hold
CANARY_IP, CANARY_AGENT = "198.51.100.173", "CanaryBrowser/9.1 (Quillfeather OS)"
CANARY_TEXTS = ("zed.canarywing", "2125550199", "555-0199", "5550199", "zebulonius",
                "canarywing", "quillfeather", CANARY_IP, "canarybrowser")
AUTH_SECRET = "canary-auth-secret-7f3a9c"
CONSTANT_SECRET = "canary-constant-secret-51be"
SECRETS = (AUTH_SECRET, CONSTANT_SECRET)


def canary_fields(**overrides) -> dict:
    return valid_fields(**{"email": EMAIL, "phone": PHONE, "first_name": FIRST,
                           "last_name": LAST, "address": STREET, **overrides})


def call(api_client, key, path, body, **headers):
    return api_client.post(path, data=json.dumps(body), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {key}", **headers)


def found_in(text: str, needles) -> list[str]:
    text = text.lower()
    return [needle for needle in needles if needle.lower() in text]


def every_table_text() -> dict[str, str]:
    tables = connection.introspection.table_names()
    texts = {}
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            texts[table] = repr(cursor.fetchall())
    return texts


def database_file_text(tmp_path: Path) -> str:
    """The whole database as the disk holds it: SQLite's file (the test database lives in
    memory, so VACUUM INTO writes it out), or PostgreSQL's pg_dump."""
    if connection.vendor == "sqlite":
        target = tmp_path / "copy.sqlite3"
        with connection.cursor() as cursor:
            cursor.execute("VACUUM INTO %s", [str(target)])
        return target.read_bytes().decode("latin-1")
    settings = connection.settings_dict
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed to check the PostgreSQL dump"
    command = [pg_dump, "--data-only", "-h", settings["HOST"] or "127.0.0.1",
               "-p", str(settings["PORT"] or 5432), "-U", settings["USER"], settings["NAME"]]
    env = {"PGPASSWORD": settings.get("PASSWORD") or ""}
    return subprocess.run(command, capture_output=True, text=True, check=True,
                          env=env, timeout=120).stdout


@pytest.fixture
def run(api_client, vertical, fresh_simulator, caplog):
    """The full run; returns what it created."""
    caplog.set_level(logging.DEBUG)
    sim_url = fresh_simulator
    sync_source, sync_key = source_with_key(vertical, default_mode="sync")
    _, async_key = source_with_key(vertical, default_mode="async")
    contract = sim_contract(vertical, sim_url, query="bid=10")
    post = Endpoint.objects.get(contract=contract, kind="post")
    post.auth_type, post.auth_name, post.auth_secret = "header", "X-Api-Key", AUTH_SECRET
    post.save()
    ContractSecret.objects.create(contract=contract, name="api_key", value=CONSTANT_SECRET)
    hook = WebhookEndpoint.objects.create(source=sync_source, url="http://127.0.0.1:9/hook",
                                          secret="whsec_" + "c" * 32)

    body = {"vertical": vertical.slug, "fields": canary_fields(), "ip_address": CANARY_IP,
            "user_agent": CANARY_AGENT}
    sold = call(api_client, sync_key, "/api/v1/leads", body, HTTP_IDEMPOTENCY_KEY="canary-1")
    replay = call(api_client, sync_key, "/api/v1/leads", body, HTTP_IDEMPOTENCY_KEY="canary-1")
    duplicate = call(api_client, async_key, "/api/v1/leads",
                     {"vertical": vertical.slug, "fields": canary_fields()})
    rejected = call(api_client, async_key, "/api/v1/leads",
                    {"vertical": vertical.slug, "fields": canary_fields(zip="1")})
    other = call(api_client, async_key, "/api/v1/leads", {
        "vertical": vertical.slug,
        "fields": canary_fields(email="zed.canarywing+2@example.org", phone="(212) 555-0198")})
    pinged = call(api_client, async_key, "/api/v1/pings", {
        "vertical": vertical.slug,
        "fields": {k: v for k, v in valid_fields().items()
                   if k in ("zip", "vehicle_year", "homeowner", "credit_rating", "income")}})
    assert [sold.status_code, replay.status_code, duplicate.status_code,
            rejected.status_code, other.status_code, pinged.status_code] == [
        200, 200, 409, 400, 202, 200]
    assert sold.json()["status"] == "sold" and replay.json() == sold.json()
    posted = call(api_client, async_key, f"/api/v1/pings/{pinged.json()['ping_id']}/post", {
        "fields": canary_fields(email="zed.canarywing+3@example.org",
                                phone="(212) 555-0197")})
    assert posted.status_code == 200 and posted.json()["status"] == "sold"
    # a buyer whose answer echoed the consumer (the simulator does not): stored sealed too
    lead = Lead.objects.get(uuid=sold.json()["id"])
    Post.objects.create(auction=Auction.objects.filter(lead=lead).first(), contract=contract,
                        outcome="rejected", price=Decimal(10), created_at=timezone.now(),
                        request_body=json.dumps({"email": "***"}),
                        response_body=json.dumps({"error": f"{EMAIL} {PHONE} already bought"}))
    return {"lead": lead, "hook": hook, "contract": contract}


def test_no_personal_data_or_secret_is_in_clear_at_rest_or_in_the_logs(run, caplog, tmp_path):
    lead = run["lead"]
    # the models read every value back whole: the scan below is looking at real data
    assert lead.status == LeadStatus.SOLD
    assert (lead.fields["email"], lead.fields["first_name"]) == (EMAIL.lower(), FIRST)
    assert (lead.consumer_ip, lead.user_agent) == (CANARY_IP, CANARY_AGENT)
    assert Lead.objects.filter(fields__isnull=False).count() == 5
    assert IdempotencyRecord.objects.get().response["id"] == str(lead.uuid)
    assert EMAIL in Post.objects.get(auction__lead=lead, outcome="rejected").response_body
    assert Endpoint.objects.get(contract=run["contract"], kind="post").auth_secret == AUTH_SECRET
    assert ContractSecret.objects.get().value == CONSTANT_SECRET
    assert WebhookEndpoint.objects.get().secret == run["hook"].secret

    tables = every_table_text()
    leaking = {table: found_in(text, (*CANARY_TEXTS, *SECRETS, run["hook"].secret))
               for table, text in tables.items()}
    assert {table: hits for table, hits in leaking.items() if hits} == {}
    assert PREFIX in tables["leads_lead"] and PREFIX in tables["auctions_post"]
    assert found_in(database_file_text(tmp_path), (*CANARY_TEXTS, *SECRETS)) == []
    records = caplog.get_records("setup")  # the run is the fixture
    assert len(records) > 10  # it did log
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in records)
    assert "auction.sale" in logged
    assert found_in(logged, (*CANARY_TEXTS, *SECRETS)) == []
