"""What an integrating affiliate needs beyond the field rows of a vertical: how to submit,
which fields to send, every answer with an example body, the duplicate rules and the accepted
formats. ``vertical_posting_spec`` adds these to the spec of SPEC §3 (whose keys stay); the
JSON endpoint and the page for people render the same dict.

The examples and the accepted forms restate what capture enforces
(``apps.leads.normalize``, ``apps.leads.intake``), which this app may not import (apps import
leftwards only); ``tests/api/test_verticals_and_docs.py`` submits every example and checks
that capture accepts it.
"""

from __future__ import annotations

from typing import Any

from apps.sources.models import FieldType, Vertical

# Same payload from the same source within this many seconds is a duplicate (SPEC §3).
RESUBMIT_WINDOW_SECONDS = 60

FORMATS: dict[str, dict[str, str]] = {
    FieldType.TEXT: {"format": "Text, at most 255 characters unless the field says otherwise; "
                               "no control characters.", "example": "Jane"},
    FieldType.EMAIL: {"format": "An email address (stored lower-case).",
                      "example": "jane.doe@example.com"},
    FieldType.PHONE: {"format": "A US phone number in any common writing: 2125550147, "
                                "212-555-0147, (212) 555-0147, +1 212 555 0147; another "
                                "country with + and its country code. Stored as E.164.",
                      "example": "212-555-0147"},
    FieldType.ZIP: {"format": "A 5-digit ZIP code; ZIP+4 (10001-1234) is accepted and cut to "
                              "5 digits. City and state are filled in from it.",
                    "example": "10001"},
    FieldType.STATE: {"format": "A US state, DC or territory: its 2-letter code or its name.",
                      "example": "NY"},
    FieldType.DATE: {"format": "YYYY-MM-DD; also accepted: MM/DD/YYYY, M-D-YYYY, YYYY/MM/DD, "
                               "'April 12, 1985', '12 Apr 1985'. Four-digit years only.",
                     "example": "1985-04-12"},
    FieldType.INTEGER: {"format": "A whole number (JSON number or text; '1,000' is accepted).",
                        "example": "42"},
    FieldType.DECIMAL: {"format": "A number, with a decimal point if any ('$52,000.00' is "
                                  "accepted).", "example": "52000.00"},
    FieldType.BOOLEAN: {"format": "true/false, yes/no, y/n, 1/0 or on/off (any case).",
                        "example": "true"},
    FieldType.CHOICE: {"format": "One of the allowed values (case does not matter).",
                       "example": ""},
    FieldType.URL: {"format": "An absolute http(s) URL.", "example": "https://www.example.com/q"},
    FieldType.IP: {"format": "An IPv4 or IPv6 address.", "example": "203.0.113.7"},
}

CONSENT_FORMATS: list[dict[str, str]] = [
    {"key": "trustedform_cert_url",
     "format": "The TrustedForm certificate URL: https://cert.trustedform.com/ followed by the "
               "40 hex digits of the certificate id (a ping URL "
               "https://ping.trustedform.com/0.… is accepted too).",
     "example": "https://cert.trustedform.com/2a5f8c3e9b1d4f6a8c0e2b4d6f8a0c2e4b6d8f0a"},
    {"key": "jornaya_leadid",
     "format": "The Jornaya LeadiD token: 36 characters, hex digits in groups of 8-4-4-4-12 "
               "joined by hyphens (stored upper-case).",
     "example": "4B1A8C9E-2F3D-4E5A-9B6C-7D8E9F0A1B2C"},
    {"key": "tcpa_text", "format": "The consent language the consumer agreed to, as shown.",
     "example": "By clicking Get Quotes I agree to be contacted by up to 5 insurers…"},
    {"key": "tcpa_consent", "format": "Whether the consumer gave TCPA consent (boolean).",
     "example": "true"},
    {"key": "one_to_one",
     "format": "One-to-one consent (JSON only): the companies the consumer agreed to be "
               "contacted by, each {brand, text}: the brand key a one-to-one ping listed and "
               "the consent text shown for it. Only those brands' buyers can receive the lead.",
     "example": '[{"brand": "apex-insurance", "text": "I agree that Apex Insurance may '
                'call me."}]'},
    {"key": "consented_at", "format": "When the consumer consented (ISO 8601; default: when "
                                      "the lead is received).",
     "example": "2026-05-01T12:00:40Z"},
]

