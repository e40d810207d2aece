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


def run_with_stderr(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _calls(token: str) -> dict[str, int]:
    """Status of a read, a write and a report call with the token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return {
        "read": client.get("/api/v1/buyers").status_code,
        "write": client.post("/api/v1/buyers", {"company": "Acme"}, format="json").status_code,
        "reports": client.get("/api/v1/reports/kpis").status_code,
    }


AM_CAN = ("Token for alice is an account-manager: it may edit buyers, contracts (filters, caps, "
          "schedule, mappings, response rules), sources, their API keys and verticals (their "
          "privacy: suppression, PII retention); send test pings, preview payloads, pause and "
          "resume contracts; request consumer erasures and keep the suppression list; read "
          "leads (without their PII), auctions, the KPI reports, erasures and the audit log.\n")


def test_a_new_staff_token_user_is_an_account_manager_by_default_and_its_calls_work():
    token, said = run_with_stderr("create_staff_token", "alice")

    assert token.startswith("lxs_") and token.count("\n") == 1  # the token, nothing else
    assert said == AM_CAN
    assert _calls(token.strip()) == {"read": 200, "write": 201, "reports": 200}


@pytest.mark.parametrize(("role", "calls", "said"), [
    ("account-manager", {"read": 200, "write": 201, "reports": 200}, AM_CAN),
    ("manager", {"read": 200, "write": 403, "reports": 200},
     "Token for alice is a manager: it may read buyers, contracts, sources, verticals and "
     "their privacy settings, leads (without their PII), auctions, the KPI reports, "
     "erasures, the suppression list and the audit log; change nothing.\n"),
    ("admin", {"read": 200, "write": 201, "reports": 200},
     "Token for alice is an admin: it may do everything: every staff API call and the whole "
     "admin (superuser).\n"),
])
def test_create_staff_token_puts_the_user_in_the_role_and_says_what_it_may_do(
        role, calls, said):
    token, told = run_with_stderr("create_staff_token", "alice", "--role", role)

    assert told == said
    assert _calls(token.strip()) == calls


def test_an_existing_user_keeps_its_groups_unless_a_role_is_given():
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("carol", is_staff=True)  # no role
    token, told = run_with_stderr("create_staff_token", "carol")
    assert told == ("Token for carol has none of the roles (account-manager, manager, admin): "
                    "every staff API call answers 403 until it gets one (--role).\n")
    assert _calls(token.strip()) == {"read": 403, "write": 403, "reports": 403}

    run_with_stderr("create_staff_token", "carol", "--role", "manager")
    token, _ = run_with_stderr("create_staff_token", "carol")  # stays a manager
    assert _calls(token.strip()) == {"read": 200, "write": 403, "reports": 200}

    run_with_stderr("create_staff_token", "carol", "--role", "account-manager")
    user = get_user_model().objects.get(username="carol")
    assert list(user.groups.values_list("name", flat=True)) == ["Account managers"]


def test_create_staff_token_refuses_an_unknown_role():
    with pytest.raises(CommandError, match="invalid choice: 'owner'"):
        run("create_staff_token", "alice", "--role", "owner")


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
