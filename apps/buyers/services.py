"""Writes for buyers and contracts: a contract and all its rule rows change together."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError

from apps.buyers.models import (
    Buyer,
    CapMetric,
    Contract,
    ContractCap,
    ContractFilter,
    ContractSecret,
    Endpoint,
    FieldMapping,
    ScheduleWindow,
)
from apps.core.exceptions import ApplicationError
from apps.sources.models import Source, Vertical


@transaction.atomic
def contract_rules_set(
    contract: Contract,
    *,
    filters: Sequence[Mapping[str, Any]] | None = None,
    caps: Sequence[Mapping[str, Any]] | None = None,
    schedule: Sequence[Mapping[str, Any]] | None = None,
    endpoints: Mapping[str, Mapping[str, Any]] | None = None,
    secrets: Mapping[str, str | None] | None = None,
) -> Contract:
    """Replace the given rule sets of ``contract`` (``None`` leaves a set as it is).

    ``endpoints`` maps ``"ping"``/``"post"`` to the endpoint's fields plus ``"mappings"``: a
    list of mapping rows. Caps are matched by (period, metric): a cap that stays keeps its
    row, hence its usage counters, so re-sending a contract never resets what it bought.
    ``secrets`` changes only the names it gives: a value sets that secret, None deletes it;
    the others are kept (they are never shown, so a client cannot send them back).
    The contract row is saved too, so its ``updated_at`` moves and every process rebuilds
    its cached set-up (apps.auctions.setups).
    """
    if filters is not None:
        contract.filters.all().delete()
        ContractFilter.objects.bulk_create(
            [ContractFilter(contract=contract, **row) for row in filters])
    if caps is not None:
        _caps_set(contract, caps)
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
    for name, value in (secrets or {}).items():
        if value is None:
            contract.secrets.filter(name=name).delete()
        else:
            ContractSecret.objects.update_or_create(contract=contract, name=name,
                                                    defaults={"value": value})
    contract.save()
    return contract


def _caps_set(contract: Contract, caps: Sequence[Mapping[str, Any]]) -> None:
    wanted = {(row["period"], row.get("metric", CapMetric.LEADS)): row for row in caps}
    kept = {(cap.period, cap.metric): cap for cap in contract.caps.all()}
    contract.caps.filter(pk__in=[cap.pk for key, cap in kept.items()
                                 if key not in wanted]).delete()
    for key, row in wanted.items():
        cap = kept.get(key)
        if cap is None:
            ContractCap.objects.create(contract=contract, **row)
        elif cap.limit != row["limit"]:
            cap.limit = row["limit"]
            cap.save(update_fields=["limit"])


def buyer_create(**attributes: Any) -> Buyer:
    """Create a buyer from validated attributes."""
    return Buyer.objects.create(**attributes)


def buyer_update(buyer: Buyer, **attributes: Any) -> Buyer:
    """Change the given attributes of ``buyer``; its ``updated_at`` moves, so every process
    rebuilds the cached set-ups of its contracts (quality multiplier, time zone …)."""
    for name, value in attributes.items():
        setattr(buyer, name, value)
    buyer.save()
    return buyer


def buyer_delete(buyer: Buyer) -> None:
    """Delete a buyer and its contracts. Raises ``ApplicationError`` (409) when it has sales:
    the sales record stays, so pause the buyer instead."""
    _delete_unless_sold(buyer, "This buyer has bought leads")


def _delete_unless_sold(record: Buyer | Contract, what: str) -> None:
    try:
        record.delete()
    except ProtectedError:
        raise ApplicationError(f"{what}; its sales must stay on record. Pause it instead.",
                               status_code=409, code="protected") from None


@transaction.atomic
def contract_create(
    *,
    buyer: Buyer,
    vertical: Vertical,
    allowed_sources: Sequence[Source] = (),
    blocked_sources: Sequence[Source] = (),
    filters: Sequence[Mapping[str, Any]] = (),
    caps: Sequence[Mapping[str, Any]] = (),
    schedule: Sequence[Mapping[str, Any]] = (),
    endpoints: Mapping[str, Mapping[str, Any]],
    secrets: Mapping[str, str | None] | None = None,
    **attributes: Any,
) -> Contract:
    """Create a contract with all its rules in one transaction (see ``contract_rules_set``).
    The caller has validated the whole (``apps.buyers.validation.contract_draft_errors``)."""
    contract = Contract.objects.create(buyer=buyer, vertical=vertical, **attributes)
    contract.allowed_sources.set(allowed_sources)
    contract.blocked_sources.set(blocked_sources)
    return contract_rules_set(contract, filters=filters, caps=caps, schedule=schedule,
                              endpoints=endpoints, secrets=secrets)


@transaction.atomic
def contract_update(
    contract: Contract,
    *,
    allowed_sources: Sequence[Source] | None = None,
    blocked_sources: Sequence[Source] | None = None,
    filters: Sequence[Mapping[str, Any]] | None = None,
    caps: Sequence[Mapping[str, Any]] | None = None,
    schedule: Sequence[Mapping[str, Any]] | None = None,
    endpoints: Mapping[str, Mapping[str, Any]] | None = None,
    secrets: Mapping[str, str | None] | None = None,
    **attributes: Any,
) -> Contract:
    """Change the given attributes and replace the given rule sets (``None`` leaves one as
    it is), in one transaction. The row is locked and re-read first, so the circuit
    breaker's fields (``auto_paused_at`` …), written concurrently by other processes, are
    never overwritten with stale values. Returns the saved contract."""
    locked = Contract.objects.select_for_update().get(pk=contract.pk)
    for name, value in attributes.items():
        setattr(locked, name, value)
    if allowed_sources is not None:
        locked.allowed_sources.set(allowed_sources)
    if blocked_sources is not None:
        locked.blocked_sources.set(blocked_sources)
    return contract_rules_set(locked, filters=filters, caps=caps, schedule=schedule,
                              endpoints=endpoints, secrets=secrets)


def contract_delete(contract: Contract) -> None:
    """Delete a contract and its rules. Raises ``ApplicationError`` (409) when it has sales:
    pause it instead."""
    _delete_unless_sold(contract, "This contract has sold leads")
