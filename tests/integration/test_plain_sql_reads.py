"""The hot reads written in plain SQL (``apps.core.sql.sql_models``) give the same model
instances as the ORM: every column converted as the ORM converts it — datetimes (text on
SQLite), decimals, JSON, sealed columns opened — on SQLite and on PostgreSQL; and the hot
writes (``sql_create``, ``sql_update_fields``) store the rows the ORM stores."""

from __future__ import annotations

from decimal import Decimal
from unittest import mock

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.utils import timezone

from apps.auctions.models import Auction, Ping, Post, Sale
from apps.auctions.services.outcome import lead_finalize
from apps.auctions.services.records import PING_COLUMNS
from apps.buyers.models import Contract
from apps.core.sql import (
    sql_columns,
    sql_create,
    sql_datetime,
    sql_insert,
    sql_models,
    sql_rows,
    sql_update_fields,
    sql_write,
)
from apps.leads.models import Lead
from apps.sources.models import Source, SourceApiKey, Vertical
from apps.sources.selectors import source_key_authenticate
from tests.factories import BuyerFactory, lead_submit, source_with_key

pytestmark = pytest.mark.django_db


def _values(instance: Model) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


@pytest.fixture
def lead(api_client, vertical) -> Lead:
    _, key = source_with_key(vertical, default_mode="async", payout_model="revshare")
    response = lead_submit(api_client, key, sub_ids={"sub_id2": "b"},
                           consent={"tcpa_text": "I agree", "tcpa_consent": True})
    assert response.status_code == 202, response.json()
    lead = Lead.objects.get(uuid=response.json()["id"])
    Lead.objects.filter(pk=lead.pk).update(sale_price=Decimal("12.50"), payout=Decimal("8.75"),
                                           completed_at=timezone.now())
    return lead


def test_a_lead_its_vertical_and_its_source_read_as_the_orm_reads_them(lead):
    sql = (f"SELECT {sql_columns(Lead, 'l')}, {sql_columns(Vertical, 'v')}, "  # noqa: S608
           f"{sql_columns(Source, 's')} FROM leads_lead l "
           "JOIN sources_vertical v ON v.id = l.vertical_id "
           "JOIN sources_source s ON s.id = l.source_id WHERE l.id = %s")

    (read, vertical, source), = sql_models(sql, [lead.pk], Lead, Vertical, Source)

    orm = Lead.objects.select_related("vertical", "source").get(pk=lead.pk)
    assert _values(read) == _values(orm)
    assert _values(vertical) == _values(orm.vertical)
    assert _values(source) == _values(orm.source)
    assert read.fields["email"] == orm.fields["email"]  # opened, not the sealed token
    assert read.sale_price == Decimal("12.50") and timezone.is_aware(read.received_at)
    assert read._state.adding is False  # an ordinary instance: save() updates it
    read.message = "checked"
    read.save(update_fields=["message"])
    assert Lead.objects.get(pk=lead.pk).message == "checked"


def test_the_decided_lead_is_the_orm_s_lead_with_its_vertical_and_source(lead):
    Lead.objects.filter(pk=lead.pk).update(status="auctioning")
    record = Auction.objects.create(lead=lead, started_at=timezone.now(),
                                    ping_deadline_at=timezone.now())

    decided = lead_finalize(lead, record, [], reason="no bids")

    orm = Lead.objects.select_related("vertical", "source").get(pk=lead.pk)
    assert orm.status == "unsold"
    assert _values(decided) == _values(orm)
    assert _values(decided.vertical) == _values(orm.vertical)
    assert _values(decided.source) == _values(orm.source)


def test_a_source_key_authenticates_with_its_source_as_the_orm_reads_it(vertical):
    source, key = source_with_key(vertical)

    row = source_key_authenticate(key)

    orm = SourceApiKey.objects.select_related("source").get(source=source)
    assert row is not None and row.pk == orm.pk
    assert _values(row.source) == _values(orm.source)
    assert source_key_authenticate(key[:-1] + ("x" if key[-1] != "x" else "y")) is None
    SourceApiKey.objects.filter(pk=row.pk).update(revoked_at=timezone.now())
    assert source_key_authenticate(key) is None


def test_a_plain_write_says_how_many_rows_it_changed(lead):
    assert sql_write("UPDATE leads_lead SET message = %s WHERE id = %s", ["x", lead.pk]) == 1
    assert sql_write("UPDATE leads_lead SET message = %s WHERE id = %s", ["x", -1]) == 0


def _stored(model: type[Model], pk: int) -> dict:
    values = _values(model.objects.get(pk=pk))
    del values["id"], values["created_at"]
    return values


