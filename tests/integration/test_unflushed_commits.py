"""Writes whose commit does not wait for the disk (``apps.core.sql.sql_unflushed``): an
auction's claim and its round's rows, before any lead leaves, and the acceptance count,
bookkeeping after the outcome. On PostgreSQL their
transaction turns ``synchronous_commit`` off for itself only; the post's row, the sale and
every other write still wait (the first of them flushes the earlier ones too)."""

from __future__ import annotations

import json

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.core.sql import sql_rows, sql_unflushed
from apps.leads.models import Lead, LeadStatus
from tests.factories import sim_contract, source_with_key, valid_fields

NO_WAIT = "SET LOCAL synchronous_commit TO OFF"


def _synchronous_commit() -> str:
    return sql_rows("SHOW synchronous_commit")[0][0]


@pytest.mark.django_db
def test_off_postgresql_the_statement_is_left_as_it_is() -> None:
    if connection.vendor == "postgresql":
        pytest.skip("the embedded database's case")
    assert sql_unflushed("UPDATE t SET a = 1") == "UPDATE t SET a = 1"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_alone_the_write_is_its_own_transaction_and_the_setting_ends_with_it(vertical) -> None:
    source, _ = source_with_key(vertical)
    rows = sql_rows(sql_unflushed("UPDATE sources_source SET name = %s WHERE id = %s "
                                  "RETURNING id, name"), ["renamed", source.pk])
    assert rows == [(source.pk, "renamed")]  # the write's own rows, not the SET's
    assert _synchronous_commit() == "on"  # the next commit on this connection waits
    source.refresh_from_db()
    assert source.name == "renamed"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_it_holds_for_that_transaction_only(vertical) -> None:
    source, _ = source_with_key(vertical)
    with transaction.atomic():
        sql_rows(sql_unflushed("UPDATE sources_source SET name = %s WHERE id = %s "
                               "RETURNING id"), ["inside", source.pk])
        assert _synchronous_commit() == "off"
    assert _synchronous_commit() == "on"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_sold_leads_claim_round_and_count_do_not_wait_its_post_and_sale_do(
        api_client, vertical, sim_url) -> None:
    _, key = source_with_key(vertical)
    sim_contract(vertical, sim_url, query="bid=9")
    with CaptureQueriesContext(connection) as queries:
        response = api_client.post(
            "/api/v1/leads", data=json.dumps({"vertical": vertical.slug,
                                              "fields": valid_fields()}),
            content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == LeadStatus.SOLD
    unflushed = [q["sql"] for q in queries.captured_queries if NO_WAIT in q["sql"]]
    assert [sql.split()[:3] for sql in unflushed] == [
        ["UPDATE", "leads_lead", "SET"],  # the claim
        ["INSERT", "INTO", '"auctions_auction"'],  # round one's record (its pings follow)
        ["UPDATE", "buyers_contract", "SET"],  # after the answer: the acceptance count
    ]
    writes = [q["sql"] for q in queries.captured_queries
              if q["sql"].startswith(("INSERT", "UPDATE")) and NO_WAIT not in q["sql"]]
    assert any('"auctions_post"' in sql for sql in writes)  # the post's row waits
    assert any('"auctions_sale"' in sql for sql in writes)  # and so does the sale
    assert _synchronous_commit() == "on"
    assert Lead.objects.get(uuid=response.json()["id"]).status == LeadStatus.SOLD
