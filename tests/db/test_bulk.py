"""Plain tuples into a table (``db.bulk``): every value stored as the ORM would store it,
whatever values the rows share. On SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django_celery_beat.models import ClockedSchedule, IntervalSchedule, PeriodicTask

from reconciler.db.bulk import BATCH, insert_rows

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


def test_returning_reads_back_every_row_inserted_past_one_batch() -> None:
    every = IntervalSchedule.objects.create(every=60, period=IntervalSchedule.SECONDS)
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    columns = ("name", "task", "args", "kwargs", "headers", "description", "enabled", "one_off", "total_run_count",
               "date_changed", "interval_id")
    rows = [(f"task-{i}", "project.tasks.noop", "[]", "{}", "{}", "", True, False, 0, now, every.pk)
            for i in range(2 * BATCH + 1)]
    returned = insert_rows(PeriodicTask, columns, rows, "default", returning=("name", "id"))
    assert len(returned) == len(rows)
    assert dict(returned) == dict(PeriodicTask.objects.values_list("name", "pk"))
