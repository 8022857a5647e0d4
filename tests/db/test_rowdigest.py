"""The row digest (``reconciler.rowdigest``): a row the reconciler wrote and nobody touched is
taken as its declaration without being read in full; any change to any column that makes
up the row, made by any means, sends it back to the full read. On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from reconciler.core.plan import DiffOptions
from reconciler.core.specs import ActualState
from reconciler.db import rowdigest
from reconciler.declare.sources import scope_for
from reconciler.engine.diff import diff
from reconciler.engine.read import read_actual
from reconciler.models import ManagedTask
from tests.support.engine import NOW, apply_yaml, registry, write_schedules

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]

EVERY_KIND = """tasks:
  by-cron:
    task: project.tasks.send_digest
    cron: "30 7 * * mon-fri"
    timezone: Europe/Paris
    args: [staff]
    kwargs: {include_drafts: true}
    description: the morning digest
    queue: reports
    exchange: mail
    routing_key: mail.digest
    priority: 5
    headers: {team: growth}
    expires: 1h
    start_time: "2026-01-01T00:00:00+01:00"
  by-interval:
    task: project.tasks.sync_inventory
    every: 90s
    args: [north]
    expires: "2031-03-01T00:00:00+01:00"
  by-clock:
    task: project.tasks.generate_report
    at: "2031-05-01T02:00:00+00:00"
    args: [q2]
  by-sun:
    task: project.tasks.open_garden_lights
    solar: {event: dusk_civil, latitude: 48.8566, longitude: 2.3522}
    args: [front]
