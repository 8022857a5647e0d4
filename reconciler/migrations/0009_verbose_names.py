from django.db import migrations, models


class Migration(migrations.Migration):
    """Names as the admin shows them (no schema change), and two proxies without data: the
    admin index's entries for the task catalogue and the forecast pages."""

    dependencies = [
        ('reconciler', '0008_wakeup_trigger'),
    ]

    operations = [
        migrations.CreateModel(
            name='CataloguePage',
            fields=[
            ],
            options={
                'verbose_name': 'task catalogue',
                'verbose_name_plural': 'task catalogue',
                'proxy': True,
                'default_permissions': (),
                'indexes': [],
                'constraints': [],
            },
            bases=('reconciler.managedtask',),
        ),
        migrations.CreateModel(
            name='ForecastPage',
            fields=[
            ],
            options={
                'verbose_name': 'forecast',
                'verbose_name_plural': 'forecast',
                'proxy': True,
                'default_permissions': (),
                'indexes': [],
                'constraints': [],
            },
            bases=('reconciler.managedtask',),
        ),
        migrations.AlterModelOptions(
            name='applyrecord',
            options={'ordering': ('-started_at', '-id'), 'verbose_name': 'apply record', 'verbose_name_plural': 'apply records'},
        ),
        migrations.AlterModelOptions(
            name='operationrecord',
            options={'ordering': ('-at', '-id'), 'verbose_name': 'operation', 'verbose_name_plural': 'operations'},
        ),
        migrations.AlterField(
            model_name='applyrecord',
            name='django_user',
            field=models.CharField(blank=True, max_length=150, verbose_name='Django user'),
        ),
        migrations.AlterField(
            model_name='applyrecord',
            name='duration_ms',
            field=models.PositiveIntegerField(default=0, verbose_name='duration (ms)'),
        ),
        migrations.AlterField(
            model_name='applyrecord',
            name='os_user',
            field=models.CharField(blank=True, max_length=150, verbose_name='OS user'),
        ),
        migrations.AlterField(
            model_name='operationrecord',
            name='celery_id',
            field=models.CharField(blank=True, max_length=255, verbose_name='Celery task id'),
        ),
    ]
