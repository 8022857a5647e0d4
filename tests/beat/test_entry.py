"""Beat's save after a send never undoes an apply (``beat.entry.ScheduledEntry``).

django-celery-beat's own ``ModelEntry.save`` reads the row and writes it back whole: an apply
that commits in between is silently reverted. The interleaving is made exact with a
``pre_save`` receiver, which runs between that read and that write."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.models.signals import pre_save
from django.test.utils import CaptureQueriesContext
from django_celery_beat.models import IntervalSchedule, PeriodicTask, SolarSchedule
from django_celery_beat.schedulers import ModelEntry

from project.celery import app
from reconciler.beat.entry import ScheduledEntry
from reconciler.core.policy import Policy
from reconciler.models import ScheduledTask
from reconciler.scheduler import ReconcilingScheduler
from tests.support.engine import NOW, apply_yaml

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]

YAML = """tasks:
  heartbeat:
    task: project.tasks.heartbeat
    every: 1s
    kwargs: {label: %s}
"""


def kwargs_in_database() -> str:
    return PeriodicTask.objects.get(name="heartbeat").kwargs


@contextmanager
def apply_during_the_save(folder: Path) -> Iterator[None]:
    """Apply v2 once, from inside the next save of the row: after the save's read, before its write."""
    def receiver(sender: object, instance: PeriodicTask, **kwargs: object) -> None:
        pre_save.disconnect(receiver, sender=PeriodicTask)
        apply_yaml(folder, YAML % "v2")

    pre_save.connect(receiver, sender=PeriodicTask)
    try:
        yield
    finally:
        pre_save.disconnect(receiver, sender=PeriodicTask)


def sent(entry: ModelEntry) -> ModelEntry:
    entry.model.last_run_at = NOW + timedelta(seconds=1)
    entry.model.total_run_count += 1
    return entry


def test_django_celery_beats_own_save_reverts_an_apply_made_during_it(tmp_path: Path) -> None:
    apply_yaml(tmp_path, YAML % "v1")
    entry = sent(ModelEntry(ScheduledTask.objects.get(name="heartbeat"), app=app))
    with apply_during_the_save(tmp_path):
        entry.save()
    assert '"v1"' in kwargs_in_database()  # the defect our entry exists for


def test_our_save_keeps_an_apply_made_after_the_entry_was_loaded(tmp_path: Path) -> None:
    apply_yaml(tmp_path, YAML % "v1")
    entry = sent(ReconcilingScheduler.Entry(ScheduledTask.objects.get(name="heartbeat"), app=app))
    with apply_during_the_save(tmp_path):  # our save sends no pre_save: apply right now instead
        apply_yaml(tmp_path, YAML % "v2")
        entry.save()
    row = PeriodicTask.objects.get(name="heartbeat")
    assert '"v2"' in row.kwargs
    assert (row.last_run_at, row.total_run_count) == (NOW + timedelta(seconds=1), 1)


def test_our_save_is_one_update_of_beats_own_columns(tmp_path: Path) -> None:
    apply_yaml(tmp_path, YAML % "v1")
    entry = sent(ReconcilingScheduler.Entry(ScheduledTask.objects.get(name="heartbeat"), app=app))
    with CaptureQueriesContext(connection) as queries:
        entry.save()
    [query] = [q["sql"] for q in queries.captured_queries]
    assert query.startswith("UPDATE")
    assigned = query.split(" SET ", 1)[1].split(" WHERE ", 1)[0]
    assert sorted(part.split("=")[0].strip().strip('"').split(".")[-1].strip('"') for part in assigned.split(", ")) == [
        "last_run_at", "total_run_count",
    ]


# -- when the entry sends: core.sends under a stopped clock -----------------------------------

