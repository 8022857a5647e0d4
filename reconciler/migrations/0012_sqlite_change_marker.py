"""Every change to the tables beat reads moves django-celery-beat's change marker on SQLite too
(migration 0008 does it on PostgreSQL): a ``QuerySet.update()``, a raw SQL fix, another tool —
not only the saves whose Django signals move it. Beat reloads on it, the status pages' plan memo
and the apply's in-sync memo (``reconciler.insync``) end on it.

Row triggers (SQLite has no statement triggers): on ``django_celery_beat_periodictask`` when a
column other than beat's bookkeeping (``last_run_at``, ``total_run_count``, ``date_changed``,
written after every send) really changed, and on any insert or delete; on the four schedule
tables, any insert, update or delete. The marker is set to the current time, at least a
microsecond past its value (it only moves forward). The task table's columns are those of
django-celery-beat 2.9, frozen here as migrations must be.

PostgreSQL and other databases: nothing (0008 covers PostgreSQL).
"""
from __future__ import annotations

from typing import Any

from django.db import migrations

MARKER = "django_celery_beat_periodictasks"
TASKS = "django_celery_beat_periodictask"
SCHEDULES = (
    "django_celery_beat_intervalschedule", "django_celery_beat_crontabschedule",
    "django_celery_beat_solarschedule", "django_celery_beat_clockedschedule",
)
TASK_COLUMNS = (  # every column but the bookkeeping
    "name", "task", "args", "kwargs", "queue", "exchange", "routing_key", "expires", "enabled", "description",
    "crontab_id", "interval_id", "solar_id", "one_off", "start_time", "priority", "headers", "clocked_id",
    "expire_seconds",
)
NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"  # Django's text form of a UTC moment, to the microsecond
MOVE = f"""
    INSERT OR IGNORE INTO {MARKER} (ident, last_update) VALUES (1, {NOW});
    UPDATE {MARKER} SET last_update = CASE
        WHEN {NOW} > last_update THEN {NOW}
        ELSE strftime('%Y-%m-%d %H:%M:%f', last_update, '+0.001 seconds') || '000' END
    WHERE ident = 1;
"""


def _name(table: str, event: str) -> str:
    return f"reconciler_marker_{table.removeprefix('django_celery_beat_')}_{event.lower()}"  # one namespace per database


def _trigger(table: str, event: str, when: str = "") -> str:
    return (f"CREATE TRIGGER IF NOT EXISTS {_name(table, event)} AFTER {event} ON {table}"
            f"{' WHEN ' + when if when else ''} BEGIN {MOVE} END;")


def _install(table: str, when_updated: str = "") -> list[str]:
    return [_trigger(table, "INSERT"), _trigger(table, "UPDATE", when_updated), _trigger(table, "DELETE")]


def _remove(table: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {_name(table, event)};" for event in ("INSERT", "UPDATE", "DELETE")]


CHANGED = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in TASK_COLUMNS)


class SQLiteOnly(migrations.RunSQL):
    """``RunSQL`` run on SQLite only (elsewhere a no-op, both ways)."""

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "sqlite":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "sqlite":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [
        ("reconciler", "0011_calendars_and_monitors"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        SQLiteOnly(_install(TASKS, CHANGED), _remove(TASKS), elidable=False),
        *(SQLiteOnly(_install(table), _remove(table), elidable=False) for table in SCHEDULES),
    ]
