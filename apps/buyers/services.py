"""Writes for buyers and contracts: a contract and all its rule rows change together."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction

from apps.buyers.models import (
    Contract,
    ContractCap,
    ContractFilter,
    Endpoint,
    FieldMapping,
    ScheduleWindow,
)


@transaction.atomic
def contract_rules_set(
    contract: Contract,
    *,
    filters: Sequence[Mapping[str, Any]] | None = None,
    caps: Sequence[Mapping[str, Any]] | None = None,
    schedule: Sequence[Mapping[str, Any]] | None = None,
    endpoints: Mapping[str, Mapping[str, Any]] | None = None,
) -> Contract:
    """Replace the given rule sets of ``contract`` (``None`` leaves a set as it is).

    ``endpoints`` maps ``"ping"``/``"post"`` to the endpoint's fields plus ``"mappings"``: a
    list of mapping rows. The contract row is saved too, so its ``updated_at`` moves and
    every process rebuilds its cached set-up (apps.auctions.setups).
    """
    if filters is not None:
        contract.filters.all().delete()
        ContractFilter.objects.bulk_create(
            [ContractFilter(contract=contract, **row) for row in filters])
    if caps is not None:
        contract.caps.all().delete()
        ContractCap.objects.bulk_create([ContractCap(contract=contract, **row) for row in caps])
    if schedule is not None:
        contract.schedule.all().delete()
        ScheduleWindow.objects.bulk_create(
            [ScheduleWindow(contract=contract, **row) for row in schedule])
    if endpoints is not None:
        contract.endpoints.exclude(kind__in=list(endpoints)).delete()
        contract.mappings.exclude(kind__in=list(endpoints)).delete()
        for kind, spec in endpoints.items():
            fields = {k: v for k, v in spec.items() if k != "mappings"}
            Endpoint.objects.update_or_create(contract=contract, kind=kind, defaults=fields)
            contract.mappings.filter(kind=kind).delete()
            FieldMapping.objects.bulk_create([
                FieldMapping(contract=contract, kind=kind, position=position, **row)
                for position, row in enumerate(spec.get("mappings", ()))])
    contract.save()
    return contract
