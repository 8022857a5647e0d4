"""Beat's incremental reload (beat/reload.py): after a change, only the rows changed since the
last load are read, by their change stamps and the enabled count; what the stamps cannot
explain, and many changed rows, load every entry. Real database, real scheduler."""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db.models import Case, Value, When
from django.test import override_settings
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

from project.celery import app
from reconciler.beat import reload
from reconciler.beat.scheduler import ReconcilingScheduler
from reconciler.conf import conf

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.db_backend]  # beat closes its connection


class Counting(ReconcilingScheduler):
    """Our scheduler, its full loads counted and each message kept with the moment it was sent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.full_loads = 0
        self.sent: list[tuple[str, str, dict[str, Any], float]] = []
        super().__init__(*args, **kwargs)

    def all_as_schedule(self) -> dict[str, Any]:
        self.full_loads += 1
        return super().all_as_schedule()

    def apply_async(self, entry, producer=None, advance=True, **kwargs):  # type: ignore[no-untyped-def]
        self.sent.append((entry.name, entry.options["headers"]["scheduled_time"], entry.kwargs, time.time()))
        self._tasks_since_sync += 1
        if self.should_sync():
            self._do_sync()


def every(seconds: int) -> IntervalSchedule:
    return IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")[0]


def row(name: str, seconds: int = 3600, **fields: Any) -> PeriodicTask:
    return PeriodicTask.objects.create(name=name, task="project.tasks.heartbeat", interval=every(seconds),
                                       kwargs=json.dumps({"label": name}), **fields)


def loaded(*names: str) -> Counting:
    """A scheduler that has loaded ``names`` and read the marker once (its first read after the
    initial load only notes where the marker is)."""
    for name in names:
        row(name)
    scheduler = Counting(app=app, lazy=True)
    scheduler.schedule  # noqa: B018 - the initial read
    scheduler.schedule  # noqa: B018
    assert scheduler.full_loads == 1
    return scheduler


def move_marker() -> None:
    """What an apply does after its rows (``engine.write.mark_changed``): the marker moves; a
    second later than anything before, so that a fast test sees it move."""
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now() + timedelta(seconds=1)})


def edit(task_name: str, /, **fields: Any) -> None:
    task = PeriodicTask.objects.get(name=task_name)
    for key, value in fields.items():
        setattr(task, key, value)
    task.save()  # as the admin does: date_changed moves (auto_now)


def stamped_update(names: list[str], **fields: Any) -> None:
    """As ``engine.write`` does: one bulk UPDATE stamping the rows with the writer's clock."""
    PeriodicTask.objects.filter(name__in=names).update(date_changed=timezone.now(), **fields)


def toggle(names: list[str]) -> None:
    """The admin's toggle action: enabled flipped, no stamp."""
    PeriodicTask.objects.filter(name__in=names).update(
        enabled=Case(When(enabled=True, then=Value(False)), default=Value(True)))


CASES: dict[str, tuple[Callable[[], None], dict[str, str], int]] = {
    # change -> (the kwargs label of each entry loaded afterwards, full loads it costs)
    "a changed row (admin save)": (
        lambda: edit("a", kwargs=json.dumps({"label": "a2"})), {"a": "a2", "b": "b", "c": "c"}, 0),
    "a changed row (apply's bulk update)": (
        lambda: stamped_update(["b"], kwargs=json.dumps({"label": "b2"})), {"a": "a", "b": "b2", "c": "c"}, 0),
    "a new row": (lambda: row("e"), {"a": "a", "b": "b", "c": "c", "e": "e"}, 0),
    "a disabled row (save)": (lambda: edit("a", enabled=False), {"b": "b", "c": "c"}, 0),
    "a disabled row (UPDATE, no stamp)": (
        lambda: PeriodicTask.objects.filter(name="a").update(enabled=False), {"b": "b", "c": "c"}, 0),
    "a deleted row": (lambda: PeriodicTask.objects.filter(name="c").delete(), {"a": "a", "b": "b"}, 0),
    "a renamed row": (lambda: edit("a", name="z"), {"z": "a", "b": "b", "c": "c"}, 0),
    "a row enabled again (UPDATE, no stamp)": (
        lambda: PeriodicTask.objects.filter(name="d").update(enabled=True), {n: n for n in "abcd"}, 0),
    "an in-place schedule edit": (
        lambda: IntervalSchedule.objects.filter(every=3600).update(every=7200), {"a": "a", "b": "b", "c": "c"}, 1),
    "a toggle of two rows (the count agrees)": (lambda: toggle(["a", "d"]), {"b": "b", "c": "c", "d": "d"}, 1),
}


