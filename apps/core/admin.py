from django.contrib import admin

from apps.core.models import StaffToken


@admin.register(StaffToken)
class StaffTokenAdmin(admin.ModelAdmin):
    list_display = ["__str__", "user", "created_at", "last_used_at", "revoked_at"]
    list_select_related = ["user"]
    readonly_fields = ["user", "prefix", "created_at", "last_used_at"]
    fields = ["user", "prefix", "created_at", "last_used_at", "revoked_at"]

    def has_add_permission(self, request) -> bool:
        return False  # tokens are created with `manage.py create_staff_token`, shown once
