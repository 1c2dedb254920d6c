"""SyncRun and SyncLease move to the sync app (sync 0001): removed here from the state only, their tables stay."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0003_sync_stages_visible_through"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="syncrun", name="subscription"),
                migrations.DeleteModel(name="SyncLease"),
                migrations.DeleteModel(name="SyncRun"),
            ],
            database_operations=[],
        ),
    ]
