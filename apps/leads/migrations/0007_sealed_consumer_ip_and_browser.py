"""The consumer's IP and user agent are sealed at rest like the lead's fields
(apps.core.sealing). The IP column becomes text: PostgreSQL's ``inet`` converts with
``host()`` (a plain cast would append ``/32``). Values stored before stay readable in clear
until ``manage.py rotate_keys`` seals them."""

from django.db import migrations, models

import apps.core.sealing

IP = apps.core.sealing.SealedTextField(blank=True, max_length=45, null=True,
                                       purpose="lead.consumer_ip")


def ip_to_text(apps, schema_editor):
    Lead = apps.get_model("leads", "Lead")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'ALTER TABLE {schema_editor.quote_name(Lead._meta.db_table)} ALTER COLUMN '
            '"consumer_ip" TYPE text USING host("consumer_ip")')
        return
    old = Lead._meta.get_field("consumer_ip")
    new = IP.clone()
    new.set_attributes_from_name("consumer_ip")
    new.model = Lead
    schema_editor.alter_field(Lead, old, new)


def ip_to_inet(apps, schema_editor):
    """Back to an IP column: a value still in clear is kept; a sealed one cannot be an
    address and is lost (run with the key ring at hand, a downgrade could unseal first)."""
    Lead = apps.get_model("leads", "Lead")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'ALTER TABLE {schema_editor.quote_name(Lead._meta.db_table)} ALTER COLUMN '
            '"consumer_ip" TYPE inet USING CASE WHEN "consumer_ip" LIKE \'sealed:%%\' '
            'THEN NULL ELSE "consumer_ip"::inet END')
        return
    new = Lead._meta.get_field("consumer_ip")
    old = models.GenericIPAddressField(blank=True, null=True)
    old.set_attributes_from_name("consumer_ip")
    old.model = Lead
    schema_editor.alter_field(Lead, new, old)


class Migration(migrations.Migration):

    dependencies = [
        ('leads', '0006_retention_days_help'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(ip_to_text, ip_to_inet, elidable=False)],
            state_operations=[migrations.AlterField(model_name='lead', name='consumer_ip',
                                                    field=IP)],
        ),
        migrations.AlterField(
            model_name='lead',
            name='user_agent',
            field=apps.core.sealing.SealedTextField(blank=True, max_length=1000, purpose='lead.user_agent'),
        ),
    ]
