# Field mappings belong to a contract and an endpoint kind (ping/post) instead of an
# endpoint row, so both mapping tables sit on the contract's admin page. Released before any
# deployment held mapping rows, so the table is recreated.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('buyers', '0001_initial'),
    ]

    operations = [
        migrations.DeleteModel(name='FieldMapping'),
        migrations.CreateModel(
            name='FieldMapping',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('ping', 'Ping'), ('post', 'Post')], max_length=4)),
                ('target', models.CharField(help_text='e.g. "zip", "Lead.FirstName", "drivers[0].age".', max_length=255)),
                ('source', models.CharField(blank=True, help_text='Lead field key or @context; empty for a constant.', max_length=63)),
                ('constant', models.CharField(blank=True, max_length=1000, null=True)),
                ('transform', models.CharField(blank=True, max_length=32)),
                ('arg', models.CharField(blank=True, max_length=1000)),
                ('position', models.PositiveSmallIntegerField(default=0)),
                ('contract', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='mappings', to='buyers.contract')),
            ],
            options={
                'ordering': ['kind', 'position', 'id'],
                'indexes': [models.Index(fields=['contract', 'kind'], name='mapping_contract_kind')],
            },
        ),
    ]
