"""Contract secrets (buyers.ContractSecret) join the staff roles of 0002_roles: account
managers edit them with the contract, managers may see that they exist (their values are
never shown to anyone)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    "Account managers": ["add_contractsecret", "change_contractsecret",
                         "delete_contractsecret", "view_contractsecret"],
    "Managers": ["view_contractsecret"],
}


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True  # let create_permissions see the historical models
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group = Group.objects.filter(name=name).first()
        if group is not None:
            group.permissions.add(*Permission.objects.filter(
                content_type__app_label="buyers", codename__in=codenames))


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(name__in=ROLES):
        group.permissions.remove(*Permission.objects.filter(
            content_type__app_label="buyers", codename__in=ROLES[group.name]))


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0005_contract_hour_bids_below_floor"),
        ("buyers", "0004_typed_constants_and_secrets"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
