"""factory_boy factories for the domain; ``source_with_key`` returns a source and its key."""

from __future__ import annotations

from decimal import Decimal

import factory

from apps.buyers.models import Buyer, Contract
from apps.buyers.services import contract_rules_set
from apps.demo.simulator.profiles import PING_RULES, POST_RULES, REQUEST_FORMAT
from apps.sources.models import FieldType, Source, Vertical, VerticalField
from apps.sources.services import source_key_create

# A compact vertical schema that exercises every field type the capture API normalizes.
STANDARD_FIELDS: list[dict] = [
    {"key": "first_name", "type": FieldType.TEXT, "pii": True, "required_for_post": True},
    {"key": "last_name", "type": FieldType.TEXT, "pii": True},
    {"key": "email", "type": FieldType.EMAIL, "pii": True, "required_for_post": True},
    {"key": "phone", "type": FieldType.PHONE, "pii": True, "required_for_post": True},
    {"key": "address", "type": FieldType.TEXT, "pii": True},
    {"key": "city", "type": FieldType.TEXT},
    {"key": "state", "type": FieldType.STATE},
    {"key": "zip", "type": FieldType.ZIP, "required_for_ping": True},
    {"key": "date_of_birth", "type": FieldType.DATE, "pii": True, "min_value": "1900-01-01"},
    {"key": "vehicle_year", "type": FieldType.INTEGER, "min_value": "1981",
     "max_value": "2028"},
    {"key": "homeowner", "type": FieldType.BOOLEAN},
    {"key": "credit_rating", "type": FieldType.CHOICE,
     "choices": ["excellent", "good", "fair", "poor"]},
    {"key": "income", "type": FieldType.DECIMAL},
    {"key": "website", "type": FieldType.URL},
    {"key": "ip", "type": FieldType.IP},
]


# Example values of STANDARD_FIELDS, as a vertical's spec shows them: test pings, round trips,
# previews and drafting build their sample lead from them.
FIELD_EXAMPLES = {
    "first_name": "Jane", "last_name": "Doe", "email": "jane.doe@example.com",
    "phone": "(212) 555-0147", "address": "12 Main St", "city": "New York", "state": "NY",
    "zip": "10001", "date_of_birth": "1985-04-12", "vehicle_year": "2019",
    "homeowner": "true", "credit_rating": "good", "income": "52000.00",
    "website": "https://example.com/quote", "ip": "203.0.113.7",
}


def examples_set(vertical: Vertical) -> Vertical:
    """Give ``vertical``'s STANDARD_FIELDS their ``FIELD_EXAMPLES``."""
    for key, example in FIELD_EXAMPLES.items():
        VerticalField.objects.filter(vertical=vertical, key=key).update(example=example)
    return vertical


