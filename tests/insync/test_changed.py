"""An apply after a few files changed (``reconciler.insync.changed``, issue 21): only the changed
files are validated and only their rows read, and the outcome is the full apply's: the same
plan (text and JSON), the same rows, ownership and history record, and afterwards a full apply
finds nothing to do. Where the shortcut could differ (an error, a name another file declares, a
rename, the database moved), the full apply runs. Real database, real applies, the project's
Celery registry; each case's full apply runs first in a savepoint that is rolled back."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from reconciler.core.errors import RefusedApply
from reconciler.engine.apply import ApplyOptions
from reconciler.models import ApplyRecord, ManagedTask
from reconciler.pipeline import ApplyPathsResult, apply_paths
from reconciler.render.plan import render_text
from tests.support.engine import NOW, interval_tasks, memo_of, registry

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]

FILES = 24  # two changed files of 24: under insync.CHANGED_SHARE
PER_FILE = 3


def team(index: int, count: int = PER_FILE, every: int = 60) -> str:
    return interval_tasks(count, every=every, prefix=f"team{index:02d}")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "schedules"
    root.mkdir()
    for index in range(FILES):
        (root / f"team{index:02d}.yaml").write_text(team(index))
    return root


def apply(folder: Path, *, use_cache: bool = True, **options: Any) -> ApplyPathsResult:
    options.setdefault("now", NOW)
    return apply_paths([folder], options=ApplyOptions(**options), registry=registry(), use_cache=use_cache)


def state() -> dict[str, Any]:
    """The rows, their schedules and ownership, and the newest history record, by name (ids
    differ between a run and its rolled-back twin on PostgreSQL, whose sequences go on, and
    so do the row digests, which hash them)."""
    tasks = {
        task.name: (task.task, task.args, task.kwargs, task.enabled, task.description, task.queue, task.one_off,
                    str(task.interval or task.crontab or task.solar or task.clocked), task.date_changed)
        for task in PeriodicTask.objects.select_related("interval", "crontab", "solar", "clocked")
    }
    owned = {
        row["periodic_task__name"]: {k: v for k, v in row.items() if k not in ("id", "periodic_task_id", "row_digest")}
        for row in ManagedTask.objects.values("periodic_task__name", *[
            f.attname for f in ManagedTask._meta.concrete_fields])
    }
    record = ApplyRecord.objects.order_by("-pk").values(
        "outcome", "created", "updated", "deleted", "unchanged", "message", "plan", "revision").first()
    return {"tasks": tasks, "owned": owned, "record": record}


def outcome_of(result: ApplyPathsResult) -> tuple[Any, ...]:
    if result.result is None:
        assert result.validation is not None
        return ("invalid", tuple(str(d) for d in result.validation.diagnostics))
    plan = result.result.plan
    return (result.result.written, plan.to_json(), render_text(plan))


def attempt(folder: Path, **options: Any) -> tuple[tuple[Any, ...], ApplyPathsResult | None]:
    """An apply's outcome (a refusal's message and plan too), and its result when it has one."""
    try:
        result = apply(folder, **options)
    except RefusedApply as refused:
        return ("refused", str(refused), refused.plan.to_json()), None  # type: ignore[attr-defined]
    return outcome_of(result), result


def full_then_changed(
    folder: Path, **options: Any,
) -> tuple[tuple[Any, ...], dict[str, Any], ApplyPathsResult, dict[str, Any]]:
    """The full apply's outcome and state (rolled back), then the cached apply's result and state."""
    savepoint = transaction.savepoint()
    expected = (attempt(folder, use_cache=False, **options)[0], state())
    transaction.savepoint_rollback(savepoint)
    changed = apply(folder, **options)
    return expected[0], expected[1], changed, state()


def edit(index: int, text: str) -> Callable[[Path], None]:
    return lambda folder: (folder / f"team{index:02d}.yaml").write_text(text)


def remove(index: int) -> Callable[[Path], None]:
    return lambda folder: (folder / f"team{index:02d}.yaml").unlink()


def moved(folder: Path, index: int, task: int) -> None:
    """The last task of a file moves, unchanged, to a new file."""
    edit(index, team(index, count=task))(folder)
    block = team(index, count=task + 1).split(f"  team{index:02d}-{task:05d}:")[1]
    (folder / "moved.yaml").write_text(f"tasks:\n  team{index:02d}-{task:05d}:{block}")


SHORTCUT: dict[str, Callable[[Path], None]] = {
    "a field changed": edit(3, team(3, every=90)),
    "a task added": edit(3, team(3, count=PER_FILE + 1)),
    "a task removed": edit(3, team(3, count=PER_FILE - 1)),
    "a file emptied": edit(3, "tasks: {}\n"),
    "a file removed": remove(3),
    "a file added": lambda folder: (folder / "team99.yaml").write_text(team(99)),
    "a task moved to a new file": lambda folder: moved(folder, 3, 2),
}


@pytest.mark.parametrize("change", SHORTCUT.values(), ids=list(SHORTCUT))
def test_after_a_few_files_changed_the_changed_files_alone_give_the_full_apply(
    folder: Path, change: Callable[[Path], None],
) -> None:
    first = apply(folder)
    assert first.result is not None and first.result.written
    change(folder)
    expected, expected_state, changed, changed_state = full_then_changed(folder)
    assert changed.validation is not None and changed.validation.checked <= PER_FILE + 1, "only the changed files"
    assert outcome_of(changed) == expected
    assert changed_state == expected_state
    again = apply(folder, use_cache=False)
    assert again.result is not None and not again.result.written, "the database is in sync"
    assert apply(folder).result.remembered  # type: ignore[union-attr]


FULL: dict[str, Callable[[Path], None]] = {
    "an error in the changed file": edit(3, team(3) + "  broken:\n    task: project.tasks.nope\n    every: 5\n"),
    "a name another file declares": edit(3, team(3) + team(4).removeprefix("tasks:\n")),
    "a rename": edit(3, team(3).replace("  team03-00000:\n", "  team03-renamed:\n    renamed_from: team03-00000\n")),
    "a change in the database too": lambda folder: (
        edit(3, team(3, every=90))(folder),
        PeriodicTask.objects.filter(name="team05-00001").update(description="edited in the admin"),
    ),
}


@pytest.mark.parametrize("change", FULL.values(), ids=list(FULL))
def test_where_the_shortcut_could_differ_the_full_apply_runs(folder: Path, change: Callable[[Path], None]) -> None:
    apply(folder)
    change(folder)
    expected, expected_state, changed, changed_state = full_then_changed(folder)
    assert changed.validation is not None and changed.validation.checked == expected_checked(folder)
    assert outcome_of(changed) == expected
    assert changed_state == expected_state


def expected_checked(folder: Path) -> int:
    """Entries a full validation reads: every task of every file."""
    return sum(text.count("\n    task:") for text in (path.read_text() for path in folder.glob("*.yaml")))


def test_too_many_files_changed_is_the_full_apply(folder: Path) -> None:
    apply(folder)
    for index in (1, 2, 4):
        edit(index, team(index, every=90))(folder)
    changed = apply(folder)
    assert changed.validation is not None and changed.validation.checked == FILES * PER_FILE


def test_emptying_the_changed_files_is_not_an_empty_apply(folder: Path) -> None:
    """``allow_empty`` guards an apply that would delete everything; the other files still declare."""
    apply(folder)
    edit(0, "tasks: {}\n")(folder)
    changed = apply(folder)
    assert changed.result is not None and changed.result.plan.summary()["delete"] == PER_FILE


def test_a_change_between_the_memo_and_the_lock_is_the_full_apply(
    folder: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The memo vouched for the rest before the apply took its lock: a change committed in
    between is seen under the lock, nothing is written on the memo's word, the full apply runs."""
    from reconciler import insync

    apply(folder)
    real = insync.recall_changed

    def recalled_then_someone_edits(*args: Any, **kwargs: Any) -> Any:
        answer = real(*args, **kwargs)
        assert answer is not None, "the memo vouched for the rest"
        PeriodicTask.objects.filter(name="team05-00001").update(description="edited in the admin")
        return answer

    monkeypatch.setattr(insync, "recall_changed", recalled_then_someone_edits)
    edit(3, team(3, every=90))(folder)
    changed = apply(folder)
    assert changed.validation is not None and changed.validation.checked == FILES * PER_FILE
    assert changed.result is not None and changed.result.plan.summary()["update"] == PER_FILE + 1
    assert PeriodicTask.objects.get(name="team05-00001").description == ""


