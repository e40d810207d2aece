"""Reads of buyers and contracts for staff (the buyer-management API)."""

from __future__ import annotations

from collections.abc import Mapping

import django_filters
from django import forms
from django.db.models import Prefetch, QuerySet

from apps.buyers.drafting import FieldSpec
from apps.buyers.models import Buyer, BuyerStatus, Contract, ContractStatus, FieldMapping
from apps.core.filtering import queryset_filtered
from apps.sources.models import Vertical


class BuyerListFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=BuyerStatus.choices)
    company = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Buyer
        fields = ["status", "company"]


class _IdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField  # an id is a whole number, not any decimal


class ContractListFilter(django_filters.FilterSet):
    buyer = _IdFilter(field_name="buyer_id")
    vertical = django_filters.CharFilter(field_name="vertical__slug")
    status = django_filters.ChoiceFilter(choices=ContractStatus.choices)

    class Meta:
        model = Contract
        fields = ["buyer", "vertical", "status"]


def buyer_list(*, filters: Mapping[str, str] | None = None) -> QuerySet[Buyer]:
    """Buyers by company, narrowed by ``status`` and ``company`` (contains); raises
    ``FieldErrors`` for an unusable filter value."""
    return queryset_filtered(BuyerListFilter, filters, Buyer.objects.order_by("company", "pk"))


def buyer_get(buyer_id: int) -> Buyer | None:
    return Buyer.objects.filter(pk=buyer_id).first()


def _contracts() -> QuerySet[Contract]:
    """Contracts with everything their API representation reads, in a fixed number of
    queries whatever the number of contracts."""
    return Contract.objects.select_related("buyer", "vertical").prefetch_related(
        "filters", "caps", "schedule", "endpoints", "allowed_sources", "blocked_sources",
        "secrets",
        Prefetch("mappings", queryset=FieldMapping.objects.order_by("kind", "position", "id")),
    )


def contract_list(*, filters: Mapping[str, str] | None = None) -> QuerySet[Contract]:
    """Contracts (with their rules), narrowed by ``buyer`` (id), ``vertical`` (slug) and
    ``status``; raises ``FieldErrors`` for an unusable filter value."""
    return queryset_filtered(ContractListFilter, filters,
                             _contracts().order_by("buyer__company", "name", "pk"))


def contract_get(contract_id: int) -> Contract | None:
    """One contract with its rules, or None."""
    return _contracts().filter(pk=contract_id).first()


def vertical_field_specs(vertical: Vertical) -> list[FieldSpec]:
    """The vertical's fields as drafting matches sample keys to them, each with its example
    value as the sample lead's (compared in any spelling: digits of a phone, a date in any
    layout)."""
    return [FieldSpec(spec.key, spec.type, spec.pii, spec.example or None,
                      tuple(str(choice) for choice in spec.choices or ()))
            for spec in vertical.fields.all()]
