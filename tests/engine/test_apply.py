"""Apply on a real database (the suite runs this file on SQLite and on PostgreSQL)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from reconciler.core.errors import RefusedApply
from reconciler.core.plan import Action
from reconciler.models import ApplyRecord, ManagedTask
from tests.support.engine import NOW, apply_yaml, interval_tasks, marker, plan_yaml, snapshot, write_schedules

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]

DIGEST = """tasks:
  digest:
    task: project.tasks.send_digest
    cron: "30 7 * * mon-fri"
    timezone: Europe/Paris
    args: [staff]
    queue: reports
    priority: 5
    expires: 1h
"""


EXECUTEMANY = re.compile(r"^(\d+) times: ")
LOCK_STATEMENT = "WHERE 0 = 1"  # SQLite: takes the write lock, matches no row (reconciler.locking)


def writes(queries: CaptureQueriesContext) -> list[str]:
    """Statements that can change a row, one per row of an ``executemany`` (which Django logs
    once, as "N times: SQL")."""
    found = []
    for query in queries.captured_queries:
        many = EXECUTEMANY.match(query["sql"])
        sql = query["sql"][many.end():] if many else query["sql"]
        if sql.split()[0].upper() in ("INSERT", "UPDATE", "DELETE") and LOCK_STATEMENT not in sql:
            found.extend([sql] * (int(many.group(1)) if many else 1))
    return found


def test_first_apply_creates_rows_ownership_history_and_bumps_the_marker(tmp_path: Path) -> None:
    outcome = apply_yaml(tmp_path, DIGEST)
    task = PeriodicTask.objects.get(name="digest")
    assert (task.task, task.args, task.queue, task.priority, task.expire_seconds, task.expires) == (
        "project.tasks.send_digest",
        '["staff"]',
        "reports",
        5,
        3600,
        None,
    )
    cron = task.crontab
    assert (cron.minute, cron.hour, cron.day_of_week, str(cron.timezone)) == ("30", "7", "1-5", "Europe/Paris")
    assert (task.interval, task.clocked, task.solar, task.one_off) == (None, None, None, False)
    owned = ManagedTask.objects.get(periodic_task=task)
    assert (owned.source_file.endswith("s.yaml"), owned.source_line, owned.applied_revision) == (True, 2, "test")
    record = ApplyRecord.objects.get()
    assert (record.outcome, record.created, record.plan["summary"]["create"]) == ("applied", 1, 1)
    assert marker() is not None and outcome.result.written


def noop_apply_queries(folder: Path, count: int) -> int:
    """Apply ``count`` tasks, then apply again: the second apply writes nothing. Its query count."""
    PeriodicTask.objects.all().delete()
    apply_yaml(folder, interval_tasks(count, prefix=f"n{count}"))
    before, bumped = snapshot(), marker()
    with CaptureQueriesContext(connection) as queries:
        outcome = apply_yaml(folder)
    assert outcome.result is not None
    assert not outcome.result.written and outcome.result.plan.changes == ()
    assert writes(queries) == []
    assert snapshot() == before and marker() == bumped
    return len(queries)


def test_noop_apply_writes_nothing_in_a_constant_number_of_queries(tmp_path: Path) -> None:
    few, many = noop_apply_queries(tmp_path / "few", 10), noop_apply_queries(tmp_path / "many", 200)
    assert few <= 10
    assert many == few, f"a no-op over 200 tasks took {many} queries, over 10 tasks {few}"


def test_one_changed_declaration_writes_one_task_row_and_the_marker(tmp_path: Path) -> None:
    text = interval_tasks(50)
    apply_yaml(tmp_path, text)
    changed = text.replace("every: 70\n", "every: 7000\n")
    assert changed != text
    with CaptureQueriesContext(connection) as queries:
        apply_yaml(tmp_path, changed)
    written = writes(queries)
    task_updates = [q for q in written if q.startswith('UPDATE "django_celery_beat_periodictask"')]
    assert len(task_updates) == 1
    tables = sorted({q.split()[2 if q.startswith("INSERT") else 1].strip('"') for q in written})
    assert tables == sorted(
        [
            "django_celery_beat_intervalschedule",  # the new interval row
            "django_celery_beat_periodictask",
            "reconciler_managedtask",
            "django_celery_beat_periodictasks",
            "reconciler_applyrecord",
        ]
    )


def test_query_count_does_not_grow_with_the_number_of_tasks(tmp_path: Path) -> None:
    counts = []
    for count, folder in ((20, tmp_path / "a"), (400, tmp_path / "b")):
        PeriodicTask.objects.all().delete()
        with CaptureQueriesContext(connection) as queries:
            apply_yaml(folder, interval_tasks(count, prefix=f"n{count}"))
        counts.append(len(queries))
    # Rows go in batches (Django caps a batch by the backend's parameter limit: about 45
    # PeriodicTask rows on SQLite), so 20x the tasks may add a few statements, never one a task.
    assert counts[1] < counts[0] + 400 / 20


def test_update_in_place_keeps_pk_and_beat_owned_fields(tmp_path: Path) -> None:
    apply_yaml(tmp_path, DIGEST)
    task = PeriodicTask.objects.get(name="digest")
    last_run = NOW - timedelta(minutes=5)
    PeriodicTask.objects.filter(pk=task.pk).update(last_run_at=last_run, total_run_count=42)
    apply_yaml(tmp_path, DIGEST.replace("[staff]", "[everyone]"))
    after = PeriodicTask.objects.get(name="digest")
    assert (after.pk, after.args, after.last_run_at, after.total_run_count) == (task.pk, '["everyone"]', last_run, 42)


def test_rename_keeps_the_row_and_its_history(tmp_path: Path) -> None:
    apply_yaml(tmp_path, DIGEST)
    task = PeriodicTask.objects.get(name="digest")
    PeriodicTask.objects.filter(pk=task.pk).update(total_run_count=7)
    renamed = DIGEST.replace("  digest:\n", "  staff-digest:\n    renamed_from: digest\n")
    outcome = apply_yaml(tmp_path, renamed)
    assert [c.action for c in outcome.result.plan.changes] == [Action.RENAME]
    after = PeriodicTask.objects.get()
    assert (after.pk, after.name, after.total_run_count) == (task.pk, "staff-digest", 7)


def test_prune_deletes_owned_rows_and_never_touches_others(tmp_path: Path) -> None:
    apply_yaml(tmp_path, interval_tasks(3))
    foreign = PeriodicTask.objects.create(
        name="celery.backend_cleanup",
        task="celery.backend_cleanup",
        interval=IntervalSchedule.objects.create(every=1, period="days"),
    )
    apply_yaml(tmp_path, interval_tasks(1))
    assert sorted(PeriodicTask.objects.values_list("name", flat=True)) == ["celery.backend_cleanup", "t-00000"]
    assert ManagedTask.objects.count() == 1
    assert PeriodicTask.objects.get(pk=foreign.pk).enabled


def test_no_prune_keeps_and_reports(tmp_path: Path) -> None:
    apply_yaml(tmp_path, interval_tasks(2))
    outcome = apply_yaml(tmp_path, interval_tasks(1), prune=False)
    assert [c.action for c in outcome.result.plan.changes] == [Action.RETAIN]
    assert PeriodicTask.objects.count() == 2


def test_conflict_refuses_and_writes_nothing(tmp_path: Path) -> None:
    interval = IntervalSchedule.objects.create(every=5, period="minutes")
    PeriodicTask.objects.create(name="digest", task="project.tasks.send_digest", interval=interval, args='["x"]')
    before = snapshot()
    with pytest.raises(RefusedApply, match="--adopt"):
        apply_yaml(tmp_path, DIGEST + interval_tasks(2).replace("tasks:\n", ""))
    assert snapshot() == before
    assert ApplyRecord.objects.get().outcome == "refused"


def test_adopt_takes_over_in_place(tmp_path: Path) -> None:
    interval = IntervalSchedule.objects.create(every=5, period="minutes")
    row = PeriodicTask.objects.create(name="digest", task="project.tasks.send_digest", interval=interval)
    apply_yaml(tmp_path, DIGEST, adopt=True)
    adopted = PeriodicTask.objects.get(name="digest")
    assert adopted.pk == row.pk and adopted.crontab is not None and adopted.interval is None
    assert ManagedTask.objects.filter(periodic_task=adopted).exists()
    assert plan_yaml(tmp_path).changes == ()


def test_empty_declarations_are_refused_unless_allowed(tmp_path: Path) -> None:
    apply_yaml(tmp_path, interval_tasks(3))
    with pytest.raises(RefusedApply, match="--allow-empty"):
        apply_yaml(tmp_path, "tasks: {}\n")
    assert PeriodicTask.objects.count() == 3
    apply_yaml(tmp_path, "tasks: {}\n", allow_empty=True)
    assert PeriodicTask.objects.count() == 0


ONE_OFF = """tasks:
  once:
    task: project.tasks.heartbeat
    at: "{at}"
