"""Security contacts, preferences and the notification log leave the alerts app (their tables stay)."""

import django.db.models.deletion
import portal.fields
from django.conf import settings
from django.db import migrations, models


APP = "notifications"
MODELS = ["securitycontact", "notificationpreference", "notificationbatch", "notification"]


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
        # The tables keep their names (alerts_*): the models move here in the state only.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='NotificationBatch',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('alert_ids', models.JSONField()),
                        ('created_at', models.DateTimeField()),
                        ('subscription', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='inventory.subscription')),
                    ],
                    options={
                        'db_table': 'alerts_notificationbatch',
                    },
                ),
                migrations.CreateModel(
                    name='NotificationPreference',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('mode', models.CharField(choices=[('immediate', 'At once (at most one mail per window, the rest in a digest)'), ('hourly', 'Hourly digest'), ('daily', 'Daily digest'), ('off', 'Off')], default='immediate', max_length=20)),
                        ('minimal_severity', models.CharField(choices=[('High', 'High'), ('Medium', 'Medium'), ('Low', 'Low')], default='Low', help_text="Your own minimum, on top of the subscription's.", max_length=20)),
                        ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='notification_preference', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'alerts_notificationpreference',
                    },
                ),
                migrations.CreateModel(
                    name='SecurityContact',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('emails', models.TextField(blank=True)),
                        ('phone', models.CharField(blank=True, max_length=50)),
                        ('alert_notifications', models.BooleanField(default=True)),
                        ('minimal_severity', models.CharField(default='High', max_length=20)),
                        ('notify_by_role', models.BooleanField(default=True)),
                        ('portal_notifications', models.BooleanField(default=True)),
                        ('pending_push', models.BooleanField(default=False)),
                        ('push_error', models.TextField(blank=True)),
                        ('roles', portal.fields.FastJSONField(blank=True, default=list)),
                        ('in_azure', models.BooleanField(default=False)),
                        ('content_hash', models.CharField(blank=True, max_length=32)),
                        ('synced_at', models.DateTimeField(blank=True, null=True)),
                        ('subscription', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='security_contact', to='inventory.subscription')),
                    ],
                    options={
                        'db_table': 'alerts_securitycontact',
                    },
                ),
                migrations.CreateModel(
                    name='Notification',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('recipient', models.CharField(max_length=254)),
                        ('kind', models.CharField(max_length=10)),
                        ('severity', models.CharField(max_length=20)),
                        ('state', models.CharField(choices=[('queued', 'Waiting for its window'), ('sending', 'Sending'), ('sent', 'Sent'), ('failed', 'Failed')], default='queued', max_length=20)),
                        ('attempts', models.PositiveSmallIntegerField(default=0)),
                        ('message_id', models.CharField(blank=True, max_length=300)),
                        ('digest_key', models.CharField(blank=True, max_length=200)),
                        ('error', models.TextField(blank=True)),
                        ('subject', models.CharField(blank=True, max_length=500)),
                        ('body_text', models.TextField(blank=True)),
                        ('created_at', models.DateTimeField()),
                        ('due_at', models.DateTimeField(blank=True, null=True)),
                        ('claimed_at', models.DateTimeField(blank=True, null=True)),
                        ('sent_at', models.DateTimeField(blank=True, null=True)),
                        ('alert', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to='alerts.alert')),
                        ('subscription', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='inventory.subscription')),
                        ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'alerts_notification',
                        'indexes': [models.Index(fields=['recipient', 'severity', '-sent_at'], name='notification_window_idx'), models.Index(fields=['state', 'due_at'], name='notification_due_idx'), models.Index(fields=['-created_at'], name='notification_recent_idx')],
                        'constraints': [models.UniqueConstraint(fields=('alert', 'recipient', 'kind'), name='notification_once_per_alert_recipient')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
