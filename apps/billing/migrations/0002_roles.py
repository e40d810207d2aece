"""The staff roles (reports.0002_roles) over billing: *Account managers* review returns
(``change``; they may also file one for a buyer, ``add``), manage buyer API keys and return
reasons; *Managers* read returns (and so the ledger), keys and reasons."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    "Account managers": [
        "view_return", "add_return", "change_return",
        *(f"{action}_buyerapikey" for action in ("add", "change", "delete", "view")),
        *(f"{action}_returnreason" for action in ("add", "change", "delete", "view")),
        "view_conversion",
    ],
    "Managers": ["view_return", "view_buyerapikey", "view_returnreason", "view_conversion"],
}


def grant(apps, schema_editor):
    config = apps.get_app_config("billing")
    config.models_module = True  # let create_permissions see the historical models
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="billing",
                                                         codename__in=codenames))


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(name__in=ROLES):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="billing"))


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0001_initial'),
        ('reports', '0002_roles'),  # it sets the groups' permissions whole: run after it
        ('auth', '0012_alter_user_first_name_max_length'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [migrations.RunPython(grant, revoke)]
