"""Who may use the buyer-management API (the mechanism: apps.core.staff_api)."""

from __future__ import annotations

from apps.core.staff_api import StaffModelPermissions

_CHANGE = "%(app_label)s.change_%(model_name)s"


class ContractActionPermissions(StaffModelPermissions):
    """The staff tools of one contract (``permission_model = Contract``): sending a test ping,
    pausing and resuming act on a live integration, so POST needs ``buyers.change_contract``;
    reading the payload preview or the health needs ``buyers.view_contract``."""

    perms_map = {**StaffModelPermissions.perms_map, "POST": [_CHANGE]}


__all__ = ["ContractActionPermissions", "StaffModelPermissions"]