"""


def fire_like_beat(name: str) -> None:
    """What django-celery-beat's ModelEntry does to a one-off after it ran (through save())."""
    task = PeriodicTask.objects.get(name=name)
    task.last_run_at, task.total_run_count = NOW, 1
    task.save()
    task.enabled, task.total_run_count = False, 0
    task.save()


def test_a_fired_one_off_is_left_alone_and_moving_it_rearms(tmp_path: Path) -> None:
    moment = NOW - timedelta(minutes=1)
    apply_yaml(tmp_path, ONE_OFF.format(at=moment.isoformat()), now=moment - timedelta(hours=1))
    assert PeriodicTask.objects.get(name="once").enabled
    fire_like_beat("once")
    before = snapshot()
    outcome = apply_yaml(tmp_path)
    beat_tables = lambda state: {model: rows for model, rows in state.items() if model != "ManagedTask"}  # noqa: E731
    assert not outcome.result.written and beat_tables(snapshot()) == beat_tables(before)
    settled = snapshot()  # the ownership row settled beat's disabling (no drift: apply.settle_drift) ...
    assert not apply_yaml(tmp_path).result.written and snapshot() == settled  # ... once
    later = NOW + timedelta(days=1)
    apply_yaml(tmp_path, ONE_OFF.format(at=later.isoformat()))
    task = PeriodicTask.objects.get(name="once")
    assert task.enabled and task.one_off and task.clocked.clocked_time == later


