from django.db import migrations, models


class Migration(migrations.Migration):
    """Sources existing before this migration have no recorded origin: the first apply of each
    records it (``reconciler.sources``)."""

    dependencies = [
        ("reconciler", "0006_row_digest"),
    ]

    operations = [
        migrations.CreateModel(
            name="ScheduleSource",
            fields=[
                ("name", models.CharField(max_length=200, primary_key=True, serialize=False)),
                ("origin", models.CharField(
                    blank=True, max_length=1000,
                    help_text="the folder: 'package:path' relative to BASE_DIR, an absolute path outside it, "
                    "or '' for a name set explicitly (RECONCILER_SOURCE_NAME)",
                )),
                ("recorded_at", models.DateTimeField()),
            ],
            options={
                "verbose_name": "schedules source",
                "verbose_name_plural": "schedules sources",
            },
        ),
    ]
