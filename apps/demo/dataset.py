"""The demo dataset: the ``auto-insurance`` vertical, two sources with well-known keys, eight
buyers pointed at the bundled buyer simulator (every wire format, shared and exclusive,
direct post, a slow one for the circuit breaker), and a staff login. Loading it twice
changes nothing (the simulator URL is refreshed). Demo only: the keys and the
``admin``/``admin`` login are published in the README, so never load this into a
production database.

The demo's contracts are written the way staff write theirs: each is the staff API's
contract document, validated by the API's own serializer (``ContractInputSerializer``,
hence ``apps.buyers.validation``) and saved by the buyers' services. A demo contract the
API would refuse makes ``demo_data_load`` raise ``DemoDataError`` naming every problem,
and nothing is written."""

from __future__ import annotations

import json
import random
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from apps.billing.models import BuyerApiKey
from apps.billing.selectors import BUYER_KEY_NAMESPACE
from apps.billing.services import buyer_key_create
from apps.buyers.api.serializers import ContractInputSerializer
from apps.buyers.models import Buyer, Contract, ContractStatus
from apps.buyers.services import contract_create, contract_update
from apps.core.http import BlockedUrl, url_check
from apps.core.keys import key_from_parts
from apps.demo.simulator.profiles import PING_RULES, POST_RULES, REQUEST_FORMAT
from apps.demo.simulator.receiver import DEMO_WEBHOOK_SECRET, POSTBACK_PATH
from apps.demo.simulator.receiver import PREFIX as HOOKS_PREFIX
from apps.sources.models import (
    FieldType,
    ReturnPolicy,
    Source,
    SourceApiKey,
    Vertical,
    VerticalField,
)
from apps.sources.services import SOURCE_KEY_NAMESPACE, source_key_create
from apps.webhooks.models import WebhookEndpoint
from apps.webhooks.selectors import endpoints_forget
from apps.webhooks.services.endpoints import endpoint_create

AUTO_INSURANCE_FIELDS: list[dict] = [
    # key, type, flags, extra — in the order affiliates see them in the spec
    {"key": "first_name", "type": FieldType.TEXT, "pii": True, "required_for_post": True,
     "example": "Jane"},
    {"key": "last_name", "type": FieldType.TEXT, "pii": True, "required_for_post": True,
     "example": "Doe"},
    {"key": "email", "type": FieldType.EMAIL, "pii": True, "required_for_post": True,
     "example": "jane.doe@example.com"},
    {"key": "phone", "type": FieldType.PHONE, "pii": True, "required_for_post": True,
     "example": "(212) 555-0147"},
    {"key": "address", "type": FieldType.TEXT, "pii": True, "example": "12 Main St"},
    {"key": "city", "type": FieldType.TEXT, "example": "New York",
     "help_text": "Filled in from the ZIP code when missing."},
    {"key": "state", "type": FieldType.STATE, "example": "NY",
     "help_text": "Two-letter code or name; filled in from the ZIP code when missing."},
    {"key": "zip", "type": FieldType.ZIP, "required_for_ping": True, "required_for_post": True,
     "example": "10001"},
    {"key": "date_of_birth", "type": FieldType.DATE, "pii": True, "required_for_post": True,
     "min_value": "1900-01-01", "example": "1985-04-12"},
    {"key": "gender", "type": FieldType.CHOICE, "choices": ["male", "female", "other"],
     "example": "female"},
    {"key": "marital_status", "type": FieldType.CHOICE,
     "choices": ["single", "married", "divorced", "widowed"], "example": "married"},
    {"key": "credit_rating", "type": FieldType.CHOICE,
     "choices": ["excellent", "good", "fair", "poor"], "example": "good"},
    {"key": "homeowner", "type": FieldType.BOOLEAN, "example": "true"},
    {"key": "currently_insured", "type": FieldType.BOOLEAN, "required_for_ping": True,
     "example": "true"},
    {"key": "current_insurer", "type": FieldType.TEXT, "example": "Progressive"},
    {"key": "vehicle_year", "type": FieldType.INTEGER, "required_for_ping": True,
     "min_value": "1981", "max_value": "2028", "example": "2019"},
    {"key": "vehicle_make", "type": FieldType.TEXT, "required_for_ping": True,
     "example": "Toyota"},
    {"key": "vehicle_model", "type": FieldType.TEXT, "example": "Camry"},
    {"key": "accidents", "type": FieldType.INTEGER, "min_value": "0", "max_value": "20",
     "example": "0", "help_text": "At-fault accidents in the last 5 years."},
]