"""


def declared(folder: Path):  # type: ignore[no-untyped-def]
    from reconciler.pipeline import validate_paths

    result = validate_paths([folder], registry=registry(), now=NOW, lints=False)
    assert result.valid, result.diagnostics
    return result.declared


def execute(sql: str, params: list[object] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def test_apply_stores_the_digest_the_database_computes_now(tmp_path: Path) -> None:
    apply_yaml(tmp_path, EVERY_KIND)
    heads = rowdigest.read_heads("default")
    assert len(heads) == 4
    for head in heads:
        stored, current = head[-2], head[-1]
        assert len(stored) == 32 and stored == current
    assert len({head[-1] for head in heads}) == 4


def test_pristine_rows_are_their_declarations_in_one_query(tmp_path: Path) -> None:
    apply_yaml(tmp_path, EVERY_KIND)
    specs = declared(tmp_path).specs()
    with CaptureQueriesContext(connection) as queries:
        fast = read_actual("default", specs)
    assert len(queries) == 1
    assert all(task.spec is specs[task.name] for task in fast.tasks)
    assert fast == read_actual("default")  # and that is what the rows read back as, in full


def test_a_row_without_a_digest_is_read_in_full(tmp_path: Path) -> None:
    """Rows owned before the digest existed (migration 0006) have ''."""
    apply_yaml(tmp_path, EVERY_KIND)
    ManagedTask.objects.filter(periodic_task__name="by-sun").update(row_digest="")
    specs = declared(tmp_path).specs()
    fast = read_actual("default", specs)
    assert fast.by_name()["by-sun"].spec is not specs["by-sun"]
    assert fast.by_name()["by-cron"].spec is specs["by-cron"]
    assert fast == read_actual("default")


# Every column a row's spec is read from, changed behind the reconciler's back with raw SQL
# (no signal, no ``date_changed``): table, column, new value, the task whose row it is.
TASK_TABLE = "django_celery_beat_periodictask"
RAW_CHANGES = [
    (TASK_TABLE, "task", "project.tasks.heartbeat", "by-cron"),
    (TASK_TABLE, "args", '["someone-else"]', "by-cron"),
    (TASK_TABLE, "kwargs", '{"include_drafts": false}', "by-cron"),
    (TASK_TABLE, "enabled", False, "by-cron"),
    (TASK_TABLE, "one_off", True, "by-cron"),
    (TASK_TABLE, "description", "edited in the admin", "by-cron"),
    (TASK_TABLE, "queue", "celery", "by-cron"),
    (TASK_TABLE, "exchange", "other", "by-cron"),
    (TASK_TABLE, "routing_key", "other.key", "by-cron"),
    (TASK_TABLE, "priority", 9, "by-cron"),
    (TASK_TABLE, "headers", '{"team": "ops"}', "by-cron"),
    (TASK_TABLE, "expire_seconds", 60, "by-cron"),
    (TASK_TABLE, "expires", NOW, "by-interval"),
    (TASK_TABLE, "start_time", NOW, "by-cron"),
    ("django_celery_beat_crontabschedule", "minute", "31", "by-cron"),
    ("django_celery_beat_crontabschedule", "hour", "8", "by-cron"),
    ("django_celery_beat_crontabschedule", "day_of_week", "0", "by-cron"),
    ("django_celery_beat_crontabschedule", "day_of_month", "2", "by-cron"),
    ("django_celery_beat_crontabschedule", "month_of_year", "3", "by-cron"),
    ("django_celery_beat_crontabschedule", "timezone", "UTC", "by-cron"),
    ("django_celery_beat_intervalschedule", "every", 91, "by-interval"),
    ("django_celery_beat_intervalschedule", "period", "minutes", "by-interval"),
    ("django_celery_beat_clockedschedule", "clocked_time", NOW, "by-clock"),
    ("django_celery_beat_solarschedule", "event", "sunrise", "by-sun"),
    ("django_celery_beat_solarschedule", "latitude", 10, "by-sun"),
    ("django_celery_beat_solarschedule", "longitude", 10, "by-sun"),
]


@pytest.mark.parametrize(
    ("table", "column", "value", "name"), RAW_CHANGES,
    ids=[f"{t.removeprefix('django_celery_beat_')}.{c}" for t, c, _, _ in RAW_CHANGES],
)
def test_any_column_changed_by_raw_sql_is_drift(
    tmp_path: Path, table: str, column: str, value: object, name: str,
) -> None:
    apply_yaml(tmp_path, EVERY_KIND)
    row = PeriodicTask.objects.get(name=name)
    pk = row.pk if table == TASK_TABLE else next(
        getattr(row, f"{kind}_id") for kind in rowdigest.SCHEDULE_RELATIONS if getattr(row, f"{kind}_id")
    )
    execute(f'UPDATE "{table}" SET "{column}" = %s WHERE id = %s', [value, pk])
    state = declared(tmp_path)
    fast, full = read_actual("default", state.specs()), read_actual("default")
    assert fast == full
    plan = diff(state, fast, DiffOptions(NOW, scope=scope_for([tmp_path])))
    assert [c.name for c in plan.changes] == [name]
    assert plan.changes[0].reasons[0].words.startswith("drift")


def test_a_schedule_moved_to_another_row_is_drift(tmp_path: Path) -> None:
    apply_yaml(tmp_path, EVERY_KIND)
    other = CrontabSchedule.objects.create(minute="0", hour="0", timezone="UTC")
    PeriodicTask.objects.filter(name="by-cron").update(crontab=other)  # a queryset update: no signal, no save()
    state = declared(tmp_path)
    assert read_actual("default", state.specs()) == read_actual("default")
    plan = diff(state, read_actual("default", state.specs()), DiffOptions(NOW, scope=scope_for([tmp_path])))
    assert [c.name for c in plan.changes] == ["by-cron"]


def test_a_beat_run_keeps_the_row_pristine(tmp_path: Path) -> None:
    """Beat's own columns are not in the digest: a task that runs stays on the fast path."""
    apply_yaml(tmp_path, EVERY_KIND)
    PeriodicTask.objects.filter(name="by-interval").update(last_run_at=NOW, total_run_count=3)
    specs = declared(tmp_path).specs()
    fast = read_actual("default", specs)
    task = fast.by_name()["by-interval"]
    assert task.spec is specs["by-interval"] and (task.last_run_at, task.total_run_count) == (NOW, 3)
    assert fast == read_actual("default")


def test_a_changed_declaration_reads_its_row_in_full_and_updates_it(tmp_path: Path) -> None:
    apply_yaml(tmp_path, EVERY_KIND)
    write_schedules(tmp_path, EVERY_KIND.replace("every: 90s", "every: 120s"))
    state = declared(tmp_path)
    fast = read_actual("default", state.specs())
    assert fast.by_name()["by-interval"].spec is not state.specs()["by-interval"]
    assert fast == read_actual("default")
    outcome = apply_yaml(tmp_path)
    assert [c.name for c in outcome.result.plan.changes] == ["by-interval"]
    stored, current = next(h for h in rowdigest.read_heads("default") if h[1] == "by-interval")[-2:]
    assert stored == current