class Clock:
    """The entry's own clock (``ScheduledEntry.now``), stopped where the test puts it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, at: datetime) -> None:
        self.at = at
        monkeypatch.setattr(ScheduledEntry, "now", lambda entry: self.at)


def minutely(last_run_at: datetime | None, **fields: Any) -> PeriodicTask:
    """An unsaved row every minute, changed at NOW (what the entry reads of it)."""
    return PeriodicTask(
        name="job", task="project.tasks.heartbeat", interval=IntervalSchedule(every=60, period="seconds"),
        last_run_at=last_run_at, date_changed=NOW, enabled=True, **fields,
    )


LAST = NOW + timedelta(minutes=-10, seconds=-30)  # ten slots missed by NOW: 11:50:30 ... 11:59:30

# (id, policy, slots sent at the first evaluation)
CATCHING_UP = [
    ("skip", Policy(catchup="skip"), []),
    ("once", Policy(), [NOW - timedelta(seconds=30)]),
    ("all-max-2", Policy(catchup="all", catchup_max=2), [NOW - timedelta(seconds=90), NOW - timedelta(seconds=30)]),
]


@pytest.mark.parametrize(("policy", "sent"), [c[1:] for c in CATCHING_UP], ids=[c[0] for c in CATCHING_UP])
def test_the_first_evaluation_catches_up_by_the_policy(
    policy: Policy, sent: list[datetime], monkeypatch: pytest.MonkeyPatch,
) -> None:
    Clock(monkeypatch, NOW)
    entry = ScheduledEntry(minutely(LAST, total_run_count=4), app=app, policy=policy)
    is_due, wait = entry.is_due()
    assert is_due and wait == 30.0
    assert entry.decision is not None and [s.slot for s in entry.decision.sends] == sent
    following = next(entry)
    assert following.last_run_at == NOW - timedelta(seconds=30)  # the latest slot, not the clock
    assert following.model.total_run_count == 4 + len(sent)
    assert not following.catching_up and not entry.catching_up


def test_an_entry_that_is_not_catching_up_sends_one_run_for_the_latest_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    Clock(monkeypatch, NOW)
    entry = ScheduledEntry(minutely(LAST), app=app, policy=Policy(catchup="skip"), catching_up=False)
    assert entry.is_due()[0]
    assert entry.decision is not None and [s.slot for s in entry.decision.sends] == [NOW - timedelta(seconds=30)]


def test_a_first_evaluation_with_nothing_due_ends_the_catch_up(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch, NOW)
    entry = ScheduledEntry(minutely(NOW - timedelta(seconds=30)), app=app, policy=Policy(catchup="skip"))
    assert entry.is_due() == (False, 30.0) and not entry.catching_up
    clock.at = NOW + timedelta(minutes=5)  # beat stalled: not a missed slot, one run as Celery does
    assert entry.is_due()[0]
    assert entry.decision is not None and [s.slot for s in entry.decision.sends] == [NOW + timedelta(seconds=270)]


def test_a_never_run_row_with_a_past_start_time_is_not_sent_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's ``garden-lights-on``: django-celery-beat sent it at once (thirty years back)."""
    Clock(monkeypatch, NOW)
    row = PeriodicTask(
        name="garden-lights-on", task="project.tasks.open_garden_lights", date_changed=NOW, enabled=True,
        solar=SolarSchedule(event="dusk_civil", latitude=48.8566, longitude=2.3522),
        start_time=NOW - timedelta(days=3),
    )
    assert ModelEntry(PeriodicTask(**{f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields},
                                   solar=row.solar), app=app).is_due()[0]  # the quirk
    entry = ScheduledEntry(row, app=app)
    is_due, wait = entry.is_due()
    assert not is_due and wait > 0
    assert entry.decision is not None and entry.decision.next_at == NOW + timedelta(seconds=wait)


def test_the_message_carries_the_slot_the_policy_and_the_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    Clock(monkeypatch, NOW)
    policy = Policy(time_limit=1200, scheduled_time_kwarg="as_of", overlap="skip", max_runtime=600)
    entry = ScheduledEntry(minutely(LAST, kwargs='{"label": "x"}', headers='{"team": "ops"}'), app=app, policy=policy)
    sendable = entry.message(NOW - timedelta(seconds=30), "task-1")
    assert sendable.options["headers"] == {
        "team": "ops", "periodic_task_name": "job", "scheduled_time": "2026-11-24T11:59:30+00:00",
    }
    assert (sendable.options["time_limit"], sendable.options["task_id"]) == (1200, "task-1")
    assert sendable.kwargs == {"label": "x", "as_of": "2026-11-24T11:59:30+00:00"}
    assert entry.kwargs == {"label": "x"} and "scheduled_time" not in entry.options["headers"]