def test_a_past_one_off_is_created_disabled(tmp_path: Path) -> None:
    outcome = apply_yaml(tmp_path, ONE_OFF.format(at=(NOW - timedelta(days=30)).isoformat()))
    task = PeriodicTask.objects.get(name="once")
    assert (task.enabled, task.one_off) == (False, True)
    assert "not armed" in outcome.result.plan.changes[0].reasons[0].words


def test_schedule_rows_are_shared_reused_and_never_modified(tmp_path: Path) -> None:
    existing = CrontabSchedule.objects.create(minute="00", hour="03", day_of_week="mon", timezone="UTC")
    other_user = PeriodicTask.objects.create(name="admin-made", task="x", crontab=existing)
    text = "".join(
        f'  job-{i}:\n    task: project.tasks.heartbeat\n    cron: "0 3 * * 1"\n    timezone: UTC\n' for i in range(3)
    )
    apply_yaml(tmp_path, "tasks:\n" + text)
    assert set(PeriodicTask.objects.filter(name__startswith="job").values_list("crontab_id", flat=True)) == {
        existing.pk
    }
    apply_yaml(tmp_path, "tasks:\n" + text.replace('"0 3 * * 1"', '"0 4 * * 1"'))
    existing.refresh_from_db()
    assert (existing.minute, existing.hour, existing.day_of_week) == ("00", "03", "mon")
    assert PeriodicTask.objects.get(pk=other_user.pk).crontab_id == existing.pk
    assert CrontabSchedule.objects.count() == 2


def test_same_meaning_spellings_never_drift(tmp_path: Path) -> None:
    apply_yaml(
        tmp_path, 'tasks:\n  a:\n    task: project.tasks.heartbeat\n    cron: "00 3 * * mon"\n    timezone: UTC\n'
    )
    task = PeriodicTask.objects.get()
    assert (task.crontab.minute, task.crontab.day_of_week) == ("0", "1")  # one canonical form written
    write_schedules(
        tmp_path, 'tasks:\n  a:\n    task: project.tasks.heartbeat\n    cron: "0 3 * * 1"\n    timezone: UTC\n'
    )
    assert plan_yaml(tmp_path).changes == ()
    write_schedules(tmp_path, "tasks:\n  b:\n    task: project.tasks.heartbeat\n    every: 1h\n")
    apply_yaml(tmp_path)
    IntervalSchedule.objects.filter(pk=PeriodicTask.objects.get().interval_id).update(every=60, period="minutes")
    assert plan_yaml(tmp_path).changes == ()


def test_admin_edit_is_drift_and_the_next_apply_reverts_it(tmp_path: Path) -> None:
    apply_yaml(tmp_path, DIGEST)
    PeriodicTask.objects.filter(name="digest").update(enabled=False, queue="other")
    [change] = plan_yaml(tmp_path).changes
    assert change.action is Action.UPDATE and change.reasons[0].words.startswith("drift")
    apply_yaml(tmp_path)
    task = PeriodicTask.objects.get(name="digest")
    assert (task.enabled, task.queue) == (True, "reports")


def test_a_crash_in_the_middle_leaves_the_database_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    apply_yaml(tmp_path, interval_tasks(5))
    before = snapshot()
    from reconciler.engine import write as write_module

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated crash after the task rows were written")

    monkeypatch.setattr(write_module, "_own", explode)
    with pytest.raises(RuntimeError, match="simulated crash"):
        apply_yaml(tmp_path, interval_tasks(8).replace("every: 60", "every: 61"))
    assert snapshot() == before
    assert ApplyRecord.objects.filter(outcome="failed").count() == 1


def test_invalid_files_write_nothing(tmp_path: Path) -> None:
    from reconciler.engine.apply import ApplyOptions
    from reconciler.pipeline import apply_paths
    from tests.support.engine import registry

    apply_yaml(tmp_path, interval_tasks(2))
    before = snapshot()
    write_schedules(tmp_path, interval_tasks(3) + "  broken:\n    task: nope.nope\n    every: 10\n")
    outcome = apply_paths([tmp_path], options=ApplyOptions(now=NOW), registry=registry())
    assert outcome.result is None and not outcome.validation.valid
    assert snapshot() == before
