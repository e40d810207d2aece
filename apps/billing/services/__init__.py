"""Billing services: buyer keys, returns (file, decide) and conversions."""

from apps.billing.services.conversions import conversion_record
from apps.billing.services.keys import buyer_key_create, buyer_key_revoke
from apps.billing.services.returns import Decided, return_submit, returns_decide

__all__ = [
    "Decided",
    "buyer_key_create",
    "buyer_key_revoke",
    "conversion_record",
    "return_submit",
    "returns_decide",
]
