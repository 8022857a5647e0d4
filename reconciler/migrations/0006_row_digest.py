from django.db import migrations, models


class Migration(migrations.Migration):
    """Rows owned before this migration have no digest: they are read in full, as before,
    until the next apply that writes them."""

    dependencies = [
        ("reconciler", "0005_ownership_source"),
    ]

    operations = [
        migrations.AddField(
            model_name="managedtask",
            name="row_digest",
            field=models.CharField(
                blank=True, db_default="", max_length=32,
                help_text="digest of the row (and its schedule) as last written; '' when unknown (``rowdigest``)",
            ),
        ),
    ]