ENVELOPE: list[dict[str, str]] = [
    {"key": "vertical", "format": "This vertical's slug (required)."},
    {"key": "fields", "format": "The lead fields below, keyed as listed (JSON only; a "
                                "form-encoded body sends them as top-level keys)."},
    {"key": "sub_id", "format": "Your tracking id (up to 255 characters)."},
    {"key": "sub_ids", "format": "More tracking ids: sub_id2 … sub_id5 (form: top-level keys)."},
    {"key": "consent", "format": "trustedform_cert_url, jornaya_leadid, tcpa_text, tcpa_consent "
                                 "(form: top-level keys), one_to_one and consented_at (JSON "
                                 "only)."},
    {"key": "test", "format": "true runs the whole pipeline but bills nobody."},
    {"key": "ip_address", "format": "The consumer's IP address (not your server's)."},
    {"key": "user_agent", "format": "The consumer's browser user agent."},
]

_ID = "3f2a0c1e-8d4b-4e57-9a1c-2b7d5e6f8a90"
_OTHER_ID = "9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f"


def _answers(slug: str) -> list[dict[str, Any]]:
    status_url = f"https://leads.example.com/api/v1/leads/{_ID}"
    return [
        {"status": 200, "when": "Sync mode (the default): the auction finished in your time "
                               "budget and the lead sold; payout is what you earn.",
         "body": {"id": _ID, "status": "sold", "payout": "7.50", "message": "Sold.",
                  "ignored_fields": []}},
        {"status": 200, "when": "Sync mode: the auction finished and no buyer took the lead.",
         "body": {"id": _ID, "status": "unsold", "payout": "0.00",
                  "message": "No buyer bid.", "ignored_fields": []}},
        {"status": 202, "when": "Async mode (?mode=async), or sync when the time budget ran "
                               "out first: stored; poll status_url (or wait for the webhook).",
         "body": {"id": _ID, "status": "received", "status_url": status_url,
                  "ignored_fields": ["fields.favourite_colour"]}},
        {"status": 400, "when": "Invalid input: every bad key named, the lead is recorded as "
                               "rejected.",
         "body": {"errors": {"fields.phone": [
             "Enter a valid US phone number, e.g. 212-555-0147 or +1 212 555 0147 (another "
             "country: + and its country code)."],
             "fields.zip": ["This field is required."]}, "id": _ID}},
        {"status": 401, "when": "Missing, unknown or revoked API key.",
         "body": {"detail": "Invalid or revoked API key.", "code": "authentication_failed"}},
        {"status": 403, "when": "Your IP is not on the source's allow-list, the source is "
                               "paused, or it may not send this vertical.",
         "body": {"detail": f"This source may not submit '{slug}' leads.",
                  "code": "vertical_not_allowed"}},
        {"status": 409, "when": "Duplicate of an earlier lead (see duplicate rules).",
         "body": {"status": "duplicate", "duplicate_of": _OTHER_ID, "id": _ID,
                  "detail": "Duplicate lead.", "ignored_fields": []}},
        {"status": 409, "when": "The consumer's e-mail or phone asked not to be contacted "
                               "(suppression list); the lead is recorded without its personal "
                               "data. Do not resend it.",
         "body": {"status": "suppressed", "id": _ID,
                  "detail": "This consumer asked not to be contacted (suppression list).",
                  "ignored_fields": []}},
        {"status": 409, "when": "The Idempotency-Key was used before with another body.",
         "body": {"detail": "This Idempotency-Key was already used with a different request "
                            "body.", "code": "idempotency_conflict"}},
        {"status": 413, "when": "The body is larger than the limit.",
         "body": {"detail": "Request body is larger than 65536 bytes.",
                  "code": "body_too_large"}},
        {"status": 415, "when": "Neither JSON nor form-encoded.",
         "body": {"detail": 'Unsupported media type "text/plain" in request.',
                  "code": "unsupported_media_type"}},
        {"status": 429, "when": "Over your requests-per-minute limit; retry after the "
                               "Retry-After header's seconds.",
         "body": {"detail": "Request was throttled. Expected available in 12 seconds.",
                  "code": "throttled"}},
    ]


