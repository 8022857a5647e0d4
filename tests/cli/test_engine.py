"""plan/apply/export as processes on a file database: exit codes, formats, messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import manage
from tests.support.processes import process_database

TASK = "tasks:\n  beat-{n}:\n    task: project.tasks.heartbeat\n    every: {every}\n"


@pytest.fixture
def env(tmp_path: Path):  # type: ignore[no-untyped-def]
    with process_database(tmp_path, migrated=True) as url:
        yield {"DATABASE_URL": url}


def write(folder: Path, every: int = 30) -> str:
    folder.mkdir(exist_ok=True)
    (folder / "s.yaml").write_text(TASK.format(n=1, every=every))
    return str(folder)


@pytest.mark.db_backend
def test_plan_apply_plan(tmp_path: Path, env: dict[str, str]) -> None:
    folder = write(tmp_path / "s")
    plan = manage("reconcile", "plan", "--path", folder, "--detailed-exitcode", env=env)
    assert plan.returncode == 2 and "Plan: 1 to create, 0 to update, 0 to delete." in plan.stdout
    applied = manage("reconcile", "apply", "--path", folder, env=env)
    assert applied.returncode == 0, applied.stderr
    assert "Apply complete: 1 created, 0 updated, 0 deleted, 0 unchanged" in applied.stdout
    again = manage("reconcile", "plan", "--path", folder, "--detailed-exitcode", env=env)
    assert again.returncode == 0 and "No changes." in again.stdout
    noop = manage("reconcile", "apply", "--path", folder, env=env)
    assert "nothing to do, nothing written" in noop.stdout


def loads_pydantic(done: object) -> bool:
    """Whether the process imported pydantic (``PYTHONPROFILEIMPORTTIME`` lists each import on stderr)."""
    return any(line.rsplit("|", 1)[-1].strip() == "pydantic" for line in str(getattr(done, "stderr", "")).splitlines())


@pytest.mark.db_backend
def test_a_noop_apply_and_a_validate_of_nothing_never_load_the_schedule_language(
    tmp_path: Path, env: dict[str, str],
) -> None:
    """The language's models (pydantic, ~0.12 s of a start-up) load when a file is validated: a
    no-op apply (the in-sync memo answers it) and a folder with no file validate none."""
    folder, empty = write(tmp_path / "s"), tmp_path / "empty"
    empty.mkdir()
    timed = {**env, "PYTHONPROFILEIMPORTTIME": "1"}
    first = manage("reconcile", "apply", "--path", folder, env=timed)
    assert first.returncode == 0 and "1 created" in first.stdout, first.stdout
    assert loads_pydantic(first)  # a file validated: the language is loaded (what the checks below would see)

    noop = manage("reconcile", "apply", "--path", folder, env=timed)
    assert "nothing to do, nothing written" in noop.stdout, noop.stdout
    nothing = manage("reconcile", "validate", "--path", str(empty), env=timed)
    assert nothing.returncode == 0, nothing.stderr[-2000:]
    assert not loads_pydantic(noop)
    assert not loads_pydantic(nothing)


@pytest.mark.db_backend
def test_plan_json_contract(tmp_path: Path, env: dict[str, str]) -> None:
    folder = write(tmp_path / "s")
    manage("reconcile", "apply", "--path", folder, env=env)
    write(tmp_path / "s", every=45)
    payload = json.loads(manage("reconcile", "plan", "--path", folder, "--format", "json", env=env).stdout)
    assert payload["summary"]["update"] == 1 and payload["summary"]["unchanged"] == 0
    [change] = payload["changes"]
    assert change["action"] == "update" and change["name"] == "beat-1"
    assert change["fields"] == {
        "schedule": {"old": {"kind": "interval", "every": 30}, "new": {"kind": "interval", "every": 45}}
    }
    assert change["source"]["line"] == 2


@pytest.mark.db_backend
def test_invalid_files_exit_1_and_apply_nothing(tmp_path: Path, env: dict[str, str]) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "s.yaml").write_text("tasks:\n  x:\n    task: project.tasks.heartbeat\n    every: soon\n")
    result = manage("reconcile", "apply", "--path", str(folder), env=env)
    assert result.returncode == 1 and "error[bad-duration]" in result.stdout and "Nothing was applied" in result.stdout


def test_unreachable_database_is_a_clear_error() -> None:
    result = manage("reconcile", "plan", env={"DATABASE_URL": "postgres://nobody@127.0.0.1:1/nowhere"})
    assert result.returncode == 1
    assert "the database is unreachable" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.db_backend
def test_conflict_exit_1_with_the_names(tmp_path: Path, env: dict[str, str]) -> None:
    folder = write(tmp_path / "s")
    code = (
        "from django_celery_beat.models import *; "
        "PeriodicTask.objects.create(name='beat-1', task='x', "
        "interval=IntervalSchedule.objects.create(every=9, period='seconds'))"
    )
    assert manage("shell", "-c", code, env=env).returncode == 0
    plan = manage("reconcile", "plan", "--path", folder, env=env)
    assert plan.returncode == 1 and "! beat-1 [conflict]" in plan.stdout
    apply = manage("reconcile", "apply", "--path", folder, env=env)
    assert apply.returncode == 1 and "beat-1" in apply.stderr and "--adopt" in apply.stderr
    assert "! beat-1 [conflict]" in apply.stdout  # the refused plan is shown
    assert manage("reconcile", "apply", "--path", folder, "--adopt", env=env).returncode == 0


def test_an_unmigrated_database_says_to_migrate(tmp_path: Path) -> None:
    result = manage("reconcile", "plan", env={"DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"})
    assert result.returncode == 1 and "manage.py migrate" in result.stderr and "Traceback" not in result.stderr
