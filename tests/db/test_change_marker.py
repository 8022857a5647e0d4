"""Beat's change marker moves with every change to the tables beat reads, whoever makes it
(migration 0008/0013's statement triggers on PostgreSQL, 0012's row triggers on SQLite), and
never with beat's own bookkeeping — also when one statement updates thousands of rows."""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import F
from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]
ROWS = 2000
TASKS = PeriodicTask._meta.db_table


def populate() -> None:
    every = IntervalSchedule.objects.create(every=10, period="seconds")
    PeriodicTask.objects.bulk_create(
        [PeriodicTask(name=f"t{i}", task="project.tasks.heartbeat", interval=every) for i in range(ROWS)],
    )


def marker() -> datetime | None:
    return PeriodicTasks.objects.values_list("last_update", flat=True).first()


def raw(sql: str) -> Callable[[], None]:
    def run() -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    return run


BOOKKEEPING: dict[str, Callable[[], None]] = {
    "every row's runs counted (ORM)": lambda: PeriodicTask.objects.update(total_run_count=F("total_run_count") + 1),
    "every row's last run (raw SQL)": raw(
        f"UPDATE {TASKS} SET last_run_at = CURRENT_TIMESTAMP, date_changed = CURRENT_TIMESTAMP"),
    "nothing changed at all": lambda: PeriodicTask.objects.update(enabled=True),
}
CHANGES: dict[str, Callable[[], None]] = {
    "one row among all (raw SQL)": raw(f"UPDATE {TASKS} SET queue = CASE WHEN name = 't7' THEN 'other' ELSE queue END"),
    "every row disabled (ORM)": lambda: PeriodicTask.objects.update(enabled=False),
    "a row inserted": lambda: PeriodicTask.objects.bulk_create(
        [PeriodicTask(name="new", task="x", interval=IntervalSchedule.objects.first())]),
    "a row deleted (raw)": raw(f"DELETE FROM {TASKS} WHERE name = 't3'"),
    "a schedule row edited": lambda: IntervalSchedule.objects.update(every=20),
}


@pytest.mark.parametrize("bookkeeping", BOOKKEEPING.values(), ids=list(BOOKKEEPING))
def test_beats_bookkeeping_does_not_move_the_marker(bookkeeping: Callable[[], None]) -> None:
    populate()
    before = marker()
    bookkeeping()
    assert marker() == before


@pytest.mark.parametrize("change", CHANGES.values(), ids=list(CHANGES))
def test_any_change_moves_the_marker_forward(change: Callable[[], None]) -> None:
    populate()
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": datetime(2030, 1, 1, tzinfo=UTC)})
    change()
    moved = marker()
    assert moved is not None and moved > datetime(2030, 1, 1, tzinfo=UTC), "forward, even past a marker in the future"


def triggers() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        return cursor.fetchall()


@pytest.mark.only_backend("sqlite")
def test_a_large_write_sets_the_row_triggers_aside_and_puts_them_back_as_they_were() -> None:
    from reconciler.db.marker import QUIET_FROM_ROWS, row_triggers_set_aside

    before = triggers()
    assert len(before) == 15, "0012: three events on the task table and on each of the four schedule tables"
    populate()
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": datetime(2030, 1, 1, tzinfo=UTC)})
    with row_triggers_set_aside("default", QUIET_FROM_ROWS):
        assert triggers() == []
        raw(f"UPDATE {TASKS} SET queue = 'other'")()
        raw(f"DELETE FROM {TASKS} WHERE name = 't1'")()
        assert marker() == datetime(2030, 1, 1, tzinfo=UTC), "the rows moved nothing: the caller moves it once"
    assert triggers() == before
    raw(f"DELETE FROM {TASKS} WHERE name = 't3'")()
    assert marker() > datetime(2030, 1, 1, tzinfo=UTC), "they fire again"


@pytest.mark.only_backend("sqlite")
def test_an_error_during_the_write_puts_the_row_triggers_back() -> None:
    from reconciler.db.marker import QUIET_FROM_ROWS, row_triggers_set_aside

    before = triggers()
    with pytest.raises(RuntimeError), row_triggers_set_aside("default", QUIET_FROM_ROWS):
        populate()
        raise RuntimeError("mid-write")
    assert triggers() == before
    assert not PeriodicTask.objects.exists(), "the rows went back with the drops"


@pytest.mark.only_backend("sqlite")
def test_a_small_write_keeps_the_row_triggers() -> None:
    from reconciler.db.marker import QUIET_FROM_ROWS, row_triggers_set_aside

    before = triggers()
    with row_triggers_set_aside("default", QUIET_FROM_ROWS - 1):
        assert triggers() == before


def test_a_first_apply_of_many_tasks_moves_the_marker_and_leaves_the_triggers(tmp_path: Path) -> None:
    from reconciler.db.marker import QUIET_FROM_ROWS
    from tests.support.engine import apply_yaml, interval_tasks

    before = triggers() if connection.vendor == "sqlite" else None
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": datetime(2030, 1, 1, tzinfo=UTC)})
    outcome = apply_yaml(tmp_path, interval_tasks(QUIET_FROM_ROWS))
    assert outcome.result is not None and outcome.result.written
    assert PeriodicTask.objects.count() == QUIET_FROM_ROWS
    moved = marker()
    assert moved is not None and moved > datetime(2030, 1, 1, tzinfo=UTC)
    if before is not None:
        assert triggers() == before
