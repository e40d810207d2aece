"""Operator commands: scriptable set-up that prints only what a script needs."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from apps.core.models import StaffToken
from apps.sources.models import Source, SourceApiKey
from tests.factories import VerticalFactory

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_source_prints_only_a_working_key():
    VerticalFactory(slug="auto-insurance")

    key = run("create_source", "Partner X", "--verticals", "auto-insurance").strip()

    assert key.startswith("lx_") and "\n" not in key
    source = Source.objects.get(name="Partner X")
    assert [v.slug for v in source.verticals.all()] == ["auto-insurance"]
    response = APIClient().get("/api/v1/leads", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200


def test_create_source_refuses_an_unknown_vertical():
    with pytest.raises(CommandError, match="Unknown vertical"):
        run("create_source", "Partner Y", "--verticals", "nope")


def test_create_staff_token_prints_only_a_token_and_makes_a_staff_user():
    token = run("create_staff_token", "alice").strip()

    row = StaffToken.objects.get()
    assert row.user.username == "alice" and row.user.is_staff
    assert token.startswith("lxs_") and token not in row.digest


def test_demo_data_is_idempotent_and_its_keys_work():
    first = run("demo_data")
    second = run("demo_data")

    def without_the_curl(output: str) -> list[str]:  # its lead is a fresh one each time
        return [line for line in output.splitlines() if not line.startswith("  curl ")]

    assert without_the_curl(first) == without_the_curl(second)
    assert Source.objects.count() == 2 and SourceApiKey.objects.count() == 2
    key = next(line.split(": ")[1] for line in first.splitlines() if "API key" in line)
    assert APIClient().get("/api/v1/leads", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200


def test_api_keys_are_not_stored_in_plain_text():
    from django.db import connection

    VerticalFactory(slug="auto-insurance")
    key = run("create_source", "Partner Z", "--verticals", "auto-insurance").strip()
    token = run("create_staff_token", "bob").strip()

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM sources_sourceapikey")
        key_rows = cursor.fetchall()
        cursor.execute("SELECT * FROM core_stafftoken")
        token_rows = cursor.fetchall()
    stored = " ".join(str(v) for row in key_rows + token_rows for v in row)
    assert key.split("_", 2)[2] not in stored
    assert token.split("_", 2)[2] not in stored
