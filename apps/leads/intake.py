"""What a source submits, validated: the envelope and the fields of the vertical's schema.

Validation never stops at the first problem: every bad key is reported, by its dotted path
(``vertical``, ``fields.email``, ``consent.jornaya_leadid``), so an affiliate fixes a form in
one round trip.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, cast

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.api import StrictTypesMixin
from apps.core.exceptions import flatten_errors
from apps.leads.normalize import (
    NormalizationError,
    is_blank,
    normalize_jornaya_leadid,
    normalize_trustedform_cert_url,
    normalize_value,
)
from apps.sources.models import VerticalField

# Form-encoded submissions are flat (``vertical=…&first_name=…``): these keys belong to the
# envelope, every other key is a lead field.
_FORM_ENVELOPE_KEYS = ("vertical", "sub_id", "test", "ip_address", "user_agent")
_FORM_CONSENT_KEYS = ("trustedform_cert_url", "jornaya_leadid", "tcpa_text", "tcpa_consent")
_SUB_ID_KEYS = tuple(f"sub_id{n}" for n in range(2, 6))


# The formats of the consent tokens, for the OpenAPI schema: what the normalizers accept
# (apps.leads.normalize), or blank, which counts as not given.
_TRUSTEDFORM_PATTERN = (r"^\s*(https?://cert\.trustedform\.com/[0-9a-fA-F]{40}/?"
                        r"|https?://ping\.trustedform\.com/0\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*)"
                        r"\s*$")
_JORNAYA_PATTERN = (r"^\s*[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-"
                    r"[0-9A-Fa-f]{12}\s*$")
_BLANK = {"type": "string", "pattern": r"^\s*$"}


@extend_schema_field({"oneOf": [{"type": "string", "maxLength": 255,
                                 "pattern": _TRUSTEDFORM_PATTERN}, _BLANK],
                      "description": "https://cert.trustedform.com/ and the 40 hex digits of "
                                     "the certificate (or a ping URL); blank = not given.",
                      "example": "https://cert.trustedform.com/"
                                 "2a5f8c3e9b1d4f6a8c0e2b4d6f8a0c2e4b6d8f0a"})
class _TrustedFormField(serializers.CharField):
    pass


@extend_schema_field({"oneOf": [{"type": "string", "maxLength": 64, "pattern": _JORNAYA_PATTERN},
                                _BLANK],
                      "description": "The Jornaya LeadiD token, 8-4-4-4-12 hex digits; blank = "
                                     "not given.",
                      "example": "4B1A8C9E-2F3D-4E5A-9B6C-7D8E9F0A1B2C"})
class _JornayaField(serializers.CharField):
    pass


@extend_schema_field({"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}],
                      "description": "The consumer's IPv4 or IPv6 address (not the submitting "
                                     "server's).", "example": "203.0.113.7"})
class _IPField(serializers.IPAddressField):
    pass


class OneToOnePickSerializer(serializers.Serializer):
    brand = serializers.SlugField(max_length=100,
                                  help_text="A brand the consumer picked, as the ping listed it.")
    text = serializers.CharField(max_length=4000, help_text="The consent text the consumer "
                                 "was shown for this brand.")


class ConsentSerializer(serializers.Serializer):
    trustedform_cert_url = _TrustedFormField(required=False, allow_blank=True, max_length=255)
    jornaya_leadid = _JornayaField(required=False, allow_blank=True, max_length=64)
    tcpa_text = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    tcpa_consent = serializers.BooleanField(required=False)
    one_to_one = serializers.ListField(
        child=OneToOnePickSerializer(), required=False, min_length=1, max_length=20,
        help_text="One-to-one consent: each company the consumer agreed to be contacted by, "
                  "with the text shown for it. Only these brands' buyers can receive the "
                  "lead.")
    consented_at = serializers.DateTimeField(
        required=False, help_text="When the consumer gave consent (default: when posted).")

    def validate_one_to_one(self, picks: list[dict[str, str]]) -> list[dict[str, str]]:
        seen: set[str] = set()
        for pick in picks:
            if pick["brand"] in seen:
                raise serializers.ValidationError(f"{pick['brand']} is picked twice.")
            seen.add(pick["brand"])
        return [dict(pick) for pick in picks]

    def validate_consented_at(self, value) -> str:
        return value.isoformat()  # kept as JSON with the lead

    def validate_trustedform_cert_url(self, value: str) -> str:
        return _normalized_or_error(normalize_trustedform_cert_url, value)

    def validate_jornaya_leadid(self, value: str) -> str:
        return _normalized_or_error(normalize_jornaya_leadid, value)


class SubmissionSerializer(StrictTypesMixin, serializers.Serializer):
    """The envelope of ``POST /api/v1/leads``; ``fields`` is checked against the vertical.
    Booleans may come as text (``test=true`` in a form), so only strings are strict."""

    strict_scalars = False

    vertical = serializers.SlugField(max_length=64)
    # DRF's metaclass takes declared fields off the class, so this does not replace the
    # Serializer.fields property; the stubs do not model that.
    fields = serializers.DictField(  # type: ignore[assignment]
        help_text="Lead fields keyed as in the vertical's spec.")
    sub_id = serializers.CharField(required=False, allow_blank=True, max_length=255)
    sub_ids = serializers.DictField(
        child=serializers.CharField(max_length=255, allow_blank=True), required=False,
        help_text="Extra tracking ids (sub_id2 … sub_id5).",
    )
    consent = ConsentSerializer(required=False)
    test = serializers.BooleanField(required=False, default=False)
    ip_address = _IPField(required=False)
    user_agent = serializers.CharField(required=False, allow_blank=True, max_length=1000)


def _normalized_or_error(normalizer, value: str) -> str:
    if is_blank(value):
        return ""
    try:
        return normalizer(value)
    except NormalizationError as error:
        raise serializers.ValidationError(error.message) from None


def submission_from_form(data: Mapping[str, Any]) -> dict[str, Any]:
    """Turn a flat form-encoded body into the envelope shape of a JSON submission."""
    flat = {key: data[key] for key in data}  # QueryDict: the last value of each key
    envelope: dict[str, Any] = {k: flat.pop(k) for k in _FORM_ENVELOPE_KEYS if k in flat}
    consent = {k: flat.pop(k) for k in _FORM_CONSENT_KEYS if k in flat}
    sub_ids = {k: flat.pop(k) for k in _SUB_ID_KEYS if k in flat}
    if consent:
        envelope["consent"] = consent
    if sub_ids:
        envelope["sub_ids"] = sub_ids
    envelope["fields"] = flat
    return envelope


@dataclass
class FieldsResult:
    clean: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)


def fields_validate(schema: Iterable[VerticalField], raw: Mapping[str, Any], *,
                    ping: bool = False) -> FieldsResult:
    """Normalize ``raw`` by the schema. Unknown keys are ignored; a missing required field or a
    value that fails its type is an error under ``fields.<key>``. For a ``ping`` only the
    fields required for the ping are required."""
    result = FieldsResult()
    for spec in schema:
        value = raw.get(spec.key)
        if is_blank(value):
            if (spec.required_for_ping if ping else spec.required):
                result.errors[f"fields.{spec.key}"] = ["This field is required."]
            continue
        try:
            result.clean[spec.key] = normalize_value(
                spec.type, value, choices=spec.choices,
                min_value=spec.min_value or None, max_value=spec.max_value or None,
            )
        except NormalizationError as error:
            result.errors[f"fields.{spec.key}"] = [error.message]
    return result


@cache
def _envelope() -> SubmissionSerializer:
    """The envelope's validator, built once per process. Building a serializer's fields
    deep-copies every declared field (a third of a capture's validation), and validating
    with ``run_validation`` keeps nothing on the instance (``is_valid`` is what stores the
    data and the errors), so threads share this one."""
    return SubmissionSerializer()


@cache
def _envelope_keys() -> tuple[frozenset[str], frozenset[str]]:
    """The envelope's and the consent's keys, read off their serializers' bound fields."""
    envelope: serializers.Serializer = _envelope()  # its bound fields, by name
    consent = cast(serializers.Serializer, envelope.fields["consent"])
    return frozenset(envelope.fields), frozenset(consent.fields)


def ignored_keys(data: Mapping[str, Any], field_keys: Iterable[str]) -> list[str]:
    """Every key of a JSON-shaped submission the platform does not use, by dotted path, sorted:
    unknown top-level keys (``"campaign"``), keys inside ``fields`` that the vertical's schema
    does not have (``"fields.favourite_colour"``) and unknown ``consent`` keys. The answer lists
    them back so that a misspelt key is seen, not silently dropped."""
    known, consent_keys = _envelope_keys()
    ignored = [key for key in data if key not in known]
    for name, used in (("fields", set(field_keys)), ("consent", consent_keys)):
        part = data.get(name)
        if isinstance(part, Mapping):
            ignored += [f"{name}.{key}" for key in part if key not in used]
    return sorted(map(str, ignored))


def form_ignored_keys(ignored: Iterable[str]) -> list[str]:
    """``ignored_keys`` of a flat form submission, named as the form sent them: a form's lead
    fields are top-level keys (``favourite_colour``, not ``fields.favourite_colour``)."""
    return sorted(key.removeprefix("fields.") for key in ignored)


def envelope_validate(
    data: Mapping[str, Any],
) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """Validate the envelope; returns ``(validated, {})`` or ``(None, errors)``."""
    try:
        return dict(_envelope().run_validation(data)), {}
    except serializers.ValidationError as error:
        return None, flatten_errors(error.detail)
