"""Reports have no tables of their own (they read leads, auctions and sales); this model only
carries the permission that opens the dashboards and the reports API."""

from django.db import models


class ReportsAccess(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_reports", "Can read the KPI reports and dashboards")]

    def __str__(self) -> str:
        return "reports access"
