"""Reads of routing rules and their firings (admin panel, dashboards, staff API)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from django.db.models import QuerySet

from apps.core.exceptions import FieldErrors
from apps.routing.models import RoutingRule, RuleFiring


def rule_list() -> QuerySet[RoutingRule]:
    return RoutingRule.objects.select_related("contract__buyer", "source").order_by("name")


def rule_get(rule_id: int) -> RoutingRule | None:
    return rule_list().filter(pk=rule_id).first()


def firing_list(*, filters: Mapping[str, str] | None = None) -> QuerySet[RuleFiring]:
    """Firings, newest first, filtered by ``rule``, ``contract``, ``source`` (ids) and
    ``open`` ("true"/"false"); a filter that is not a whole number or a boolean is a 400
    naming it."""
    rows = RuleFiring.objects.select_related("rule").order_by("-fired_at", "-pk")
    for name in ("rule", "contract", "source"):
        value = (filters or {}).get(name)
        if value is None:
            continue
        if not value.isdecimal():
            raise FieldErrors({name: ["Enter a whole number (an id)."]})
        rows = rows.filter(**{f"{name}_id": int(value)})
    state = (filters or {}).get("open")
    if state is not None:
        if state not in ("true", "false"):
            raise FieldErrors({"open": ['Enter "true" or "false".']})
        rows = rows.filter(closed_at__isnull=state == "true")
    return rows


def firings_between(start: datetime, end: datetime, *, buyer_ids: tuple[int, ...] = (),
                    limit: int = 50) -> list[RuleFiring]:
    """Firings of [start, end), newest first (on those buyers' contracts when
    ``buyer_ids``), with their rule and target named."""
    rows = RuleFiring.objects.filter(fired_at__gte=start, fired_at__lt=end)
    if buyer_ids:
        rows = rows.filter(contract__buyer_id__in=buyer_ids)
    return list(rows.select_related("rule", "contract__buyer", "source")
                .order_by("-fired_at", "-pk")[:limit])


def contract_firings(contract_id: int, *, limit: int = 20) -> list[RuleFiring]:
    """The contract's newest firings."""
    return list(RuleFiring.objects.filter(contract_id=contract_id).select_related("rule")
                .order_by("-fired_at", "-pk")[:limit])
