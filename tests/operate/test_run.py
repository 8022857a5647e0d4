"""Run now builds exactly the message django-celery-beat's own ModelEntry builds for a row."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from reconciler.core.errors import OperationRefused
from reconciler.operate import beat_message
from reconciler.pipeline import celery_app

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]

ROWS: dict[str, dict[str, Any]] = {
    "plain": {},
    "routed": {"queue": "q", "exchange": "ex", "routing_key": "rk", "priority": 7},
    "relative-expiry": {"expire_seconds": 600},
    "absolute-expiry": {"expires": datetime(2030, 1, 1, tzinfo=UTC)},
    "arguments-and-headers": {"args": '["a", 1]', "kwargs": '{"x": {"y": [true]}}', "headers": '{"team": "ops"}'},
}


@pytest.mark.parametrize("fields", ROWS.values(), ids=ROWS.keys())
def test_the_message_is_beats(fields: dict[str, Any]) -> None:
    row = PeriodicTask.objects.create(
        name="r", task="project.tasks.heartbeat", interval=IntervalSchedule.objects.create(every=60, period="seconds"),
        **fields,
    )
    entry = ModelEntry(row, app=celery_app())
    message = beat_message(row)
    assert (message.task, message.args, message.kwargs, message.options) == (
        entry.task, entry.args, entry.kwargs, entry.options
    )


@pytest.mark.parametrize(
    ("column", "raw", "problem"),
    [("args", "[1,", "not valid JSON"), ("kwargs", "[]", "JSON but not a dict"), ("headers", "nope", "not valid JSON")],
)
def test_a_row_beat_cannot_read_is_refused_and_left_alone(column: str, raw: str, problem: str) -> None:
    row = PeriodicTask.objects.create(
        name="r", task="project.tasks.heartbeat", interval=IntervalSchedule.objects.create(every=60, period="seconds"),
        **{column: raw},
    )
    with pytest.raises(OperationRefused, match=f"r: its stored {column} is {problem}"):
        beat_message(row)
    assert PeriodicTask.objects.get(pk=row.pk).enabled  # ModelEntry would have disabled it



def test_run_task_refuses_a_naive_eta() -> None:
    from reconciler.operate import AdHocRun, run_task

    with pytest.raises(OperationRefused, match="eta must carry a time zone offset"):
        run_task(AdHocRun("project.tasks.heartbeat", [], {}, datetime(2030, 1, 1, 8)))


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [({"batch_size": "lots"}, "argument 'batch_size' of project.tasks.sync_inventory expects int, got str 'lots'"),
     ({"batch_size": 10}, None),
     ({"batch_sise": 10}, "got an unexpected keyword argument 'batch_sise'")],
    ids=["type-hint", "fits", "does-not-bind"],
)
def test_argument_problem_is_validates_check(kwargs: dict[str, Any], problem: str | None) -> None:
    from reconciler.operate import AdHocRun, argument_problem
    from reconciler.pipeline import default_registry

    found = argument_problem(AdHocRun("project.tasks.sync_inventory", ["main"], kwargs), default_registry())
    assert found == problem if problem is None else problem in (found or "")