def test_a_post_and_a_sale_are_stored_as_the_orm_stores_them(lead):
    buyer = BuyerFactory()
    contract = Contract.objects.create(buyer=buyer, vertical=lead.vertical, name="offer",
                                       mode="ping_post")
    auction = Auction.objects.create(lead=lead, started_at=timezone.now(),
                                     ping_deadline_at=timezone.now())
    post = {"auction": auction, "contract_id": contract.pk, "attempt": 1, "outcome": "sending",
            "price": Decimal("12.345"), "token": "t-1", "request_body": "email=ann@example.com"}

    plain, orm = sql_create(Post(**post)), Post.objects.create(**post)

    assert plain.pk is not None and plain.pk != orm.pk and plain._state.adding is False
    assert _stored(Post, plain.pk) == _stored(Post, orm.pk)
    assert timezone.is_aware(Post.objects.get(pk=plain.pk).created_at)
    (stored_body,), = sql_rows("SELECT request_body FROM auctions_post WHERE id = %s",
                               [plain.pk])
    assert stored_body.startswith("sealed:")  # sealed at rest, as the ORM seals it
    closed = ["outcome", "reason", "latency_ms", "http_status", "response_body"]
    for row in (plain, orm):
        row.outcome, row.reason, row.latency_ms, row.http_status = "accepted", "", 20.5, 200
        row.response_body = '{"echo": "ann@example.com"}'
    sql_update_fields(plain, closed)
    orm.save(update_fields=closed)
    assert _stored(Post, plain.pk) == _stored(Post, orm.pk)
    assert Post.objects.get(pk=plain.pk).response_body == '{"echo": "ann@example.com"}'

    consent = {"brand": "Acme", "text": "I agree", "picked": ["Acme"]}
    sale = sql_create(Sale(lead=lead, contract_id=contract.pk, buyer_id=buyer.pk,
                           price=Decimal("12.50"), exclusive=True, consent=consent))
    stored = Sale.objects.get(pk=sale.pk)
    assert (stored.lead_id, stored.price, stored.consent) == (lead.pk, Decimal("12.50"), consent)
    # the database's constraints hold as for the ORM: one exclusive sale per lead
    other = Contract.objects.create(buyer=buyer, vertical=lead.vertical, name="other",
                                    mode="ping_post")
    with pytest.raises(IntegrityError), transaction.atomic():
        sql_create(Sale(lead=lead, contract_id=other.pk, buyer_id=buyer.pk,
                        price=Decimal("11"), exclusive=True))


def test_a_captured_lead_s_values_are_worked_out_before_its_transaction(api_client, vertical):
    """The capture's transaction holds SQLite's one write turn, which every capture waits
    for: sealing and serializing the lead's fields happen before it begins."""
    _, key = source_with_key(vertical, default_mode="async")
    sealed = Lead._meta.get_field("fields")
    prepare = sealed.get_db_prep_save
    outside = len(connection.atomic_blocks)  # the test's own transaction, if any
    depths: list[int] = []

    def recorded(value, connection_):
        depths.append(len(connection.atomic_blocks))
        return prepare(value, connection_)

    with mock.patch.object(sealed, "get_db_prep_save", recorded):
        response = lead_submit(api_client, key)

    assert response.status_code == 202, response.json()
    assert depths == [outside]
    assert Lead.objects.get(uuid=response.json()["id"]).fields["email"] == "jane.doe@example.com"


def test_a_captured_lead_is_stored_as_the_orm_stores_it(lead):
    """Every capture's insert (``apps.leads.services._store``)."""
    stored = Lead.objects.get(pk=lead.pk)
    values = {f.attname: getattr(stored, f.attname) for f in Lead._meta.concrete_fields
              if f.attname not in ("id", "uuid", "received_at", "updated_at")}

    plain, orm = sql_create(Lead(**values)), Lead.objects.create(**values)

    def row(pk: int) -> dict:
        found = _values(Lead.objects.get(pk=pk))
        for name in ("id", "uuid", "received_at", "updated_at"):
            del found[name]
        return found

    assert plain.pk is not None and plain.uuid != orm.uuid
    assert row(plain.pk) == row(orm.pk) == {**values}
    assert timezone.is_aware(plain.received_at) and plain.received_at == Lead.objects.get(
        pk=plain.pk).received_at
    (stored_fields,), = sql_rows("SELECT fields FROM leads_lead WHERE id = %s", [plain.pk])
    assert "jane.doe@example.com" not in str(stored_fields).lower()  # PII sealed at rest


def test_inserted_rows_read_back_as_written_and_errors_are_django_s(lead):
    """``sql_insert`` (on PostgreSQL a ``COPY``): text that a copy stream must escape,
    decimals, floats, NULLs and times arrive as they were; a refused row is Django's
    ``IntegrityError`` and leaves nothing behind."""
    auction = Auction.objects.create(lead=lead, started_at=timezone.now(),
                                     ping_deadline_at=timezone.now())
    contract = Contract.objects.create(buyer=BuyerFactory(), vertical=lead.vertical,
                                       name="offer", mode="ping_post")
    created = timezone.now()
    awkward = 'tab\\there "quoted" back\\\\slash\nnew line, comma; \\N é 中'
    row = (auction.pk, contract.pk, 1, "bid", Decimal("12.50"), None, "tok", 23.25, 200,
           awkward, "{\"a\": 1}", "", sql_datetime(created))

    statements: list[str] = []

    def seen(execute, sql, params, many, context):
        statements.append(sql.split(" ", 1)[0])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(seen):
        sql_insert(Ping._meta.db_table, PING_COLUMNS, [row, (*row[:3], "no_bid", *row[4:])])

    # PostgreSQL copies the rows (its COPY does not pass Django's cursor); SQLite inserts
    assert statements == ([] if connection.vendor == "postgresql" else ["INSERT"])

    pings = list(Ping.objects.filter(auction=auction).order_by("id"))
    assert [p.outcome for p in pings] == ["bid", "no_bid"]
    ping = pings[0]
    assert (ping.bid, ping.effective_bid, ping.token, ping.latency_ms, ping.http_status,
            ping.detail, ping.request_body, ping.created_at) == (
        Decimal("12.50"), None, "tok", 23.25, 200, awkward, "{\"a\": 1}", created)
    with pytest.raises(IntegrityError), transaction.atomic():
        sql_insert(Ping._meta.db_table, PING_COLUMNS, [(*row[:3], None, *row[4:])])
    assert Ping.objects.filter(auction=auction).count() == 2
