"""Suspend and resume through real applies and plans, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from reconciler.core.errors import OperationRefused, UnknownName
from reconciler.core.plan import Action
from reconciler.engine.read import read_one
from reconciler.models import ManagedTask, OperationRecord
from reconciler.operate import resume, suspend
from tests.support.engine import NOW, apply_yaml, plan_yaml, registry, write_schedules

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.db_backend]

YAML = """tasks:
  sync:
    task: project.tasks.sync_inventory
    every: 15m
    args: [main]
    expires: 10m
  beat:
    task: project.tasks.heartbeat
    every: 30s
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    apply_yaml(tmp_path, YAML)
    return tmp_path


def row(name: str = "sync") -> PeriodicTask:
    return PeriodicTask.objects.get(name=name)


def test_suspend_disables_and_plan_shows_suspended_not_a_change(folder: Path) -> None:
    suspension = suspend("sync", "incident 42", by="alice", now=NOW)
    assert not row().enabled
    owned = ManagedTask.objects.get(periodic_task__name="sync")
    assert (owned.suspended_by, owned.suspend_reason, owned.suspended_at) == ("alice", "incident 42", NOW)
    plan = plan_yaml(folder)
    assert [(c.action, c.name) for c in plan.changes] == [(Action.SUSPENDED, "sync")]
    assert not plan.has_changes and plan.summary()["drift"] == 0
    assert suspension.describe() in plan.changes[0].reasons[0].words
    assert list(OperationRecord.objects.values_list("action", "name", "user", "reason")) == [
        ("suspend", "sync", "alice", "incident 42")
    ]


def test_apply_never_reenables_and_writes_git_changes_disabled(folder: Path) -> None:
    suspend("sync", "incident 42", now=NOW)
    assert apply_yaml(folder).result.written is False  # type: ignore[union-attr]
    assert not row().enabled
    apply_yaml(folder, YAML.replace("args: [main]", "args: [north]"))
    assert (row().args, row().enabled) == ('["north"]', False)
    assert plan_yaml(folder).summary()["suspended"] == 1


def test_re_enabled_in_the_admin_is_disabled_again_by_apply(folder: Path) -> None:
    suspend("sync", "incident 42", now=NOW)
    PeriodicTask.objects.filter(name="sync").update(enabled=True)
    [change] = plan_yaml(folder).changes
    assert change.action is Action.UPDATE and any(r.words.startswith("drift") for r in change.reasons)
    apply_yaml(folder)
    assert not row().enabled


def test_resume_returns_the_row_to_git_at_once(folder: Path) -> None:
    suspend("sync", "incident 42", now=NOW)
    write_schedules(folder, YAML.replace("every: 15m", "every: 20m"))
    result = resume("sync", by="bob", paths=[folder], registry=registry(), now=NOW)
    assert result.declared and [c.action for c in result.plan.changes] == [Action.UPDATE]
    assert row().enabled and row().interval.every == 1200  # type: ignore[union-attr]
    assert plan_yaml(folder).changes == ()  # the whole plan is empty: equal to git, no drift
    actual = read_one("sync")
    assert actual is not None and actual.owned is not None and actual.owned.suspension is None
    logged = OperationRecord.objects.first()
    assert logged is not None and (logged.action, logged.user) == ("resume", "bob")
    assert logged.plan["changes"][0]["fields"]["schedule"]["new"] == {"kind": "interval", "every": 1200}


def test_suspended_and_deleted_from_git_is_deleted(folder: Path) -> None:
    suspend("sync", "incident 42", now=NOW)
    apply_yaml(folder, YAML.split("  beat:")[0])
    assert not PeriodicTask.objects.filter(name="beat").exists()  # beat was the one removed
    apply_yaml(folder, "tasks:\n  beat:\n    task: project.tasks.heartbeat\n    every: 30s\n")
    assert not PeriodicTask.objects.filter(name="sync").exists()


@pytest.mark.parametrize(
    ("case", "call", "error", "text"),
    [
        ("unknown", lambda: suspend("nope", "x"), UnknownName, "no schedule named 'nope'"),
        ("no-reason", lambda: suspend("sync", "  "), OperationRefused, "a reason is required"),
        ("newline-in-reason", lambda: suspend("sync", "x\n  + evil-task (project.tasks.heartbeat)"),
         OperationRefused, r"control character \('\\n' at position 2\).*nothing was suspended"),
        ("escape-in-reason", lambda: suspend("sync", "ok \x1b[2K"), OperationRefused, "control character"),
        ("bidi-override-in-reason", lambda: suspend("sync", "ok \u202e"), OperationRefused, "control character"),
        ("twice", lambda: (suspend("sync", "a"), suspend("sync", "b")), OperationRefused, "already suspended"),
        ("not-suspended", lambda: resume("sync", registry=registry()), OperationRefused, "is not suspended"),
        ("unmanaged", lambda: suspend("made-in-admin", "x"), OperationRefused, "not managed by the reconciler"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_refusals(folder: Path, settings, case, call, error, text) -> None:  # type: ignore[no-untyped-def]
    settings.RECONCILER_SCHEDULES_DIR = str(folder)
    PeriodicTask.objects.create(name="made-in-admin", task="x", interval=row().interval)
    with pytest.raises(error, match=text):
        call()


def test_a_refused_reason_suspends_nothing(folder: Path) -> None:
    with pytest.raises(OperationRefused):
        suspend("sync", "incident\n42", now=NOW)
    assert row().enabled and read_one("sync").owned.suspension is None  # type: ignore[union-attr]


def test_resume_refused_while_git_is_invalid(folder: Path) -> None:
    suspend("sync", "incident 42", now=NOW)
    write_schedules(folder, "tasks:\n  sync:\n    task: project.tasks.sync_inventory\n    every: soon\n")
    with pytest.raises(OperationRefused, match="does not validate"):
        resume("sync", paths=[folder], registry=registry())
    assert not row().enabled and read_one("sync").owned.suspension is not None  # type: ignore[union-attr]


def test_resume_refused_while_its_declaration_is_ambiguous(folder: Path) -> None:
    suspend("sync", "incident 42", now=NOW)
    (folder / "other.yaml").write_text("tasks:\n  sync:\n    task: project.tasks.heartbeat\n    every: 1m\n")
    with pytest.raises(OperationRefused, match="does not validate"):
        resume("sync", paths=[folder], registry=registry())


def reconcile(*args: str) -> tuple[int, str, str]:
    """``manage.py reconcile …`` in process (the subcommand modules and the exit-code mapping)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("reconcile", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_cli_suspend_and_resume(folder: Path, settings) -> None:  # type: ignore[no-untyped-def]
    settings.RECONCILER_SCHEDULES_DIR = str(folder)
    code, out, _ = reconcile("suspend", "sync", "--reason", "incident 42")
    assert code == 0 and "sync: suspended by " in out and "incident 42" in out
    code, out, _ = reconcile("plan")
    assert "‖ sync [suspended]" in out and "(1 suspended)" in out
    code, _, err = reconcile("suspend", "sync", "--reason", "x")
    assert code == 1 and "already suspended" in err
    code, out, _ = reconcile("resume", "sync")
    assert code == 0 and "enabled: false → true" in out and "resumed" in out
    assert "1 task unchanged." in out and "0 tasks unchanged" not in out  # beat: the real count
    assert row().enabled