def test_a_memo_whose_names_are_not_lists_of_names_is_the_full_apply(folder: Path) -> None:
    import json

    apply(folder)
    memo = memo_of(folder)
    stored = json.loads(memo.read_text())
    stored["names"] = {file: ",".join(names) for file, names in stored["names"].items()}
    memo.write_text(json.dumps(stored))
    edit(3, team(3, every=90))(folder)
    changed = apply(folder)
    assert changed.validation is not None and changed.validation.checked == FILES * PER_FILE


@pytest.mark.parametrize("adopt", [False, True], ids=["refused", "adopted"])
def test_a_name_a_row_made_outside_git_holds_is_refused_or_adopted_as_by_the_full_apply(
    folder: Path, adopt: bool,
) -> None:
    """Rows no source owns are not vouched for by the memo: a changed file's new name is looked
    for among them, as the full apply does."""
    every = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="team03-00009", task="project.tasks.heartbeat", interval=every)
    apply(folder, adopt=adopt)
    edit(3, team(3) + "  team03-00009:\n    task: project.tasks.heartbeat\n    every: 5\n")(folder)
    savepoint = transaction.savepoint()
    expected = (attempt(folder, use_cache=False, adopt=adopt)[0], state())
    transaction.savepoint_rollback(savepoint)
    changed, result = attempt(folder, adopt=adopt)
    assert (changed, state()) == expected
    assert changed[0] == ("refused" if not adopt else True), changed
    if result is not None:
        assert result.validation is not None and result.validation.checked == PER_FILE + 1, "only the changed file"
