"""Source.webhook_url / webhook_secret are gone: webhooks.0002 copied them into a
WebhookEndpoint per source (one way to say where a source's webhooks go)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('sources', '0002_source_account_manager_postback_check'),
        ('webhooks', '0002_endpoints_from_sources'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='source',
            name='webhook_secret',
        ),
        migrations.RemoveField(
            model_name='source',
            name='webhook_url',
        ),
    ]
