"""The demo sources' receiver on the buyer simulator: a Standard Webhooks message signed with
the demo secret gets 204, anything else a 4xx naming what is wrong."""

from __future__ import annotations

import json

import pytest

from apps.demo.simulator.receiver import DEMO_WEBHOOK_SECRET, receive
from apps.webhooks.signing import secret_generate, signed_headers

NOW = 1_800_000_000
BODY = b'{"type": "lead.sold"}'


def _headers(secret: str = DEMO_WEBHOOK_SECRET, at: int = NOW) -> dict[str, str]:
    return signed_headers([secret], "msg_1", at, BODY)


def test_a_message_signed_with_the_demo_secret_is_taken():
    assert receive("POST", "/hooks/acme", _headers(), BODY, NOW + 2).status == 204


def test_one_of_several_signatures_is_enough_during_a_rotation():
    headers = signed_headers([secret_generate(), DEMO_WEBHOOK_SECRET], "msg_1", NOW, BODY)

    assert receive("POST", "/hooks/acme", headers, BODY, NOW).status == 204


@pytest.mark.parametrize(("headers", "body", "now", "status", "says"), [
    (_headers(secret_generate()), BODY, NOW, 401, "no webhook-signature verifies"),
    (_headers(), b'{"type": "lead.unsold"}', NOW, 401, "no webhook-signature verifies"),
    (_headers(), BODY, NOW + 301, 401, "webhook-timestamp too far from now"),
    ({}, BODY, NOW, 400, "webhook-id and webhook-timestamp are required"),
], ids=["other-secret", "changed-body", "stale", "unsigned"])
def test_a_message_that_does_not_verify_is_refused(headers, body, now, status, says):
    answer = receive("POST", "/hooks/acme", headers, body, now)

    assert answer.status == status and json.loads(answer.body)["error"] == says


def test_the_postback_pixel_takes_a_get_and_hooks_take_a_post():
    assert receive("GET", "/hooks/postback", {}, b"", NOW).status == 204
    assert receive("GET", "/hooks/acme", {}, b"", NOW).status == 405
    assert receive("POST", "/hooks/postback", {}, b"", NOW).status == 405
