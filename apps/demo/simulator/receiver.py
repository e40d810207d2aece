"""The demo sources' receiver: where their webhooks and postbacks land on the simulator.

``POST /hooks/<name>`` takes a Standard Webhooks message: it answers 204 when the
``webhook-signature`` verifies under the demo's signing secret (``DEMO_WEBHOOK_SECRET``,
which ``demo_data`` gives every demo endpoint) and the timestamp is within five minutes, 401
otherwise — what a careful source's server does. ``GET /hooks/postback?…`` is a tracker's
pixel: 204. Pure: no I/O; the app records every request, so tests read them at ``/_sim/``.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping

from apps.demo.simulator.behaviour import Answer, error_answer
from apps.webhooks.signing import signature

PREFIX = "/hooks/"
POSTBACK_PATH = "/hooks/postback"
# The demo's endpoints share this secret so the simulator can check their signatures; a
# real endpoint's secret is random (``apps.webhooks.signing.secret_generate``).
DEMO_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"leadexchange-demo-webhook-secret!").decode()
TOLERANCE_S = 300


def receive(method: str, path: str, headers: Mapping[str, str], body: bytes,
            now: float) -> Answer:
    """Answer a request under ``/hooks/`` received at ``now`` (epoch seconds)."""
    if path == POSTBACK_PATH:
        if method != "GET":
            return _not_allowed("GET")
        return Answer(204, None)
    if method != "POST":
        return _not_allowed("POST")
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    if not msg_id or not stamp.isdigit():
        return error_answer(400, "webhook-id and webhook-timestamp are required")
    if abs(now - int(stamp)) > TOLERANCE_S:
        return error_answer(401, "webhook-timestamp too far from now")
    expected = signature(DEMO_WEBHOOK_SECRET, msg_id, int(stamp), body)
    offered = headers.get("webhook-signature", "").split()
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        return error_answer(401, "no webhook-signature verifies")
    return Answer(204, None)


def _not_allowed(method: str) -> Answer:
    answer = error_answer(405, f"this receiver takes {method}")
    return Answer(405, answer.content_type, answer.body, (("Allow", method),))
