"""Every change to the tables beat reads wakes beat (PostgreSQL): an admin edit of an unmanaged
row, a raw SQL fix, another tool — not only ``apply``.

Statement-level triggers (``FOR EACH STATEMENT``: one firing per statement, whatever the number
of rows, so a 100,000-row apply pays a few firings, not 100,000):

- on ``django_celery_beat_periodictask`` and the four schedule tables: when the statement really
  changed a row, move django-celery-beat's change marker (``django_celery_beat_periodictasks``),
  so that beat reloads (a raw SQL fix bypasses the Django signals that move it otherwise). Beat's
  own bookkeeping (``last_run_at``, ``total_run_count``, ``date_changed``, written after every
  send) is no change: it neither moves the marker nor wakes beat.
- on the marker: ``NOTIFY`` on ``reconciler.wakeup.CHANNEL``, delivered at commit, folded by
  PostgreSQL into one per transaction. ``apply`` moves the marker, so this covers it too.

SQLite and other databases: nothing (beat's marker poll is all there is).
"""
from __future__ import annotations

from typing import Any

from django.db import migrations

CHANNEL = "reconciler_schedules"  # reconciler.wakeup.CHANNEL, frozen here as migrations must be
MARKER = "django_celery_beat_periodictasks"
TASKS = "django_celery_beat_periodictask"
SCHEDULES = (
    "django_celery_beat_intervalschedule", "django_celery_beat_crontabschedule",
    "django_celery_beat_solarschedule", "django_celery_beat_clockedschedule",
)
BOOKKEEPING = "'last_run_at', 'total_run_count', 'date_changed'"  # what beat writes after a send

FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION reconciler_wakeup_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', '');
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION reconciler_wakeup_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- TG_ARGV: the columns whose change is no change (beat's bookkeeping)
    -- nested IFs: a transition table named in an expression must exist for this trigger
    IF TG_OP = 'UPDATE' THEN
        IF NOT EXISTS (
            SELECT 1 FROM reconciler_new_rows n LEFT JOIN reconciler_old_rows o ON o.id = n.id
            WHERE o.id IS NULL OR to_jsonb(n) - COALESCE(TG_ARGV, '{{}}'::text[])
                                  IS DISTINCT FROM to_jsonb(o) - COALESCE(TG_ARGV, '{{}}'::text[])
        ) THEN
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


def _triggers(table: str, ignored: str) -> str:
    """Three statement triggers on ``table`` (one per event: PostgreSQL allows transition
    tables on single-event triggers only); an INSERT always adds a row as Django issues it."""
    return f"""
CREATE TRIGGER reconciler_wakeup_insert AFTER INSERT OR TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION reconciler_wakeup_mark();
CREATE TRIGGER reconciler_wakeup_update AFTER UPDATE ON {table}
    REFERENCING OLD TABLE AS reconciler_old_rows NEW TABLE AS reconciler_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION reconciler_wakeup_mark({ignored});
CREATE TRIGGER reconciler_wakeup_delete AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS reconciler_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION reconciler_wakeup_mark();
"""


def _drop(table: str) -> str:
    return "".join(f"DROP TRIGGER IF EXISTS reconciler_wakeup_{event} ON {table};\n"
                   for event in ("insert", "update", "delete"))


INSTALL = FUNCTIONS + _triggers(TASKS, BOOKKEEPING) + "".join(_triggers(t, "") for t in SCHEDULES) + f"""
CREATE TRIGGER reconciler_wakeup_notify AFTER INSERT OR UPDATE ON {MARKER}
    FOR EACH STATEMENT EXECUTE FUNCTION reconciler_wakeup_notify();
"""
REMOVE = "".join(_drop(t) for t in (TASKS, *SCHEDULES)) + f"""
DROP TRIGGER IF EXISTS reconciler_wakeup_notify ON {MARKER};
DROP FUNCTION IF EXISTS reconciler_wakeup_mark();
DROP FUNCTION IF EXISTS reconciler_wakeup_notify();
"""


class PostgreSQLOnly(migrations.RunSQL):
    """``RunSQL`` run on PostgreSQL only (elsewhere a no-op, both ways)."""

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [
        ("reconciler", "0007_source_origin"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [PostgreSQLOnly(INSTALL, REMOVE, elidable=False)]
