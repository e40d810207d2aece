from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.admin.options import FORMFIELD_FOR_DBFIELD_DEFAULTS
from django.db import models

from apps.core.models import StaffToken
from apps.core.paginators import EstimatedCountPaginator
from apps.core.unstorable import StorableJSONFormField

# The admin's form field per model field class, copied by every ModelAdmin and inline when it
# is made: JSON text areas refuse what PostgreSQL cannot store (a NUL escape inside a value
# passes Django's own check). Set here because the admin modules are imported in
# INSTALLED_APPS order and core comes before every app that has a JSONField.
FORMFIELD_FOR_DBFIELD_DEFAULTS[models.JSONField] = {"form_class": StorableJSONFormField}


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records, not settings: nobody edits them in the admin. Built for big tables: no full
    counts, joined lookups, an estimated total on PostgreSQL."""

    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(StaffToken)
class StaffTokenAdmin(admin.ModelAdmin):
    list_display = ["__str__", "user", "created_at", "last_used_at", "revoked_at"]
    list_select_related = ["user"]
    readonly_fields = ["user", "prefix", "created_at", "last_used_at"]
    fields = ["user", "prefix", "created_at", "last_used_at", "revoked_at"]

    def has_add_permission(self, request) -> bool:
        return False  # tokens are created with `manage.py create_staff_token`, shown once


@admin.register(LogEntry)
class AuditLogAdmin(ReadOnlyAdmin):
    """Every staff change — admin edits, API writes, tool actions — with who, when, what."""

    list_display = ["action_time", "user", "content_type", "object_repr", "action_flag",
                    "what"]
    list_filter = ["action_flag", "content_type"]
    list_select_related = ["user", "content_type"]
    search_fields = ["object_repr", "change_message", "user__username"]
    date_hierarchy = "action_time"

    @admin.display(description="What")
    def what(self, entry: LogEntry) -> str:
        return entry.get_change_message()