@pytest.mark.parametrize("change", CASES)
def test_a_change_reloads_only_what_it_changed(change: str) -> None:
    act, expected, full_loads = CASES[change]
    row("d", enabled=False)
    scheduler = loaded("a", "b", "c")
    before = dict(scheduler.schedule)
    act()
    move_marker()
    after = scheduler.schedule
    assert {name: entry.kwargs["label"] for name, entry in after.items()} == expected
    assert scheduler.full_loads == 1 + full_loads, "full loads"
    if not full_loads:  # the entries it did not change are the ones loaded before
        assert all(after[name] is before[name] for name, label in expected.items() if name in before and label == name)
    if change == "an in-place schedule edit":
        assert all(entry.schedule.run_every == timedelta(hours=2) for entry in after.values())


def test_no_change_read_twice() -> None:
    """A stamp read before is not read again while no more rows carry it (its margin is re-read)."""
    scheduler = loaded("a", "b")
    edit("a", kwargs=json.dumps({"label": "a2"}))
    move_marker()
    first = scheduler.schedule["a"]
    edit("b", kwargs=json.dumps({"label": "b2"}))
    move_marker()
    assert scheduler.schedule["a"] is first and scheduler.schedule["b"].kwargs == {"label": "b2"}
    assert scheduler.full_loads == 1


def test_a_stamp_committed_late_within_the_margin_is_read_and_one_past_it_loads_everything() -> None:
    scheduler = loaded("a", "b", "c")
    edit("a", kwargs=json.dumps({"label": "a2"}))  # the latest stamp seen: now
    move_marker()
    scheduler.schedule  # noqa: B018
    late = timezone.now() - timedelta(seconds=60)  # an apply that stamped its rows a minute ago commits now
    PeriodicTask.objects.filter(name="b").update(kwargs=json.dumps({"label": "b2"}), date_changed=late)
    move_marker()
    assert scheduler.schedule["b"].kwargs == {"label": "b2"} and scheduler.full_loads == 1
    too_late = timezone.now() - reload.MARGIN - timedelta(seconds=60)
    PeriodicTask.objects.filter(name="c").update(kwargs=json.dumps({"label": "c2"}), date_changed=too_late)
    move_marker()
    assert scheduler.schedule["c"].kwargs == {"label": "c2"} and scheduler.full_loads == 2  # nothing explained it


def test_many_stamped_rows_load_everything() -> None:
    scheduler = loaded("a")
    hourly = every(3600)
    PeriodicTask.objects.bulk_create([
        PeriodicTask(name=f"bulk-{i}", task="project.tasks.heartbeat", interval=hourly)
        for i in range(reload.FULL_MINIMUM + 1)
    ])
    move_marker()
    assert len(scheduler.schedule) == reload.FULL_MINIMUM + 2 and scheduler.full_loads == 2
    stamped_update(["a"], kwargs=json.dumps({"label": "a2"}))  # the bulk's stamp is not read again
    move_marker()
    assert scheduler.schedule["a"].kwargs == {"label": "a2"} and scheduler.full_loads == 2


def test_an_entry_keeps_its_catch_up_state_and_a_new_one_catches_up() -> None:
    scheduler = loaded("a", "b")
    scheduler.schedule["a"].catching_up = False  # evaluated: found nothing due
    edit("a", kwargs=json.dumps({"label": "a2"}))
    edit("b", name="b-renamed")
    row("c")
    move_marker()
    entries = scheduler.schedule
    assert scheduler.full_loads == 1
    assert (entries["a"].kwargs, entries["a"].catching_up) == ({"label": "a2"}, False)
    assert entries["b-renamed"].catching_up and entries["c"].catching_up  # names new to the schedule


@override_settings(RECONCILER_BEAT_INCREMENTAL=False)
def test_the_setting_off_loads_everything_at_each_change() -> None:
    scheduler = loaded("a", "b")
    edit("a", kwargs=json.dumps({"label": "a2"}))
    assert scheduler.schedule["a"].kwargs == {"label": "a2"} and scheduler.full_loads == 2


