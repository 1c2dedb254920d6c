"""The sync's records leave the inventory for the sync app: SyncRun and SyncLease move in the state only (their
tables keep their names, inventory_syncrun and inventory_synclease), and their content types move with them, so that
permissions, users' and groups' grants and the admin's history keep pointing at them."""

import django.db.models.deletion
from django.db import migrations, models

MODELS = ["syncrun", "synclease"]


def _move(apps, src, dst):
    ContentType = apps.get_model("contenttypes", "ContentType")
    AuditRecord = apps.get_model("audit", "AuditRecord")
    for model in MODELS:
        ContentType.objects.filter(app_label=dst, model=model).delete()  # a stale row from an earlier try
        ContentType.objects.filter(app_label=src, model=model).update(app_label=dst)
        AuditRecord.objects.filter(object_type=f"{src}.{model}").update(object_type=f"{dst}.{model}")


def move_content_types(apps, schema_editor):
    _move(apps, "inventory", "sync")


def move_content_types_back(apps, schema_editor):
    _move(apps, "sync", "inventory")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("inventory", "0004_sync_records_moved"),
        ("audit", "0002_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='SyncLease',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('holder', models.CharField(blank=True, max_length=200)),
                        ('expires_at', models.DateTimeField(blank=True, null=True)),
                        ('subscription', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='lease', to='inventory.subscription')),
                    ],
                    options={
                        'db_table': 'inventory_synclease',
                    },
                ),
                migrations.CreateModel(
                    name='SyncRun',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('status', models.CharField(choices=[('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed')], default='running', max_length=20)),
                        ('trigger', models.CharField(default='schedule', max_length=30)),
                        ('started_at', models.DateTimeField()),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('pages', models.PositiveIntegerField(default=0)),
                        ('arm_calls', models.PositiveIntegerField(default=0)),
                        ('alerts_new', models.PositiveIntegerField(default=0)),
                        ('alerts_changed', models.PositiveIntegerField(default=0)),
                        ('alerts_unchanged', models.PositiveIntegerField(default=0)),
                        ('alerts_malformed', models.PositiveIntegerField(default=0)),
                        ('alerts_gone', models.PositiveIntegerField(default=0)),
                        ('vaults', models.PositiveIntegerField(default=0)),
                        ('fetch_seconds', models.FloatField(default=0)),
                        ('store_seconds', models.FloatField(default=0)),
                        ('stages', models.JSONField(blank=True, default=dict)),
                        ('errors', models.JSONField(blank=True, default=list)),
                        ('resume_token', models.TextField(blank=True)),
                        ('worker', models.CharField(blank=True, max_length=200)),
                        ('subscription', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='sync_runs', to='inventory.subscription')),
                    ],
                    options={
                        'db_table': 'inventory_syncrun',
                        'ordering': ['-started_at'],
                        'indexes': [models.Index(fields=['subscription', '-started_at'], name='inventory_s_subscri_eb901d_idx')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
