"""The leads the benchmark submits: one distinct consumer per number, no Django needed.

Every lead must be a new consumer (its own e-mail and phone), else the capture answers
``duplicate`` or a buyer that already bought the consumer is left out of the auction. Both
the in-process set-up and the load generator subprocess build leads from here, from
disjoint ranges of ``n``.
"""

from __future__ import annotations

from typing import Any

# The bench verticals' PII fields (``pii`` in bench.setup's schema): never in a ping.
PII_KEYS = frozenset({"first_name", "last_name", "email", "phone"})
# Numbers 0 … 7,999,999 map to distinct, valid US phone numbers (exchange 200–999).
_EXCHANGES = 800


def consumer_fields(n: int) -> dict[str, Any]:
    """The fields of consumer ``n``: valid for the bench vertical schema, unique contacts."""
    exchange = 200 + (n // 10_000) % _EXCHANGES
    return {
        "first_name": "Jane", "last_name": "Doe",
        "email": f"consumer{n}@bench.example.com",
        "phone": f"(212) {exchange}-{n % 10_000:04d}",
        "zip": "10001", "state": "NY", "vehicle_year": 2019, "homeowner": "yes",
        "credit_rating": "good",
    }


def submission(vertical: str, n: int, sub_id: str = "bench") -> dict[str, Any]:
    """The ``POST /api/v1/leads`` body for consumer ``n`` in ``vertical``; ``sub_id`` tells
    the bench's own leads apart (``bench-sync``, ``bench-async`` over HTTP)."""
    return {"vertical": vertical, "sub_id": sub_id, "fields": consumer_fields(n)}


def ping_submission(vertical: str, n: int, sub_id: str = "bench") -> dict[str, Any]:
    """The ``POST /api/v1/pings`` body for consumer ``n``: ``submission`` without its PII."""
    fields = {k: v for k, v in consumer_fields(n).items() if k not in PII_KEYS}
    return {"vertical": vertical, "sub_id": sub_id, "fields": fields}
