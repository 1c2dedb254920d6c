"""An incident's alerts are those of its subscription with its correlation key: the alert row no longer points at its
incident (the sync grouped alerts by rewriting every new row, which cost more than inserting it), and incident
grouping reads by (subscription, correlation key) through one index that leads with both."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0009_notification_batches"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="alert", name="alert_correlation_idx"),
        migrations.AddIndex(
            model_name="alert",
            index=models.Index(
                condition=models.Q(("correlation_key", ""), _negated=True),
                fields=["subscription", "correlation_key"],
                name="alert_sub_correlation_idx",
            ),
        ),
        migrations.RemoveIndex(model_name="alert", name="alert_incident_idx"),
        migrations.RemoveField(model_name="alert", name="incident"),
    ]
