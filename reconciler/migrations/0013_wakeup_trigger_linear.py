"""Migration 0008's update trigger in linear time (PostgreSQL).

To tell beat's bookkeeping from a change, 0008 joined the statement's new rows to its old rows
by id. Transition tables have no index and no statistics, and PostgreSQL joined them in a
nested loop: an ``UPDATE`` of n rows cost n² row comparisons (20,000 rows: 76 s; 100,000: half
an hour, the table locked meanwhile; each 500-row batch of an apply: ~50 ms). The same question,
"is some new row (id included) not among the old rows, bookkeeping aside", is asked here as an
``EXCEPT``, which PostgreSQL hashes: 20,000 rows in 0.5 s. Same answers: the row's id is in what
is compared, so a row is compared with its own old version only.
"""
from __future__ import annotations

from typing import Any

from django.db import migrations

MARKER = "django_celery_beat_periodictasks"


def _function(changed: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION reconciler_wakeup_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- TG_ARGV: the columns whose change is no change (beat's bookkeeping)
    -- nested IFs: a transition table named in an expression must exist for this trigger
    IF TG_OP = 'UPDATE' THEN
        IF NOT EXISTS ({changed}) THEN
            RETURN NULL;
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT 1 FROM reconciler_old_rows) THEN
            RETURN NULL;
        END IF;
    END IF;
    INSERT INTO {MARKER} (ident, last_update) VALUES (1, clock_timestamp())
    ON CONFLICT (ident) DO UPDATE SET last_update = GREATEST(
        {MARKER}.last_update + interval '1 microsecond', EXCLUDED.last_update);
    RETURN NULL;
END $$;
"""


LINEAR = _function("""
            SELECT to_jsonb(n) - COALESCE(TG_ARGV, '{}'::text[]) FROM reconciler_new_rows n
            EXCEPT
            SELECT to_jsonb(o) - COALESCE(TG_ARGV, '{}'::text[]) FROM reconciler_old_rows o
        """)
QUADRATIC = _function("""
            SELECT 1 FROM reconciler_new_rows n LEFT JOIN reconciler_old_rows o ON o.id = n.id
            WHERE o.id IS NULL OR to_jsonb(n) - COALESCE(TG_ARGV, '{}'::text[])
                                  IS DISTINCT FROM to_jsonb(o) - COALESCE(TG_ARGV, '{}'::text[])
        """)  # 0008's, for the way back


class PostgreSQLOnly(migrations.RunSQL):
    """``RunSQL`` run on PostgreSQL only (elsewhere a no-op, both ways)."""

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [("reconciler", "0012_sqlite_change_marker")]

    operations = [PostgreSQLOnly(LINEAR, QUADRATIC, elidable=False)]