def test_many_rows_to_read_fall_back_to_one_full_read(tmp_path: Path) -> None:
    apply_yaml(tmp_path, EVERY_KIND)
    ManagedTask.objects.update(row_digest="")
    specs = declared(tmp_path).specs()
    with CaptureQueriesContext(connection) as queries:
        state = read_actual("default", specs)
    assert len(queries) == 3  # the heads, then ownership and rows as ``read_actual()`` reads them
    assert state == read_actual("default") != ActualState()


def test_the_digested_columns_are_the_kinds_tables_in_their_stored_order() -> None:
    """The text hashed is a stored format: the same columns, in the order every stored digest
    was computed with (else each owned row would be read in full until it is next written)."""
    from reconciler.beat.kinds import KINDS

    assert rowdigest.SCHEDULE_RELATIONS == ("interval", "crontab", "clocked", "solar")
    assert sorted(rowdigest.SCHEDULE_RELATIONS) == sorted(kind.field for kind in KINDS)
    assert rowdigest.ROW_FIELDS[15:] == (
        "interval__every", "interval__period", "clocked__clocked_time", "solar__event", "solar__latitude",
        "solar__longitude", "crontab__timezone", "crontab__minute", "crontab__hour", "crontab__day_of_month",
        "crontab__month_of_year", "crontab__day_of_week",
    )
    assert sorted(rowdigest.ROW_FIELDS[15:]) == sorted(f"{k.field}__{c}" for k in KINDS for c in k.columns)


def test_new_ownership_rows_are_inserted_with_their_digest_and_an_orphan_is_refused(tmp_path: Path) -> None:
    """``insert_owned`` digests each row on the way in, and never drops a row silently: an
    ownership row whose task row does not exist fails the whole insert."""
    from django.db import transaction

    from reconciler.engine.write import OWNERSHIP_COLUMNS

    apply_yaml(tmp_path, EVERY_KIND)
    owned = list(ManagedTask.objects.values_list(*OWNERSHIP_COLUMNS))
    digests = dict(ManagedTask.objects.values_list("periodic_task_id", "row_digest"))
    ManagedTask.objects.all().delete()
    rowdigest.insert_owned(OWNERSHIP_COLUMNS, owned[:2], "default")
    assert dict(ManagedTask.objects.values_list("periodic_task_id", "row_digest")) == {
        pk: digests[pk] for pk, *_ in owned[:2]
    }
    orphan = (max(digests) + 1000, *owned[2][1:])
    with pytest.raises(RuntimeError, match="1 new row"), transaction.atomic():
        rowdigest.insert_owned(OWNERSHIP_COLUMNS, [owned[2], orphan], "default")
    assert ManagedTask.objects.count() == 2


def test_a_permanent_table_named_as_the_temporary_one_is_never_touched(tmp_path: Path) -> None:
    """The temporary table is dropped in the temporary schema only."""
    execute('CREATE TABLE "reconciler_incoming_ownership" (kept integer)')
    execute('INSERT INTO "reconciler_incoming_ownership" VALUES (7)')
    apply_yaml(tmp_path, EVERY_KIND)
    assert ManagedTask.objects.count() == 4
    with connection.cursor() as cursor:
        cursor.execute('SELECT kept FROM "reconciler_incoming_ownership"')
        assert cursor.fetchall() == [(7,)]


@pytest.mark.only_backend("postgresql")
@pytest.mark.parametrize("setting", ["1MB", "4MB", "256MB"])
def test_the_ownership_insert_leaves_work_mem_as_it_found_it(tmp_path: Path, setting: str) -> None:
    """On PostgreSQL the insert's join runs with ``work_mem`` raised (never lowered) to
    ``HASH_MEMORY``; the session's own setting is back once it is done."""
    from django.db import transaction

    from reconciler.engine.write import OWNERSHIP_COLUMNS

    apply_yaml(tmp_path, EVERY_KIND)
    owned = list(ManagedTask.objects.values_list(*OWNERSHIP_COLUMNS))
    with transaction.atomic():
        ManagedTask.objects.all().delete()
        execute(f"SET LOCAL work_mem = '{setting}'")
        with CaptureQueriesContext(connection) as queries:
            rowdigest.insert_owned(OWNERSHIP_COLUMNS, owned, "default")
        with connection.cursor() as cursor:
            cursor.execute("SHOW work_mem")
            assert cursor.fetchone()[0] == setting
        assert ManagedTask.objects.count() == len(owned)
    raised = [q["sql"] for q in queries.captured_queries if "set_config('work_mem'" in q["sql"]]
    assert len(raised) == (1 if setting == "256MB" else 2)  # the check, and the restore when it raised
