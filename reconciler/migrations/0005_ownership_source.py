from django.db import migrations, models

from reconciler.conf import default_source_name


def claim_for_default_source(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Rows owned before sources existed belong to the configured schedules folder."""
    ManagedTask = apps.get_model("reconciler", "ManagedTask")
    ManagedTask.objects.using(schema_editor.connection.alias).filter(source="").update(
        source=default_source_name()
    )


class Migration(migrations.Migration):

    dependencies = [
        ("reconciler", "0004_suspension"),
    ]

    operations = [
        migrations.AddField(
            model_name="managedtask",
            name="source",
            field=models.CharField(
                blank=True, db_index=True, max_length=200,
                help_text="the schedules source (folder) whose apply owns this row; only it may prune the row",
            ),
        ),
        migrations.RunPython(claim_for_default_source, migrations.RunPython.noop),
    ]
