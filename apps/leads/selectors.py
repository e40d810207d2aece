"""Reads of leads, always scoped to the asking source (object-level authorization)."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from apps.leads.models import Lead
from apps.leads.normalize import NormalizationError, normalize_value
from apps.sources.models import Source, Vertical


def lead_list_for_source(source: Source) -> QuerySet[Lead]:
    return Lead.objects.filter(source=source).select_related("vertical", "duplicate_of")


def lead_get_for_source(source: Source, lead_id: uuid.UUID) -> Lead | None:
    """The source's own lead, or None — another source's lead is indistinguishable from a
    missing one (404, never 403, so ids cannot be probed)."""
    return lead_list_for_source(source).filter(uuid=lead_id).first()


def lead_sample_fields(vertical: Vertical, *, include_pii: bool = False) -> dict:
    """A lead built from the schema's ``example`` values (normalized), for health pings,
    test pings and payload previews. Examples that do not normalize are left out."""
    sample = {}
    for spec in vertical.fields.all():
        if not spec.example or (spec.pii and not include_pii):
            continue
        try:
            sample[spec.key] = normalize_value(spec.type, spec.example, choices=spec.choices)
        except (NormalizationError, ValueError):
            continue
    return sample
