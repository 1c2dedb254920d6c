"""The alert id stays unique, through a constraint: `unique=True` also built a LIKE index (varchar_pattern_ops)
that no query uses and that every insert paid for."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('alerts', '0010_incidents_by_correlation_key'),
    ]

    operations = [
        migrations.AlterField(
            model_name='alert',
            name='arm_id',
            field=models.CharField(max_length=600, verbose_name='Alert ID'),
        ),
        migrations.AddConstraint(
            model_name='alert',
            constraint=models.UniqueConstraint(fields=('arm_id',), name='alert_arm_id_unique'),
        ),
    ]