@dataclass(frozen=True)
class DemoSource:
    name: str
    prefix: str  # 8 characters, the visible part of the key
    secret: str
    payout_model: str
    payout_value: Decimal
    return_policy: str = ReturnPolicy.CLAWBACK
    slug: str = ""  # its receiver path on the simulator: /hooks/<slug>

    @property
    def key(self) -> str:
        return key_from_parts(SOURCE_KEY_NAMESPACE, self.prefix, self.secret).key


DEMO_SOURCES = [
    DemoSource("Acme Affiliates", "demoacme", "demo-only-acme-affiliates-key",
               "revshare", Decimal("70.00"), slug="acme"),
    DemoSource("Blue Landing Pages", "demoblue", "demo-only-blue-landing-key",
               "fixed", Decimal("12.00"), ReturnPolicy.ABSORB, slug="blue"),
]
# The first demo buyer's key for the returns API (``lxb_…``): documented, demo only.
DEMO_BUYER_KEY = ("demoapex", "demo-only-apex-buyer-key")
# What a demo source's tracker hears (a sale, an approved return): the simulator's pixel.
POSTBACK_QUERY = "?click={sub_id}&lead={lead_id}&event={event}&payout={payout}"


def demo_receiver_set(source: Source, demo: DemoSource, simulator_url: str) -> None:
    """Point ``source``'s webhook endpoint and postback at the simulator's receiver, which
    verifies the signatures with the demo secret and answers 204: live demo traffic then
    produces real, successful deliveries. Idempotent."""
    url = f"{simulator_url}{HOOKS_PREFIX}{demo.slug}"
    endpoint = WebhookEndpoint.objects.filter(source=source, url=url).first()
    if endpoint is None:
        endpoint, _ = endpoint_create(source=source, url=url,
                                      description="Demo receiver on the buyer simulator")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=DEMO_WEBHOOK_SECRET)
    Source.objects.filter(pk=source.pk).update(
        postback_url_template=f"{simulator_url}{POSTBACK_PATH}{POSTBACK_QUERY}",
        return_policy=demo.return_policy)
    endpoints_forget(source.pk)
DEMO_STAFF = ("admin", "admin")


_PING_FIELDS = ["zip", "state", "city", "gender", "marital_status", "credit_rating",
                "homeowner", "currently_insured", "current_insurer", "vehicle_year",
                "vehicle_make", "vehicle_model", "accidents"]


def _mappings(fields: list[str], **renames: str) -> list[dict]:
    return [{"target": renames.get(key, key), "source": key} for key in fields]


DEMO_BUYERS: list[dict] = [
    {"company": "Apex Auto Insurance", "quality": "1.10", "format": "json",
     "brand": "Apex Auto Insurance",
     "query": "bid_min=8&bid_max=25&latency=uniform:20,120&reject_rate=0.1",
     "caps": [{"period": "day", "metric": "leads", "limit": "500"}],
     "filters": [{"field": "vehicle_year", "operator": "gte", "value": 2000}]},
    {"company": "Bluebird Insurance Group", "format": "xml", "post_format": "json",
     "brand": "Bluebird Insurance",
     "query": "bid_min=5&bid_max=18&latency=uniform:30,150", "post_token_key": "ping_ref",
     "ping_mappings": _mappings(_PING_FIELDS, zip="Lead.ZipCode", state="Lead.State",
                                vehicle_year="Lead.Vehicle.Year",
                                vehicle_make="Lead.Vehicle.Make"),
     "caps": [{"period": "hour", "metric": "spend", "limit": "400"}]},
    {"company": "Cardinal Quotes", "format": "form", "brand": "Cardinal Quotes",
     "query": "bid_min=6&bid_max=15&latency=uniform:15,90&reject_rate=0.2"
              "&reject_reason=Duplicate+in+CRM",
     "filters": [{"field": "credit_rating", "operator": "in",
                  "value": ["excellent", "good", "fair"]}]},
    {"company": "Delta Direct", "format": "json", "mode": "direct_post", "price": "9.00",
     "query": "latency=uniform:20,80&reject_rate=0.1"},
    {"company": "Evergreen Leads", "format": "text",
     "query": "bid_min=4&bid_max=20&no_bid_rate=0.3&latency=uniform:10,200"},
    {"company": "Falcon Shared Co", "format": "json", "exclusive": False,
     "query": "bid_min=3&bid_max=7&latency=uniform:20,100"},
    {"company": "Granite Shared Partners", "format": "xml_attr", "post_format": "xml",
     "exclusive": False, "query": "bid_min=2&bid_max=6&latency=uniform:20,100"},
    {"company": "Harbor Slow Bidder", "format": "json", "secondary": True,
     "query": "bid_min=5&bid_max=12&latency=lognormal:5.3,0.6"},
]


