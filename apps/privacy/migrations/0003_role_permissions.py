"""Privacy joins the staff roles of reports/0002_roles: account managers request erasures
(and read them), keep the suppression list (add an opt-out, remove a mistaken one) and set a
vertical's privacy (suppression, retention); managers read all three. Erasure requests are a
record: nobody changes or deletes one. Seeing a consumer's PII (``leads.view_pii``) stays
with no role."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    "Account managers": {
        "privacy": ["add_erasurerequest", "view_erasurerequest"],
        "leads": ["add_suppressedconsumer", "delete_suppressedconsumer",
                  "view_suppressedconsumer", "change_verticalprivacy", "view_verticalprivacy"],
    },
    "Managers": {
        "privacy": ["view_erasurerequest"],
        "leads": ["view_suppressedconsumer", "view_verticalprivacy"],
    },
}


def _permissions(apps, grants):
    Permission = apps.get_model("auth", "Permission")
    found = []
    for app_label, codenames in grants.items():
        found += Permission.objects.filter(content_type__app_label=app_label,
                                           codename__in=codenames)
    return found


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True  # let create_permissions see the historical models
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    for name, grants in ROLES.items():
        group = apps.get_model("auth", "Group").objects.filter(name=name).first()
        if group is not None:
            group.permissions.add(*_permissions(apps, grants))


def revoke(apps, schema_editor):
    for group in apps.get_model("auth", "Group").objects.filter(name__in=ROLES):
        group.permissions.remove(*_permissions(apps, ROLES[group.name]))


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0002_retention_mark"),
        ("leads", "0003_consumer_privacy"),
        ("reports", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
