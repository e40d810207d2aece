"""A vertical's privacy settings (``VerticalPrivacy``): suppression and PII retention. No
row means the defaults, so reads fall back to an unsaved row and the first write creates
it. (The capture-time suppression check reads the one column it needs itself,
apps.leads.consumers.)"""

from __future__ import annotations

from typing import Any

from apps.leads.models import VerticalPrivacy
from apps.sources.models import Vertical


def vertical_privacy_get(vertical: Vertical) -> VerticalPrivacy:
    """The vertical's settings, or the defaults (an unsaved row) when it has none."""
    return (VerticalPrivacy.objects.filter(vertical=vertical).first()
            or VerticalPrivacy(vertical=vertical))


def vertical_privacy_set(vertical: Vertical, **changes: Any) -> VerticalPrivacy:
    """Change the vertical's settings (``suppression_enforced``, ``retention_days``: already
    validated by the caller) and return them; a key left out keeps its value."""
    privacy, _ = VerticalPrivacy.objects.get_or_create(vertical=vertical)
    for name, value in changes.items():
        setattr(privacy, name, value)
    privacy.save()
    return privacy
