"""Celery tasks of the buyers app: thin wrappers around one service each."""

from __future__ import annotations

from celery import shared_task


@shared_task
def oauth_tokens_refresh() -> int:
    """Renew buyers' OAuth2 tokens before they expire (Celery beat, every minute)."""
    from apps.buyers.oauth import oauth_tokens_refresh as refresh

    return refresh()
