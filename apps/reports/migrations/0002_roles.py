"""The two staff roles of SPEC §5 as Django groups:

- *Account managers* edit buyers, contracts (and their rules), sources, keys and verticals,
  and read leads, auctions and reports;
- *Managers* read everything and the reports, and change nothing.
Both read the audit log (admin changes: who, when, what).
Superusers keep every permission.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

EDIT = {
    "buyers": ["buyer", "contract", "contractfilter", "contractcap", "schedulewindow",
               "endpoint", "fieldmapping"],
    "sources": ["source", "sourceapikey", "vertical", "verticalfield"],
}
READ = {
    **EDIT,
    "buyers": [*EDIT["buyers"], "capcounter"],
    "leads": ["lead"],
    "auctions": ["auction", "ping", "post", "sale", "healthevent"],
}


def _codenames(models: dict[str, list[str]], actions: list[str]) -> list[tuple[str, str]]:
    return [(app, f"{action}_{model}") for app, names in models.items()
            for model in names for action in actions]


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True  # let create_permissions see the historical models
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    def permissions(pairs):
        found = []
        for app, codename in pairs:
            found.append(Permission.objects.get(content_type__app_label=app, codename=codename))
        return found

    reports = [("reports", "view_reports"), ("admin", "view_logentry")]
    roles = {
        "Account managers": _codenames(EDIT, ["add", "change", "delete", "view"])
        + _codenames(READ, ["view"]) + reports,
        "Managers": _codenames(READ, ["view"]) + reports,
    }
    for name, pairs in roles.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(permissions(set(pairs)))


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(
        name__in=["Account managers", "Managers"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_initial"),
        ("buyers", "0002_mappings_per_contract_kind"),
        ("sources", "0001_initial"),
        ("leads", "0001_initial"),
        ("auctions", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
