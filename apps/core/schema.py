"""OpenAPI descriptions of our authentication schemes (drf-spectacular extensions).

Imported by ``CoreConfig.ready`` so the schema generator knows them."""

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)


class SourceKeyScheme(OpenApiAuthenticationExtension):
    target_class = "apps.sources.authentication.SourceKeyAuthentication"
    name = "sourceKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A source API key: `Authorization: Bearer lx_…`."}


class StaffTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.core.authentication.StaffTokenAuthentication"
    name = "staffToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A staff token from `manage.py create_staff_token`: "
                               "`Authorization: Bearer lxs_…`."}


def _blank_allowed(field) -> bool:
    """Whether the field takes or gives "" — read from the model for the read-only fields of
    a ModelSerializer, where DRF drops ``allow_blank``."""
    if getattr(field, "allow_blank", False):
        return True
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    if model is None:
        return False
    try:
        return bool(model._meta.get_field(field.source).blank)
    except (FieldDoesNotExist, TypeError):
        return False


class _BlankOrFormatted(OpenApiSerializerFieldExtension):
    """An email or URL that may be blank is ``""`` or the format, not the format alone (a
    blank ``contact_email`` means none given, and "" is no email address).

    drf-spectacular says so (``oneOf: [format, maxLength 0]``) for fields with
    ``allow_blank``; DRF drops that flag from the read-only fields of a ModelSerializer, so
    the answers would claim the format. The flag is put back from the model (it changes
    nothing in what a read-only field renders)."""

    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        if _blank_allowed(self.target):
            self.target.allow_blank = True
        return auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)


class BlankOrEmail(_BlankOrFormatted):
    target_class = "rest_framework.fields.EmailField"


class BlankOrURL(_BlankOrFormatted):
    target_class = "rest_framework.fields.URLField"


class UniqueItems(OpenApiSerializerFieldExtension):
    """``uniqueItems: true`` on a list that refuses a repeated item (``UniqueListField``):
    without it a schema-valid request (``["lead.sold", "lead.sold"]``) would be a 400."""

    target_class = "apps.core.api.UniqueListField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction,
                                                   bypass_extensions=True)
        return {**schema, "uniqueItems": True}


# --- Examples a reader can use ----------------------------------------------------------------
# Swagger UI makes up an example from the schema where none is given: random numbers from a
# decimal's pattern ("-17892756.0"), "additionalProp1" for free-form objects, "string" for a
# vertical. These are what a real request or answer holds instead, by property name.
_EXAMPLE_LEAD = {
    "first_name": "Jane", "last_name": "Doe", "email": "jane.doe@example.com",
    "phone": "212-555-0147", "zip": "10001", "date_of_birth": "1985-04-12",
    "currently_insured": True, "vehicle_year": 2019, "vehicle_make": "Toyota",
}
_OBJECT_EXAMPLES = {
    "fields": _EXAMPLE_LEAD,
    "sub_ids": {"sub_id2": "adgroup-7", "sub_id3": "creative-b"},
    "errors": {"fields.phone": ["Enter a valid US phone number, e.g. 212-555-0147 or "
                                "+1 212 555 0147 (another country: + and its country code)."]},
    "enrichment": {"city": "New York", "state": "NY", "county": "New York County",
                   "timezone": "America/New_York"},
    "consent": {"trustedform_cert_url":
                "https://cert.trustedform.com/2a5f8c3e9b1d4f6a8c0e2b4d6f8a0c2e4b6d8f0a",
                "jornaya_leadid": "4B1A8C9E-2F3D-4E5A-9B6C-7D8E9F0A1B2C"},
    "headers": {"X-Api-Version": "2"},
    "definitions": {"sold": "Leads sold at least once."},
    "body": {"id": "3f2a0c1e-8d4b-4e57-9a1c-2b7d5e6f8a90", "status": "sold",
             "payout": "7.50", "message": "Sold.", "ignored_fields": []},
}
_STRING_EXAMPLES = {
    "vertical": "auto-insurance", "slug": "auto-insurance", "timezone": "America/New_York",
    "tz": "America/New_York", "company": "Apex Auto Insurance", "sub_id": "campaign-42",
    "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X)",
    "ip_address": "203.0.113.7", "trustedform_cert_url":
    "https://cert.trustedform.com/2a5f8c3e9b1d4f6a8c0e2b4d6f8a0c2e4b6d8f0a",
    "jornaya_leadid": "4B1A8C9E-2F3D-4E5A-9B6C-7D8E9F0A1B2C",
    "tcpa_text": "By clicking Get Quotes I agree to be contacted by up to 5 insurers.",
    "url": "https://api.buyer.example.com/leads/ping", "webhook_url":
    "https://affiliate.example.com/leadexchange/webhook",
    "message": "Sold.", "reason": "Buyer asked for a pause.", "key": "vehicle_year",
}
_ARRAY_EXAMPLES = {
    "verticals": ["auto-insurance"], "dedupe_fields": ["email", "phone"],
    "ip_allowlist": ["203.0.113.0/24"], "ignored_fields": ["fields.favourite_colour"],
    "required_fields": ["first_name", "email", "phone", "zip"],
    "allowed_sources": [1], "blocked_sources": [2], "success_statuses": [200],
}
_DECIMAL_EXAMPLES = {"quality_multiplier": "1.00", "bid_multiplier": "1.00",
                     "payout_value": "70.00", "traffic_share_pct": "100.00"}

