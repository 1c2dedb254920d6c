from django.db import migrations, models
from django.db.models import F


def touched_at_created(apps, schema_editor):
    """Existing deliveries were last touched, as far as anyone knows, when they were created."""
    apps.get_model("triage", "WebhookDelivery").objects.update(touched_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("triage", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookdelivery",
            name="touched_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(touched_at_created, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="touched_at",
            field=models.DateTimeField(),
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="state",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("sending", "Sending"),
                    ("delivered", "Delivered"),
                    ("failed", "Failed"),
                ],
                default="pending",
                max_length=20,
            ),
        ),
        migrations.AddIndex(
            model_name="webhookdelivery",
            index=models.Index(
                condition=models.Q(("state__in", ["pending", "sending"])),
                fields=["touched_at"],
                name="triage_delivery_pending",
            ),
        ),
    ]