def valid_fields(**overrides) -> dict:
    """A lead that passes STANDARD_FIELDS; override or drop (``key=None``) any value."""
    fields = {
        "first_name": "Jane", "last_name": "Doe", "email": "Jane.Doe@Example.com",
        "phone": "(212) 555-0147", "address": "12 Main St", "zip": "10001",
        "date_of_birth": "1985-04-12", "vehicle_year": 2019, "homeowner": "yes",
        "credit_rating": "Good", "income": "$52,000.00",
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


class VerticalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vertical
        django_get_or_create = ["slug"]
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"vertical-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    default_floor = Decimal("1.00")
    dedupe_fields = ["email", "phone"]
    dedupe_window_days = 30

    @factory.post_generation
    def schema(self, create: bool, extracted: list[dict] | None, **kwargs) -> None:
        if not create:
            return
        for position, spec in enumerate(extracted if extracted is not None else STANDARD_FIELDS):
            VerticalField.objects.get_or_create(vertical=self, key=spec["key"], defaults={
                **{k: v for k, v in spec.items() if k != "key"}, "position": position})


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Source {n}")

    @factory.post_generation
    def verticals(self, create: bool, extracted, **kwargs) -> None:
        if create and extracted:
            self.verticals.set(extracted)


def source_with_key(*verticals: Vertical, **attributes) -> tuple[Source, str]:
    source = SourceFactory(verticals=list(verticals), **attributes)
    _, key = source_key_create(source=source)
    return source, key


class BuyerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Buyer

    company = factory.Sequence(lambda n: f"Buyer {n}")
    timezone = "America/New_York"


def sim_contract(
    vertical: Vertical,
    sim_url: str,
    *,
    query: str = "bid=10",
    ping_format: str = "json",
    post_format: str | None = None,
    post_query: str | None = None,
    mode: str = "ping_post",
    ping_mappings: list[dict] | None = None,
    post_mappings: list[dict] | None = None,
    timeout_ms: int = 1000,
    buyer: Buyer | None = None,
    filters: list[dict] | None = None,
    caps: list[dict] | None = None,
    **contract_fields,
) -> Contract:
    """A contract whose buyer is the simulator at ``sim_url``, behaving as ``query`` says
    (see apps.demo.simulator.config), configured exactly as staff would configure it."""
    buyer = buyer or BuyerFactory()
    contract_fields.setdefault("status", "active")  # switched live, as after onboarding
    contract = Contract.objects.create(
        buyer=buyer, vertical=vertical, name=contract_fields.pop("name", "offer"), mode=mode,
        accepts_test_leads=True, **contract_fields)
    slug = f"b{contract.pk}"
    post_format = post_format or ("xml" if ping_format == "xml_attr" else ping_format)
    endpoints = {"post": {
        "url": f"{sim_url}/{slug}/post?{post_query or query}&format={post_format}",
        "body_format": REQUEST_FORMAT[post_format], "timeout_ms": timeout_ms,
        **POST_RULES[post_format], "mappings": post_mappings or []}}
    if mode == "ping_post":
        endpoints["ping"] = {
            "url": f"{sim_url}/{slug}/ping?{query}&format={ping_format}",
            "body_format": REQUEST_FORMAT[ping_format], "timeout_ms": timeout_ms,
            **PING_RULES[ping_format], "mappings": ping_mappings or []}
    return contract_rules_set(contract, filters=filters or [], caps=caps or [],
                              endpoints=endpoints)


# --- simulator and submission helpers (integration tests) ---


def consumer_fields(n: int, **overrides) -> dict:
    """``valid_fields`` for the ``n``-th distinct consumer (its own e-mail and phone), so a
    series of leads is neither a duplicate nor a repeat purchase for any buyer."""
    return valid_fields(email=f"consumer{n}@example.com", phone=f"(212) 555-{n % 10000:04d}",
                        **overrides)


def lead_submit(api_client, key: str, fields: dict | None = None, **extra):
    """``POST /api/v1/leads`` (sync unless ``mode`` says otherwise) to auto-insurance."""
    import json

    body = {"vertical": "auto-insurance", "fields": fields or valid_fields(), **extra}
    return api_client.post("/api/v1/leads", data=json.dumps(body),
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


def sim_reset(sim_url: str) -> None:
    """Forget what the session's simulator recorded: contract ids (hence buyer paths) are
    reused from one test to the next, since every test's rows are rolled back."""
    import urllib.request

    request = urllib.request.Request(f"{sim_url}/_sim/reset", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - 127.0.0.1
        response.read()


def sim_requests(sim_url: str, path: str) -> list[dict]:
    """The requests the simulator recorded at ``path`` (oldest first), bodies as text and
    header names in lower case."""
    import json
    import urllib.parse
    import urllib.request

    url = f"{sim_url}/_sim/requests?{urllib.parse.urlencode({'path': path})}"
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - 127.0.0.1
        return json.loads(response.read())


_process_tuned: list[bool] = []


def process_warm(sim_url: str) -> None:
    """Start this test process the way a served process starts (wsgi.py, asgi.py and
    celery.py call ``process_tune``: GC frozen and tuned, ZIP index built) and load what
    its first leads would load (auction modules, the HTTP loop), so that the time-budget
    assertions of a test measure the auction, not a 250 ms full garbage collection of the
    test runner's heap or an import."""
    if not _process_tuned:
        import apps.auctions.services  # noqa: F401 - imported for its import cost
        from apps.core.process import process_tune

        process_tune()
        _process_tuned.append(True)
    from apps.core.http import OutboundRequest, http_send

    assert http_send(OutboundRequest("GET", f"{sim_url}/_sim/health")).status == 200


def assert_sent_as_attempts(sim_url: str, path: str, attempts: int) -> None:
    """The buyer at ``path`` got each attempt — and, when an attempt went out on a kept-alive
    connection the buyer had dropped, libcurl's re-sends on a fresh connection (what every
    HTTP client does for a dead kept-alive connection; libcurl gives up after 5,
    ``CONN_MAX_RETRIES``, and a buyer that closes every connection can be caught by the
    next attempt's reuse as well) — always under the lead's single Idempotency-Key, so the
    buyer can tell it is one lead. The simulator records a dropped
    request as its connection closes, which on a busy machine may come a moment after our
    side gave up: the record is waited for (up to 2 s), never assumed."""
    import time

    deadline = time.monotonic() + 2
    received = sim_requests(sim_url, path)
    while len(received) < attempts and time.monotonic() < deadline:
        time.sleep(0.05)
        received = sim_requests(sim_url, path)
    assert attempts <= len(received) <= 6 * attempts, [r["headers"].get("idempotency-key")
                                                       for r in received]
    assert len({r["headers"]["idempotency-key"] for r in received}) == 1
