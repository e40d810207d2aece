"""``{% rule_firings contract %}``: the contract's routing-rule firings as a panel. A tag,
because the contract page belongs to apps.auctions, which cannot import this app; the
project's template loads it."""

from __future__ import annotations

from django import template

from apps.routing.selectors import contract_firings

register = template.Library()


@register.inclusion_tag("routing/firings_panel.html")
def rule_firings(contract) -> dict:
    return {"firings": contract_firings(contract.pk)}
