"""Suppression rules leave the alerts app: the model moves (its table stays), and which alert a rule dismissed is
this app's own table, filled from alerts_alert.suppressed_by (dropped by alerts 0012)."""

import django.db.models.deletion
import portal.fields
from django.conf import settings
from django.db import migrations, models


APP = "suppression"
MODELS = ["suppressionrule"]


def _move(apps, models, src, dst):
    ContentType = apps.get_model("contenttypes", "ContentType")
    AuditRecord = apps.get_model("audit", "AuditRecord")
    for model in models:
        ContentType.objects.filter(app_label=src, model=model).update(app_label=dst)
        AuditRecord.objects.filter(object_type=f"{src}.{model}").update(object_type=f"{dst}.{model}")


def move_content_types(apps, schema_editor):
    """The models' content types move with them (their permissions, users' and groups' grants and the admin's
    history keep pointing at them); audit records name them by their new label."""
    _move(apps, MODELS, "alerts", APP)


def move_content_types_back(apps, schema_editor):
    _move(apps, MODELS, APP, "alerts")


def copy_links(apps, schema_editor):
    # When the rule dismissed the alert is its "suppressed" activity event; an alert without one (none is known)
    # falls back to its last change.
    schema_editor.execute(
        "INSERT INTO suppression_suppressedalert (alert_id, rule_id, suppressed_at) "
        "SELECT a.id, a.suppressed_by_id, COALESCE((SELECT MAX(e.created_at) FROM alerts_alertevent e "
        "WHERE e.alert_id = a.id AND e.kind = 'suppressed'), a.updated_at) "
        "FROM alerts_alert a WHERE a.suppressed_by_id IS NOT NULL"
    )


def drop_links(apps, schema_editor):
    schema_editor.execute(
        "UPDATE alerts_alert SET suppressed_by_id = (SELECT s.rule_id FROM suppression_suppressedalert s "
        "WHERE s.alert_id = alerts_alert.id)"
    )


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('alerts', '0011_alert_arm_id_unique_without_like_index'),
        ('audit', '0002_initial'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('inventory', '0003_sync_stages_visible_through'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The rules' table stays alerts_suppressionrule: the model moves here in the state only.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='SuppressionRule',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=50)),
                        ('alert_type', models.CharField(max_length=200)),
                        ('reason', models.CharField(max_length=100)),
                        ('state', models.CharField(choices=[('Enabled', 'Enabled'), ('Disabled', 'Disabled'), ('Expired', 'Expired')], default='Enabled', max_length=20)),
                        ('comment', models.TextField(blank=True)),
                        ('expiration_date', models.DateTimeField(blank=True, null=True)),
                        ('conditions', portal.fields.FastJSONField(blank=True, default=list)),
                        ('last_modified_utc', models.DateTimeField(blank=True, null=True)),
                        ('in_azure', models.BooleanField(default=False, verbose_name='In Azure')),
                        ('local_only', models.BooleanField(default=False, help_text='Applied by this portal, not created in Azure.', verbose_name='Local only')),
                        ('synced_at', models.DateTimeField(blank=True, null=True, verbose_name='Last in step with Azure')),
                        ('local_modified_at', models.DateTimeField(blank=True, null=True)),
                        ('push_state', models.CharField(blank=True, max_length=20)),
                        ('push_error', models.TextField(blank=True)),
                        ('content_hash', models.CharField(blank=True, max_length=32)),
                        ('suppressed_count', models.PositiveIntegerField(default=0, verbose_name='Alerts suppressed')),
                        ('last_match_at', models.DateTimeField(blank=True, null=True, verbose_name='Last match')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('subscription', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='suppression_rules', to='inventory.subscription')),
                        ('updated_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'alerts_suppressionrule',
                        'ordering': ['name'],
                    },
                ),
                migrations.AddConstraint(
                    model_name='suppressionrule',
                    constraint=models.UniqueConstraint(fields=('subscription', 'name'), name='suppressionrule_unique_name'),
                ),
            ],
            database_operations=[],
        ),
        migrations.CreateModel(
            name='SuppressedAlert',
            fields=[
                ('alert', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='suppression', serialize=False, to='alerts.alert')),
                ('suppressed_at', models.DateTimeField()),
                ('rule', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='suppressed_alerts', to='suppression.suppressionrule')),
            ],
        ),
        migrations.AddIndex(
            model_name='suppressedalert',
            index=models.Index(fields=['rule', '-suppressed_at'], name='suppressed_rule_idx'),
        ),
        migrations.RunPython(copy_links, drop_links),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
