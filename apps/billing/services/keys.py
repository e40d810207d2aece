"""Writes for buyer API keys: issued with the clear key shown once, revoked at once."""

from __future__ import annotations

from django.utils import timezone

from apps.billing.models import BuyerApiKey
from apps.billing.selectors import BUYER_KEY_NAMESPACE
from apps.buyers.models import Buyer
from apps.core.keys import NewKey, key_generate


def buyer_key_create(*, buyer: Buyer, name: str = "default", new_key: NewKey | None = None
                     ) -> tuple[BuyerApiKey, str]:
    """Issue an API key (``lxb_<prefix>_<secret>``) for ``buyer``; returns the row and the
    clear key, which is stored only as a digest: show it this once. ``new_key``: a chosen
    key (the demo's documented one)."""
    new_key = new_key or key_generate(BUYER_KEY_NAMESPACE)
    row = BuyerApiKey.objects.create(buyer=buyer, name=name, prefix=new_key.prefix,
                                     digest=new_key.digest)
    return row, new_key.key


def buyer_key_revoke(*, api_key: BuyerApiKey) -> None:
    """Revoke a key at once; requests with it get 401 from now on. Idempotent."""
    BuyerApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now())
    api_key.refresh_from_db(fields=["revoked_at"])