DEMO_CONTRACT_NAME = "Auto insurance · US"
# Every demo ping-post buyer hands out a token with its bid and wants it back in the post
# (the simulator checks it: post_token_key), as real ping-post buyers do.
PING_TOKEN_KEY = "ping_token"  # noqa: S105 - a payload key, not a secret


class DemoDataError(Exception):
    """Demo data the platform would refuse; the message names every problem."""


def simulator_url_check(simulator_url: str) -> None:
    """Raise ``DemoDataError`` unless buyers at ``simulator_url`` may be called from here.

    The demo's buyers are the local simulator: the SSRF guard refuses loopback and private
    addresses unless ``HTTP_ALLOWED_NETWORKS`` admits them, and the staff API refuses a
    contract whose URL the guard refuses."""
    try:
        url_check(simulator_url)
    except BlockedUrl as error:
        raise DemoDataError(
            f"The buyer simulator at {simulator_url} is refused by the SSRF guard ({error}). "
            "The demo's buyers run on this machine: set HTTP_ALLOWED_NETWORKS=127.0.0.1/32 "
            "for this command and for the server (make run does)."
        ) from None


def endpoint_document(url: str, *, body_format: str, timeout_ms: int,
                      rules: Mapping[str, Any], mappings: list[dict]) -> dict[str, Any]:
    """One endpoint in the staff API's shape, from response rules named as the model names
    them (``response_format`` …, as in ``apps.demo.simulator.profiles``)."""
    response = {"format" if name == "response_format" else name: value
                for name, value in rules.items()}
    return {"url": url, "body_format": body_format, "timeout_ms": timeout_ms,
            "response": response, "mappings": mappings}


def demo_contract_save(document: Mapping[str, Any], contract: Contract | None) -> Contract:
    """Create (``contract`` None) or replace ``contract`` from ``document``, the staff API's
    contract shape, as ``POST``/``PUT /api/v1/contracts`` do: the API's input serializer
    validates it whole, the buyers' services write it. Raises ``DemoDataError`` naming
    every problem by its path in the document; writes nothing then."""
    serializer = ContractInputSerializer(contract, data=document)
    if not serializer.is_valid():
        problems = "; ".join(f"{path}: {message}"
                             for path, message in _error_lines(serializer.errors))
        raise DemoDataError(f"The demo contract of buyer {document.get('buyer')} "
                            f"({document.get('name')}) fails the staff API's validation: "
                            f"{problems}")
    if contract is None:
        return contract_create(**serializer.validated_data)
    return contract_update(contract, **serializer.validated_data)


