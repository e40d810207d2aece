"""The default rules, and the staff roles over routing rules.

- "Slow or failing answers (circuit breaker)": the built-in breaker shown as a rule. It is
  evaluated inside the auction by ``apps.auctions.health`` on each contract's own health
  settings (default 10 consecutive answers over 200 ms, or 10 consecutive failures → auto-
  pause; a health ping resumes it); the row documents it and cannot be edited.
- "Post rejects": a contract whose answered posts were more than 90 % rejects over the last
  hour, with at least 20 of them, is auto-paused; undone once the hour no longer holds
  such a run (a paused contract gets no posts, so its window empties: a one-hour cool-down).
- Roles (reports.0002_roles): *Account managers* edit rules and read firings; *Managers*
  read both.
"""

from decimal import Decimal

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    "Account managers": [*(f"{a}_routingrule" for a in ("add", "change", "delete", "view")),
                         "view_rulefiring"],
    "Managers": ["view_routingrule", "view_rulefiring"],
}
DEFAULTS = [
    {"name": "Slow or failing answers (circuit breaker)", "evaluator": "breaker",
     "metric": "latency", "comparator": "gt", "threshold": Decimal(200), "window_minutes": 1,
     "min_samples": 10, "action": "pause", "auto_undo": True},
    {"name": "Post rejects", "evaluator": "periodic", "metric": "post_reject_rate",
     "comparator": "gt", "threshold": Decimal("0.9"), "window_minutes": 60,
     "min_samples": 20, "action": "pause", "auto_undo": True},
]


def forwards(apps, schema_editor):
    RoutingRule = apps.get_model("routing", "RoutingRule")
    for rule in DEFAULTS:
        RoutingRule.objects.get_or_create(name=rule["name"], defaults=rule)
    config = apps.get_app_config("routing")
    config.models_module = True  # let create_permissions see the historical models
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="routing",
                                                         codename__in=codenames))


def backwards(apps, schema_editor):
    apps.get_model("routing", "RoutingRule").objects.filter(
        name__in=[rule["name"] for rule in DEFAULTS]).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("routing", "0001_initial"),
        ("reports", "0002_roles"),  # it sets the groups' permissions whole: run after it
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
