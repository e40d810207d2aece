"""Request bodies for the buyer-management API tests, shaped as staff would send them."""

from __future__ import annotations

import uuid

from apps.demo.simulator.profiles import PING_RULES, POST_RULES
from tests.factories import STANDARD_FIELDS

RESPONSE_KEYS = {"response_format": "format"}


def response_rules(rules: dict) -> dict:
    """Simulator response rules (model names) as the API's ``response`` object."""
    return {RESPONSE_KEYS.get(key, key): value for key, value in rules.items()}


def vertical_payload(slug: str = "auto-insurance", **overrides) -> dict:
    return {"slug": slug, "name": slug.replace("-", " ").title(), "default_floor": "1.00",
            "dedupe_fields": ["email", "phone"],
            "fields": [{**spec, "type": str(spec["type"])} for spec in STANDARD_FIELDS],
            **overrides}


def sim_path() -> str:
    """A simulator path no other test uses (the simulator lives for the whole session)."""
    return f"/api-{uuid.uuid4().hex[:10]}"


def contract_payload(buyer_id: int, sim_url: str, *, path: str | None = None,
                     query: str = "bid=10", vertical: str = "auto-insurance",
                     **overrides) -> dict:
    """A valid JSON ping-post contract whose buyer is the simulator."""
    path = path or sim_path()
    return {
        "buyer": buyer_id, "vertical": vertical, "name": "offer", "mode": "ping_post",
        "filters": [{"field": "state", "operator": "in", "value": ["NY", "NJ"]}],
        "caps": [{"period": "day", "metric": "leads", "limit": "100"}],
        "schedule": [{"weekday": 0, "opens_at": "08:00", "closes_at": "20:00"}],
        "endpoints": {
            "ping": {"url": f"{sim_url}{path}/ping?{query}&format=json",
                     "response": response_rules(PING_RULES["json"]),
                     "mappings": [{"target": "zip", "source": "zip"}]},
            "post": {"url": f"{sim_url}{path}/post?{query}&format=json",
                     "response": response_rules(POST_RULES["json"]),
                     "mappings": [{"target": "ping_id", "source": "@ping.token"},
                                  {"target": "email", "source": "email"}]},
        },
        **overrides,
    }
