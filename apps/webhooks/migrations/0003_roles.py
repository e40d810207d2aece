"""The staff roles (reports.0002_roles) over webhooks: *Account managers* manage endpoints and
redeliver deliveries (``change``), and read the attempts; *Managers* read all three."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    "Account managers": [
        *(f"{action}_webhookendpoint" for action in ("add", "change", "delete", "view")),
        "view_webhookdelivery", "change_webhookdelivery", "view_webhookattempt",
    ],
    "Managers": ["view_webhookendpoint", "view_webhookdelivery", "view_webhookattempt"],
}


def grant(apps, schema_editor):
    config = apps.get_app_config("webhooks")
    config.models_module = True  # let create_permissions see the historical models
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="webhooks",
                                                         codename__in=codenames))


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(name__in=ROLES):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="webhooks"))


class Migration(migrations.Migration):

    dependencies = [
        ('webhooks', '0002_endpoints_from_sources'),
        ('reports', '0002_roles'),  # it sets the groups' permissions whole: run after it
        ('auth', '0012_alter_user_first_name_max_length'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [migrations.RunPython(grant, revoke)]