def _error_lines(errors: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(errors, Mapping):
        return [line for key, value in errors.items()
                for line in _error_lines(value, f"{path}.{key}" if path else str(key))]
    if isinstance(errors, list) and all(isinstance(item, str) for item in errors):
        return [(path or "contract", str(item)) for item in errors]
    if isinstance(errors, list):
        return [line for index, item in enumerate(errors)
                for line in _error_lines(item, f"{path}.{index}")]
    return [(path or "contract", str(errors))]


def _demo_buyer(vertical: Vertical, spec: dict, simulator_url: str) -> Contract:
    buyer, _ = Buyer.objects.update_or_create(
        company=spec["company"],
        defaults={"quality_multiplier": Decimal(spec.get("quality", "1.00")),
                  "timezone": "America/New_York"})
    mode = spec.get("mode", "ping_post")
    slug = spec["company"].split()[0].lower()
    query = spec["query"]
    post_mappings: list[dict] = []  # no rows = every field under its own name
    if mode == "ping_post":
        token_key = spec.get("post_token_key", PING_TOKEN_KEY)
        query += f"&post_token_key={token_key}"
        # an extra row means the fields are spelled out too
        post_mappings = [*_mappings([f["key"] for f in AUTO_INSURANCE_FIELDS]),
                         {"target": token_key, "source": "@ping.token"}]
    post_format = spec.get("post_format", spec["format"] if spec["format"] != "xml_attr"
                           else "xml")
    endpoints = {"post": endpoint_document(
        f"{simulator_url}/{slug}/post?{query}&format={post_format}",
        body_format=REQUEST_FORMAT[post_format], timeout_ms=2000,
        rules=POST_RULES[post_format], mappings=post_mappings)}
    if mode == "ping_post":
        endpoints["ping"] = endpoint_document(
            f"{simulator_url}/{slug}/ping?{query}&format={spec['format']}",
            body_format=REQUEST_FORMAT[spec["format"]], timeout_ms=1000,
            rules=PING_RULES[spec["format"]], mappings=spec.get("ping_mappings", []))
    document = {
        "buyer": buyer.pk, "vertical": vertical.slug, "name": DEMO_CONTRACT_NAME,
        "status": ContractStatus.ACTIVE,  # demo buyers are live from the start
        "mode": mode, "fixed_price": spec.get("price"),
        "exclusive": spec.get("exclusive", True), "is_secondary": spec.get("secondary", False),
        "accepts_test_leads": True, "filters": spec.get("filters", []),
        "consent_brand": spec.get("brand", ""),  # takes part in one-to-one consent
        "caps": spec.get("caps", []), "schedule": [], "endpoints": endpoints,
    }
    existing = Contract.objects.filter(buyer=buyer, vertical=vertical,
                                       name=DEMO_CONTRACT_NAME).first()
    return demo_contract_save(document, existing)


@dataclass(frozen=True)
class DemoSummary:
    vertical: Vertical
    source_keys: list[tuple[str, str]]  # (source name, clear key)
    staff_login: tuple[str, str]
    buyers: list[str]
    simulator_url: str
    buyer_key: tuple[str, str]  # (buyer company, clear key): the returns API's demo key


@transaction.atomic
def demo_data_load(simulator_url: str = "http://127.0.0.1:8099") -> DemoSummary:
    """Create or refresh the demo rows, the buyers' contracts pointing at ``simulator_url``;
    idempotent. Raises ``DemoDataError`` (nothing written) when the simulator URL is refused
    here or a demo contract fails the staff API's validation."""
    simulator_url = simulator_url.rstrip("/")
    simulator_url_check(simulator_url)
    vertical, _ = Vertical.objects.update_or_create(
        slug="auto-insurance",
        defaults={"name": "Auto insurance", "default_floor": Decimal("1.00"),
                  "dedupe_fields": ["email", "phone"], "dedupe_window_days": 30,
                  "description": "Consumers shopping for car insurance quotes."},
    )
    for position, spec in enumerate(AUTO_INSURANCE_FIELDS):
        VerticalField.objects.update_or_create(
            vertical=vertical, key=spec["key"],
            defaults={**{k: v for k, v in spec.items() if k != "key"}, "position": position},
        )

    keys = []
    for demo in DEMO_SOURCES:
        source, _ = Source.objects.get_or_create(
            name=demo.name,
            defaults={"payout_model": demo.payout_model, "payout_value": demo.payout_value},
        )
        source.verticals.add(vertical)
        demo_receiver_set(source, demo, simulator_url)
        if not SourceApiKey.objects.filter(prefix=demo.prefix).exists():
            source_key_create(source=source, name="demo",
                              new_key=key_from_parts(SOURCE_KEY_NAMESPACE, demo.prefix,
                                                     demo.secret))
        keys.append((demo.name, demo.key))

    buyers = [_demo_buyer(vertical, spec, simulator_url).buyer for spec in DEMO_BUYERS]
    prefix, secret = DEMO_BUYER_KEY
    if not BuyerApiKey.objects.filter(prefix=prefix).exists():
        buyer_key_create(buyer=buyers[0], name="demo", new_key=key_from_parts(
            BUYER_KEY_NAMESPACE, prefix, secret))

    username, password = DEMO_STAFF
    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"is_staff": True, "is_superuser": True}
    )
    if created:
        user.set_password(password)
        user.save()
    return DemoSummary(vertical=vertical, source_keys=keys, staff_login=DEMO_STAFF,
                       buyers=[str(buyer) for buyer in buyers], simulator_url=simulator_url,
                       buyer_key=(str(buyers[0]), key_from_parts(BUYER_KEY_NAMESPACE, prefix,
                                                                 secret).key))


