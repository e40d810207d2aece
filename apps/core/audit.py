"""Who changed what, when: staff changes made outside the admin (API, tools) are written to
Django's admin log too, so one history page shows them all."""

from __future__ import annotations

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model

ACTIONS = {"add": ADDITION, "change": CHANGE, "delete": DELETION}


def audit_record(user, obj: Model, message: str, *, action: str = "change") -> None:
    """Record ``message`` about ``obj`` by ``user`` (a staff user; ignored when None)."""
    if user is None or not getattr(user, "pk", None):
        return
    LogEntry.objects.create(
        user_id=user.pk, content_type=ContentType.objects.get_for_model(obj, False),
        object_id=str(obj.pk), object_repr=str(obj)[:200], action_flag=ACTIONS[action],
        change_message=message)
