"""The in-sync memo (``reconciler.insync``, issue 21): an apply of exactly what the last apply
left in sync answers from the files' bytes and one query, with the plan a full apply makes; and
every kind of change in between ends it — the files, the options, a setting, the database
(a save, a ``QuerySet.update``, raw SQL, a suspension, another apply), the moment. Real
database, real applies, the project's Celery registry."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from reconciler import insync
from reconciler.cli.apply import render_json, render_result
from reconciler.engine.apply import ApplyOptions
from reconciler.operate import suspend
from reconciler.pipeline import ApplyPathsResult, apply_paths
from tests.support.engine import NOW, interval_tasks, memo_of, registry, write_schedules

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]

ONE_OFF = """\
  launch:
    task: project.tasks.heartbeat
    at: "2026-11-24T13:00:00+00:00"
"""


def apply(folder: Path, **options: Any) -> ApplyPathsResult:
    options.setdefault("now", NOW)
    outcome = apply_paths([folder], options=ApplyOptions(**options), registry=registry())
    assert outcome.result is not None, outcome.validation
    return outcome


def remembered(outcome: ApplyPathsResult) -> bool:
    assert outcome.result is not None
    return outcome.result.remembered


def shown(outcome: ApplyPathsResult) -> tuple[str, dict[str, Any]]:
    """What ``reconcile apply`` prints, in text and JSON, but the seconds it took."""
    assert outcome.result is not None
    text = render_result(outcome.result).rsplit("(", 1)[0]
    payload = json.loads(render_json(outcome.result))
    payload.pop("seconds")
    return text, payload


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_schedules(tmp_path / "schedules", interval_tasks(5))


def test_a_second_apply_answers_from_the_memo_with_the_plan_a_full_apply_makes(folder: Path) -> None:
    first = apply(folder)
    assert first.result is not None and first.result.written and not remembered(first)
    memo = apply(folder)
    assert remembered(memo) and memo.validation is None
    full = apply_paths([folder], options=ApplyOptions(now=NOW), registry=registry(), use_cache=False)
    assert not remembered(full)
    assert shown(memo) == shown(full)
    assert "5 tasks unchanged" in shown(memo)[0]


def test_after_a_no_op_the_memo_keeps_its_non_writing_changes(folder: Path) -> None:
    apply(folder)
    suspend("t-00001", "incident 7", by="alice")
    full = apply(folder)  # the suspension moved the markers: a full apply, which writes nothing
    assert not remembered(full) and full.result is not None and not full.result.written
    again = apply(folder)
    assert remembered(again) and shown(again) == shown(full)


def test_no_memo_without_the_cache_or_for_a_dry_run(folder: Path, settings) -> None:  # type: ignore[no-untyped-def]
    apply(folder)
    assert not remembered(apply(folder, dry_run=True))
    settings.RECONCILER_CACHE_DIR = None
    assert not remembered(apply(folder))


def raw_sql(column: str, value: str) -> Callable[[Path], None]:
    def change(_: Path) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {PeriodicTask._meta.db_table} SET {column} = %s WHERE name = 't-00002'", [value])
    return change


def admin_save(_: Path) -> None:
    task = PeriodicTask.objects.get(name="t-00003")
    task.description = "edited in the admin"
    task.save()


def another_file(folder: Path) -> None:
    (folder / "more.yaml").write_text(interval_tasks(1, prefix="more"))


def edited_file(folder: Path) -> None:
    write_schedules(folder, interval_tasks(5, every=90))


def same_bytes_renamed(folder: Path) -> None:
    (folder / "s.yaml").rename(folder / "t.yaml")


def row_deleted(_: Path) -> None:
    PeriodicTask.objects.filter(name="t-00004").delete()


CHANGES: dict[str, Callable[[Path], None]] = {
    "a file edited": edited_file,
    "a file added": another_file,
    "a file renamed": same_bytes_renamed,
    "an admin save": admin_save,
    "a QuerySet.update": lambda _: PeriodicTask.objects.filter(name="t-00001").update(enabled=False),
    "raw SQL on a task": raw_sql("queue", "elsewhere"),
    "a task's schedule row edited": lambda _: IntervalSchedule.objects.filter(
        pk=PeriodicTask.objects.get(name="t-00000").interval_id).update(every=999),
    "a row deleted": row_deleted,
    "a suspension": lambda _: suspend("t-00000", "incident", by="alice"),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=list(CHANGES))
def test_every_change_in_between_ends_the_memo_and_the_full_apply_sees_it(
    folder: Path, change: Callable[[Path], None],
) -> None:
    apply(folder)
    assert remembered(apply(folder))
    change(folder)
    after = apply(folder)
    assert not remembered(after)
    full = apply_paths([folder], options=ApplyOptions(now=NOW), registry=registry(), use_cache=False)
    assert full.result is not None and not full.result.written, "the apply after the change left the database in sync"
    assert remembered(apply(folder)), "and remembered it"


def test_another_option_a_setting_or_the_moment_is_another_memo(folder: Path, settings) -> None:  # type: ignore[no-untyped-def]
    apply(folder)
    assert not remembered(apply(folder, prune=False))
    settings.RECONCILER_HERD_LIMIT = 7
    assert not remembered(apply(folder))
    assert remembered(apply(folder))
    assert not remembered(apply(folder, now=NOW + insync.MAX_AGE + timedelta(seconds=1)))
    assert not remembered(apply(folder, now=NOW - timedelta(seconds=1))), "a clock set back"


def test_a_one_off_moment_passing_ends_the_memo(folder: Path) -> None:
    write_schedules(folder, interval_tasks(2) + ONE_OFF)
    apply(folder)
    assert remembered(apply(folder, now=NOW + timedelta(minutes=59)))
    passed = apply(folder, now=NOW + timedelta(minutes=61))
    assert not remembered(passed)


def test_an_unreadable_memo_is_a_miss(folder: Path) -> None:
    apply(folder)
    memo_of(folder).write_text("{not json")
    assert not remembered(apply(folder))
    assert remembered(apply(folder))


def test_a_change_between_the_read_and_the_write_leaves_no_memo(
    folder: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A change the plan did not see (committed after the apply read its rows, before it
    wrote) would hide behind the marker the apply then moves: that apply keeps no memo, and
    the next one is a full apply, which reverts the change."""
    from reconciler.engine import apply as engine_apply

    apply(folder)
    real = engine_apply.read_planned

    def read_then_someone_edits(*args: Any, **kwargs: Any) -> Any:
        actual = real(*args, **kwargs)
        PeriodicTask.objects.filter(name="t-00004").update(queue="elsewhere")  # moves the marker (triggers)
        return actual

    monkeypatch.setattr(engine_apply, "read_planned", read_then_someone_edits)
    another_file(folder)  # a create: the row edited is not written over
    assert apply(folder).result.written  # type: ignore[union-attr]
    monkeypatch.undo()
    following = apply(folder)
    assert not remembered(following) and following.result is not None and following.result.written
    assert PeriodicTask.objects.get(name="t-00004").queue is None


def test_after_a_write_the_memo_says_what_a_full_apply_would(folder: Path) -> None:
    """After a write the memo predicts the next plan (every declared task unchanged) only when
    the plan written was nothing but writes: a suspended row shows in every plan."""
    apply(folder)
    suspend("t-00001", "incident 7", by="alice")
    edited_file(folder)
    written = apply(folder)
    assert written.result is not None and written.result.written
    following = apply(folder)
    full = apply_paths([folder], options=ApplyOptions(now=NOW), registry=registry(), use_cache=False)
    assert shown(following) == shown(full)
    assert "suspended" in shown(full)[0]
