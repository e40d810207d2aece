"""Query-string filters of the API's lists, as strict as the OpenAPI schema that documents
them: a value the filter cannot use is a 400 naming it, never silently "no filter"."""

from __future__ import annotations

from collections.abc import Mapping

import django_filters
from django.db.models import QuerySet

from apps.core.exceptions import FieldErrors


def queryset_filtered(filterset_class: type[django_filters.FilterSet],
                      params: Mapping[str, str] | None, queryset: QuerySet) -> QuerySet:
    """``queryset`` narrowed by the filters ``params`` give. Raises ``FieldErrors`` (400)
    naming every unusable value: a bad one (``status=lost``, ``created_after=yesterday``),
    and an empty value of a filter that is not free text (``status=``, ``buyer=``), which
    django-filter would take as "no filter" while the schema's enum or format refuses it."""
    params = params or {}
    filterset = filterset_class(params, queryset=queryset)
    errors = {name: ["Give a value or leave the parameter out."]
              for name, declared in filterset.filters.items()
              if name in params and not str(params[name]).strip()
              and not isinstance(declared, django_filters.CharFilter)}
    if not errors and not filterset.is_valid():
        errors = {key: list(messages) for key, messages in filterset.errors.items()}
    if errors:
        raise FieldErrors(errors)
    return filterset.qs