def vertical_posting_spec(vertical: Vertical, spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` (``vertical_spec``: SPEC §3's keys, kept) with what an affiliate also needs:
    per field ``required`` (send it in a full lead) and ``format``; and ``submit``,
    ``envelope``, ``consent``, ``duplicates`` and ``answers``."""
    fields = []
    for field in spec["fields"]:
        known = FORMATS.get(field["type"], {"format": "", "example": ""})
        example = field["example"] or _example(field) or known["example"]
        fields.append({**field, "example": example or None,
                       "required": field["required_for_ping"] or field["required_for_post"],
                       "format": known["format"]})
    return {
        **spec,
        "fields": fields,
        "submit": {
            "method": "POST", "path": "/api/v1/leads",
            "auth": "Authorization: Bearer <your API key>",
            "content_types": ["application/json", "application/x-www-form-urlencoded"],
            "required_fields": [f["key"] for f in fields if f["required"]],
            "note": "A lead posted to /api/v1/leads is the full lead: send every field "
                    "required for the ping and every field required for the post. "
                    "'required_for_ping' marks the fields buyers need to bid (PII is never "
                    "in a ping); 'required_for_post' those they need to take the lead.",
        },
        "ping": {
            "method": "POST", "path": "/api/v1/pings",
            "post_path": "/api/v1/pings/{ping_id}/post",
            "required_fields": [f["key"] for f in fields
                                if f["required_for_ping"] and not f["pii"]],
            "note": "Ping first with the non-PII fields (a PII field is a 400): the answer "
                    "{ping_id, status, bid, expires_at} holds the best bid until expires_at. "
                    "Then post the full lead (pinged values unchanged) to post_path. With "
                    "\"one_to_one\": true the ping lists the bidders' brands; the post names "
                    "the consumer's picks in consent.one_to_one.",
        },
        "envelope": ENVELOPE,
        "consent": CONSENT_FORMATS,
        "duplicates": {
            "fields": list(vertical.dedupe_fields),
            "match": vertical.dedupe_match,
            "window_days": vertical.dedupe_window_days,
            "resubmit_window_seconds": RESUBMIT_WINDOW_SECONDS,
            "rule": _duplicate_rule(vertical),
        },
        "answers": _answers(vertical.slug),
    }


def _example(field: dict[str, Any]) -> str:
    """An example inside the field's own rules when the schema row gives none."""
    if field["choices"]:
        return str(field["choices"][0])
    if field["type"] in (FieldType.INTEGER, FieldType.DECIMAL, FieldType.DATE):
        return field["min"] or field["max"] or ""
    return ""


def _duplicate_rule(vertical: Vertical) -> str:
    resubmit = (f"The same body from the same source within {RESUBMIT_WINDOW_SECONDS} s is a "
                f"duplicate.")
    if not vertical.dedupe_fields or not vertical.dedupe_window_days:
        return resubmit
    keys = " or ".join(vertical.dedupe_fields) if vertical.dedupe_match == "any" \
        else " and ".join(vertical.dedupe_fields)
    days = vertical.dedupe_window_days
    return (f"A lead whose {keys} matches a lead received in the last {days} day"
            f"{'s' if days != 1 else ''}, from any source, is a duplicate (409). {resubmit} "
            f"Test leads only collide with test leads.")
