"""The alerts app hands its suppression rules and notifications to their own apps; Alert.suppressed_by becomes
suppression's link table (copied by suppression 0001 before this drops the column)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0011_alert_arm_id_unique_without_like_index"),
        ("notifications", "0001_initial"),
        ("suppression", "0001_initial"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="alert",
            name="alert_suppressed_idx",
        ),
        migrations.RemoveField(
            model_name="alert",
            name="suppressed_by",
        ),
        # The models moved to suppression and notifications (their tables with them): the state only.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="notification",
                    name="alert",
                ),
                migrations.RemoveField(
                    model_name="notification",
                    name="subscription",
                ),
                migrations.RemoveField(
                    model_name="notification",
                    name="user",
                ),
                migrations.RemoveField(
                    model_name="notificationbatch",
                    name="subscription",
                ),
                migrations.RemoveField(
                    model_name="notificationpreference",
                    name="user",
                ),
                migrations.RemoveField(
                    model_name="securitycontact",
                    name="subscription",
                ),
                migrations.RemoveField(
                    model_name="suppressionrule",
                    name="created_by",
                ),
                migrations.RemoveField(
                    model_name="suppressionrule",
                    name="subscription",
                ),
                migrations.RemoveField(
                    model_name="suppressionrule",
                    name="updated_by",
                ),
                migrations.DeleteModel(
                    name="Notification",
                ),
                migrations.DeleteModel(
                    name="NotificationBatch",
                ),
                migrations.DeleteModel(
                    name="NotificationPreference",
                ),
                migrations.DeleteModel(
                    name="SecurityContact",
                ),
                migrations.DeleteModel(
                    name="SuppressionRule",
                ),
            ],
            database_operations=[],
        ),
    ]