# Where a property's name means something else in one component (a delivery's ``url`` is the
# affiliate's, not a buyer's), by component: these win over the examples by name.
_WEBHOOK_URL = "https://affiliate.example.com/leadexchange/webhook"
_DELIVERY: dict[str, object] = {
    "id": "msg_9b2f4c1d7e8a4b6c9d0e1f2a3b4c5d6e", "url": _WEBHOOK_URL, "last_error": "",
    "payload": {"type": "lead.sold", "timestamp": "2026-05-01T14:03:22.118Z", "data": {
        "lead_id": "3f2a0c1e-8d4b-4e57-9a1c-2b7d5e6f8a90", "status": "sold", "payout": "7.50",
        "vertical": "auto-insurance", "sub_id": "campaign-42",
        "sub_ids": {"sub_id2": "adgroup-7"}, "test": False,
        "received_at": "2026-05-01T14:03:21.874Z",
        "completed_at": "2026-05-01T14:03:22.118Z"}},
}
_ENDPOINT: dict[str, object] = {
    "url": _WEBHOOK_URL, "description": "Our CRM's lead-status intake", "disabled_reason": "",
    "events": ["lead.sold", "lead.unsold", "lead.returned", "lead.error"]}
_COMPONENT_EXAMPLES: dict[str, dict[str, object]] = {
    "PingInputRequest": {"fields": {"zip": "10001", "vehicle_year": 2019,
                                    "currently_insured": True}},
    "PingInput": {"fields": {"zip": "10001", "vehicle_year": 2019, "currently_insured": True}},
    "WebhookDelivery": _DELIVERY,
    "WebhookDeliveryDetail": _DELIVERY,
    "WebhookAttempt": {"url": _WEBHOOK_URL, "error": "", "detail": "",
                       "response_excerpt": '{"ok": true}'},
    "WebhookEndpointOutput": _ENDPOINT,
    "WebhookEndpointCreated": {**_ENDPOINT,
                               "secret": "whsec_MfKQ9r8GKYqXTwHiKnzbtBOSRuTWAvNjHr4hEmbXLkg="},
    "WebhookEndpointInputRequest": _ENDPOINT,
    "PatchedWebhookEndpointInputRequest": _ENDPOINT,
    "Template": {"slug": "boberdoo", "label": "boberdoo-style ping/post",
                 "description": "Form posts to one lead-intake URL told apart by Mode=ping / "
                                "Mode=full; XML answers with <status>Matched</status>."},
    "Unmatched": {"where": "fixed_price", "key": "fixed_price", "value": "",
                  "reason": "A direct-post contract pays a fixed price: give it."},
    "ContractDraft": {
        "contract": {
            "vertical": "auto-insurance", "name": "Drafted from samples", "status": "testing",
            "mode": "direct_post", "fixed_price": None, "endpoints": {"post": {
                "url": "https://api.buyer.example.com/leads", "method": "POST",
                "body_format": "json", "response": {"format": "json", "success_path": "status",
                                                    "success_values": ["accepted"]},
                "mappings": [{"target": "fname", "source": "first_name"},
                             {"target": "email", "source": "email"},
                             {"target": "zip", "source": "zip"},
                             {"target": "credit", "constant": "good",
                              "constant_type": "string"}]}}},
        "notes": []},
    "EndpointSamplesRequest": {
        "url": "https://api.buyer.example.com/leads",
        "request": '{"fname": "Jane", "email": "jane.doe@example.com", "zip": "10001"}',
        "answer": '{"status": "accepted", "price": "12.50"}',
        "refusal": '{"status": "rejected", "reason": "duplicate"}'},
}


def _example_for(name: str, prop: dict) -> object:
    if prop.get("format") == "decimal" or any(
            branch.get("format") == "decimal" for branch in prop.get("oneOf", [])):
        return _DECIMAL_EXAMPLES.get(name, "12.50")
    if prop.get("type") == "object" and "properties" not in prop:
        return _OBJECT_EXAMPLES.get(name, {})
    if prop.get("type") == "array":
        return _ARRAY_EXAMPLES.get(name)
    if prop.get("type") == "string" and "enum" not in prop and "format" not in prop:
        return _STRING_EXAMPLES.get(name)
    return None


def realistic_examples(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: an ``example`` on every property whose made-up
    one would mislead (decimals, free-form objects, well-known names), unless it has one."""
    for component_name, component in result.get("components", {}).get("schemas", {}).items():
        own = _COMPONENT_EXAMPLES.get(component_name, {})
        for name, prop in (component.get("properties") or {}).items():
            if "example" in prop or "$ref" in prop:
                continue
            example = own[name] if name in own else _example_for(name, prop)
            if example is not None:
                prop["example"] = example
    return result


# What UnstorableRequestMiddleware refuses with a 400 (apps.core.unstorable), said by the
# schema: a NUL character in a query parameter cannot be stored, so it is not valid input.
_STORABLE_TEXT = "^[^\\u0000]*$"


def storable_query_strings(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: every free-text query parameter (a string with
    no enum, format or pattern of its own) gets a pattern without NUL, the character the
    platform refuses with a 400 before any view."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if (parameter.get("in") == "query" and schema.get("type") == "string"
                        and not {"enum", "format", "pattern"} & schema.keys()):
                    schema["pattern"] = _STORABLE_TEXT
    return result