def test_the_safety_reload_reads_every_row_in_a_thread_and_fixes_what_the_stamps_missed() -> None:
    """An in-place schedule edit and a toggle that come with a stamped change: only the stamped
    row is merged (docs/deploy.md: what the stamps cannot see). The safety reload, in a thread,
    finds the rest; the schedule is fixed at a later read, with no full load, and the entries
    it did not change are kept."""
    row("d", enabled=False)
    row("e", seconds=60)
    scheduler = loaded("a", "b", "c")
    IntervalSchedule.objects.filter(every=3600).update(every=7200)
    toggle(["c", "d"])
    edit("a", kwargs=json.dumps({"label": "a2"}))
    move_marker()
    entries = scheduler.schedule
    assert entries["a"].schedule.run_every == timedelta(hours=2)
    assert entries["b"].schedule.run_every == timedelta(hours=1) and "c" in entries  # missed, for now
    kept = entries["e"]
    scheduler._last_full_sync -= timedelta(seconds=conf.BEAT_SAFETY_RELOAD)
    scheduler.schedule  # noqa: B018 - starts the thread
    assert scheduler._safety.thread is not None
    scheduler._safety.thread.join(30)
    entries = scheduler.schedule  # applies its verdict
    assert sorted(entries) == ["a", "b", "d", "e"] and scheduler.full_loads == 1
    assert all(entries[name].schedule.run_every == timedelta(hours=2) for name in "abd")
    assert entries["e"] is kept


def test_a_changed_task_is_sent_on_time_with_its_new_arguments_and_the_old_entry_never() -> None:
    """Beat's heap after an incremental reload: the changed entry's next run is due at its slot,
    with the new arguments; the old entry's event is stale and sends nothing."""
    start = datetime.now(UTC).replace(microsecond=0)
    row("pulse", seconds=1, last_run_at=start)
    row("hourly")
    scheduler = Counting(app=app, lazy=True)

    def run_for(seconds: float) -> None:
        deadline = time.time() + seconds
        while time.time() < deadline:
            time.sleep(max(0.0, min(scheduler.tick(), 0.05, deadline - time.time())))

    try:
        run_for(2.5)
        edit("pulse", kwargs=json.dumps({"label": "new"}))
        changed = time.time()
        run_for(3.0)
    finally:
        scheduler.close()  # the HA lock: on PostgreSQL, an advisory lock every test database shares
    assert scheduler.full_loads == 1
    after = [(slot, kwargs, at) for name, slot, kwargs, at in scheduler.sent if name == "pulse" and at > changed + 0.2]
    assert len(after) >= 2 and all(kwargs == {"label": "new"} for _, kwargs, _ in after), after
    late = [at - datetime.fromisoformat(slot).timestamp() for slot, _, at in after]
    assert max(late) < 0.5, late
    slots = [slot for name, slot, _, _ in scheduler.sent if name == "pulse"]
    assert len(slots) == len(set(slots)), "a slot sent twice (the old entry's event)"


@pytest.mark.parametrize("stamps", ["one stamp (an apply)", "a stamp each (single saves)"])
def test_a_margin_crowded_with_stamps_is_read_by_stamp(stamps: str) -> None:
    """Past ``MAX_STAMPS`` distinct stamps within the margin, the stamps are counted one by one
    (no list of them in the SQL): a change still merges alone, a late one is still read."""
    hourly = every(3600)
    count = reload.MAX_STAMPS + 10
    PeriodicTask.objects.bulk_create([
        PeriodicTask(name=f"row-{i}", task="project.tasks.heartbeat", interval=hourly,
                     date_changed=timezone.now() - timedelta(microseconds=i))  # auto_now: set anew per row
        for i in range(count)
    ])
    if stamps.startswith("one"):
        PeriodicTask.objects.update(date_changed=timezone.now())
    assert PeriodicTask.objects.values("date_changed").distinct().count() == (1 if stamps.startswith("one") else count)
    scheduler = loaded()
    edit("row-1", kwargs=json.dumps({"label": "changed"}))
    move_marker()
    assert scheduler.schedule["row-1"].kwargs == {"label": "changed"}
    late = timezone.now() - timedelta(seconds=30)
    PeriodicTask.objects.filter(name="row-2").update(kwargs=json.dumps({"label": "late"}), date_changed=late)
    move_marker()
    assert scheduler.schedule["row-2"].kwargs == {"label": "late"}
    assert scheduler.full_loads == 1 and len(scheduler.schedule) == count


def test_the_events_of_replaced_entries_leave_the_heap_once_they_are_many(monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.beat import loading

    monkeypatch.setattr(loading, "STALE_MINIMUM", 3)
    scheduler = loaded("a", "b")
    try:
        scheduler.tick()  # takes the HA lock (a full load) and fills the heap: one event per entry
        loads = scheduler.full_loads
        for i in range(4):
            edit("a", kwargs=json.dumps({"label": f"a{i}"}))
            move_marker()
            scheduler.schedule  # noqa: B018
    finally:
        scheduler.close()  # the HA lock: on PostgreSQL, an advisory lock every test database shares
    heap = scheduler._heap or []
    stale = [event for event in heap if getattr(event[2].model, "superseded", False)]
    assert len(heap) - len(stale) == 2 and len(stale) <= 3, heap
    assert scheduler.full_loads == loads
