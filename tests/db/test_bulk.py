"""Plain tuples into a table (``db.bulk``): every value stored as the ORM would store it,
whatever values the rows share. On SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule

from reconciler.db import bulk
from reconciler.db.bulk import allocate_ids, insert_returning_pks, insert_rows

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]


def test_each_moment_is_stored_as_its_own_instant_shared_or_not() -> None:
    shared = datetime(2026, 3, 1, 12, tzinfo=UTC)
    twice = datetime(2026, 10, 25, 2, 30, tzinfo=ZoneInfo("Europe/Paris"))  # the hour Paris lives twice
    later = twice.replace(fold=1)  # equal to ``twice`` (same zone: fold ignored), an hour later
    assert twice == later
    insert_rows(ClockedSchedule, ["clocked_time"], [(shared,), (shared,), (twice,), (later,)], "default")
    stored = list(ClockedSchedule.objects.order_by("pk").values_list("clocked_time", flat=True))
    assert [moment.astimezone(UTC) for moment in stored] == [
        shared, shared, datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    ]


def test_allocated_keys_are_new_and_the_next_insert_takes_a_later_one() -> None:
    """Rows inserted with allocated keys: none collides with a row there or deleted (SQLite's
    ``AUTOINCREMENT`` never gives a key twice), and the ORM's next insert comes after them."""
    every = IntervalSchedule.objects.create(every=60, period=IntervalSchedule.SECONDS)
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    columns = ["id", "name", "task", "args", "kwargs", "headers", "description", "enabled", "one_off",
               "total_run_count", "date_changed", "interval_id"]

    def row(key: int, name: str) -> tuple[object, ...]:
        return (key, name, "project.tasks.noop", "[]", "{}", "{}", "", True, False, 0, now, every.pk)

    kept = PeriodicTask.objects.create(name="kept", task="project.tasks.noop", interval=every)
    deleted = PeriodicTask.objects.create(name="deleted", task="project.tasks.noop", interval=every).pk
    PeriodicTask.objects.filter(pk=deleted).delete()
    keys = allocate_ids(PeriodicTask, 1200, "default")
    assert len(set(keys)) == 1200 and min(keys) > deleted > kept.pk
    insert_rows(PeriodicTask, columns, [row(key, f"task-{key}") for key in keys], "default")
    assert dict(PeriodicTask.objects.exclude(pk=kept.pk).values_list("name", "pk")) == {f"task-{k}": k for k in keys}
    later = PeriodicTask.objects.create(name="later", task="project.tasks.noop", interval=every)
    assert later.pk > max(keys)
    assert allocate_ids(PeriodicTask, 0, "default") == []


def test_each_row_gets_its_own_primary_key_in_order_past_one_batch_of_parameters() -> None:
    """Rows without a unique column: their keys come back in the rows' order (each row read
    back by its key holds the values it was inserted with), shared texts and all; past
    ``COPY_FROM_ROWS`` on PostgreSQL, by ``COPY``."""
    assert bulk.COPY_FROM_ROWS <= 1500
    CrontabSchedule.objects.create(minute="7")  # a row already there: keys do not start at 1
    rows = [(str(i % 60), str(i // 60 % 24), "*", "*", "*", ("UTC", "Europe/Paris")[i % 2]) for i in range(1500)]
    columns = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year", "timezone")
    pks = insert_returning_pks(CrontabSchedule, columns, rows, "default")
    stored = {pk: (*values, str(zone)) for pk, *values, zone in CrontabSchedule.objects.values_list("pk", *columns)}
    assert len(set(pks)) == len(rows) and [stored[pk] for pk in pks] == rows


@pytest.mark.parametrize("copy_from", [bulk.COPY_FROM_ROWS, 1])  # one statement; by COPY (PostgreSQL)
def test_returned_rows_are_stored_as_the_orm_stores_them(copy_from: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "COPY_FROM_ROWS", copy_from)
    twice = datetime(2026, 10, 25, 2, 30, tzinfo=ZoneInfo("Europe/Paris"))
    later = twice.replace(fold=1)  # equal, an hour later: not adapted once for both
    pks = insert_returning_pks(ClockedSchedule, ("clocked_time",), [(twice,), (later,)], "default")
    moments = [ClockedSchedule.objects.get(pk=pk).clocked_time.astimezone(UTC) for pk in pks]
    assert moments == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)]
    [solar] = insert_returning_pks(SolarSchedule, ("event", "latitude", "longitude"), [("dusk_civil", 48.8566, 2.3522)],
                                   "default")
    assert SolarSchedule.objects.get(event="dusk_civil", latitude=48.8566, longitude=2.3522).pk == solar
    assert SolarSchedule.objects.get(pk=solar).latitude == Decimal("48.856600")


@pytest.mark.only_backend("postgresql")
def test_the_apply_tables_go_in_by_binary_copy_and_other_types_by_text() -> None:
    """Every column the apply writes has a type COPY's binary format takes from the values it
    holds; a column of another type (JSON here) keeps the whole COPY in the text format."""
    from django.db import connection

    from reconciler.engine.write import CREATED_COLUMNS, OWNERSHIP_COLUMNS

    with connection.cursor() as cursor:
        for table, columns in (("django_celery_beat_periodictask", CREATED_COLUMNS),
                               ("reconciler_managedtask", (*OWNERSHIP_COLUMNS, "row_digest"))):
            types = bulk._binary_types(cursor, connection.ops.quote_name(table), columns)
            assert types is not None and len(types) == len(columns)
        cursor.execute("CREATE TEMPORARY TABLE with_json (id integer, data jsonb)")
        assert bulk._binary_types(cursor, "with_json", ["id"]) == [23]
        assert bulk._binary_types(cursor, "with_json", ["id", "data"]) is None