_FIRST = ("Jane", "John", "Maria", "David", "Aisha", "Wei", "Carlos", "Emily", "Noah", "Priya")
_LAST = ("Doe", "Smith", "Garcia", "Nguyen", "Patel", "Brown", "Khan", "Lopez", "Miller")
_CARS = (("Toyota", "Camry"), ("Honda", "Civic"), ("Ford", "F-150"), ("Tesla", "Model 3"),
         ("Chevrolet", "Malibu"), ("Subaru", "Outback"))
_ZIPS = ("10001", "30303", "60601", "75201", "94103", "33101", "98101", "02108", "85004")


def demo_lead_fields(rng: random.Random) -> dict[str, Any]:
    """A plausible auto-insurance lead for the demo (random e-mail and phone: never a
    duplicate of an earlier one)."""
    make, model = rng.choice(_CARS)
    return {
        "first_name": rng.choice(_FIRST), "last_name": rng.choice(_LAST),
        "email": f"demo.{rng.randrange(10**9)}@example.com",
        "phone": f"(212) 555-{rng.randrange(1000, 10000)}", "zip": rng.choice(_ZIPS),
        "date_of_birth": f"{rng.randrange(1950, 2004)}-0{rng.randrange(1, 10)}-"
                         f"1{rng.randrange(0, 10)}",
        "gender": rng.choice(["female", "male"]),
        "credit_rating": rng.choice(["excellent", "good", "good", "fair", "poor"]),
        "homeowner": rng.random() < 0.6, "currently_insured": rng.random() < 0.8,
        "vehicle_year": rng.randrange(2005, 2026), "vehicle_make": make,
        "vehicle_model": model,
    }


def demo_curl(base_url: str, rng: random.Random | None = None) -> str:
    """A copy-paste curl that submits a fresh demo lead with the first demo source's key
    (random e-mail and phone, so it is not a duplicate; run it twice to see the duplicate
    answer)."""
    fields = demo_lead_fields(rng or random.Random())
    body = json.dumps({"vertical": "auto-insurance", "sub_id": "demo", "fields": fields})
    return (
        f"curl -s -X POST {base_url}/api/v1/leads "
        f"-H {shlex.quote('Authorization: Bearer ' + DEMO_SOURCES[0].key)} "
        f"-H 'Content-Type: application/json' -d {shlex.quote(body)}"
    )


def demo_ping_curls(base_url: str) -> tuple[str, str]:
    """Copy-paste curls for source-side ping-post: the ping (non-PII fields only) and the
    post of its full lead (``<ping_id>`` from the ping's answer)."""
    fields = demo_lead_fields(random.Random())
    # every field the vertical requires on a ping (and no PII), read from its own schema
    pinged = {spec["key"]: fields[spec["key"]] for spec in AUTO_INSURANCE_FIELDS
              if spec.get("required_for_ping") and not spec.get("pii")
              and spec["key"] in fields}
    auth = shlex.quote("Authorization: Bearer " + DEMO_SOURCES[0].key)
    ping = json.dumps({"vertical": "auto-insurance", "fields": pinged})
    post = json.dumps({"fields": fields})
    return (f"curl -s -X POST {base_url}/api/v1/pings -H {auth} "
            f"-H 'Content-Type: application/json' -d {shlex.quote(ping)}",
            f"curl -s -X POST {base_url}/api/v1/pings/<ping_id>/post -H {auth} "
            f"-H 'Content-Type: application/json' -d {shlex.quote(post)}")
