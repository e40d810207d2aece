"""``Source.webhook_url`` / ``webhook_secret`` move into a ``WebhookEndpoint`` (webhooks.0002)
before sources.0003 drops them: a receiver that verified with the old secret keeps
verifying, since the old secret's bytes become the new ``whsec_`` secret's key."""

from __future__ import annotations

import base64

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.webhooks.signing import secret_key

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("webhooks", "0001_initial"), ("sources", "0002_source_account_manager_postback_check")]


def _migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


def test_a_sources_webhook_fields_become_an_endpoint_for_every_event():
    old = _migrate(BEFORE).loader.project_state(BEFORE).apps
    Source = old.get_model("sources", "Source")
    kept = Source.objects.create(name="Old style", webhook_url="https://hooks.example.com/a",
                                 webhook_secret="s3cret-of-old")
    ready = "whsec_" + base64.b64encode(b"k" * 32).decode()
    Source.objects.create(name="Already whsec", webhook_url="https://hooks.example.com/b",
                          webhook_secret=ready)
    Source.objects.create(name="No webhook")

    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    new = _migrate(latest).loader.project_state(latest).apps

    Endpoint = new.get_model("webhooks", "WebhookEndpoint")
    rows = {e.source.name: e for e in Endpoint.objects.select_related("source")}
    assert set(rows) == {"Old style", "Already whsec"}
    moved = rows["Old style"]
    assert (moved.source_id, moved.url, moved.events, moved.is_active) == (
        kept.pk, "https://hooks.example.com/a",
        ["lead.sold", "lead.unsold", "lead.returned", "lead.error"], True)
    assert secret_key(moved.secret) == b"s3cret-of-old"
    assert rows["Already whsec"].secret == ready
    assert "webhook_url" not in {f.name for f in new.get_model("sources", "Source")._meta.fields}
