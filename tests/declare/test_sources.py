"""Schedules sources through the real command: a partial apply never prunes what another file of
its source declares, and one source name never stands for two folders (SQLite and PostgreSQL)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import manage
from tests.support.processes import process_database

pytestmark = [pytest.mark.db_backend]

MOVED = "  moved:\n    task: project.tasks.heartbeat\n    every: 60\n"
A = f"tasks:\n{MOVED}  stays:\n    task: project.tasks.heartbeat\n    every: 90\n"
B = "tasks:\n  other:\n    task: project.tasks.heartbeat\n    every: 120\n"


@pytest.fixture
def database(tmp_path: Path):  # type: ignore[no-untyped-def]
    with process_database(tmp_path) as url:
        env = {"DATABASE_URL": url}
        assert manage("migrate", "--no-input", "-v", "0", env=env).returncode == 0
        yield env


def run(*args: str, env: dict[str, str]) -> dict:  # type: ignore[type-arg]
    done = manage("reconcile", *args, "--format", "json", env=env)
    assert "Traceback" not in done.stderr, done.stderr
    payload = json.loads(done.stdout)
    payload["exit"] = done.returncode
    return payload


def actions(payload: dict) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(c["action"], c["name"]) for c in payload["changes"]]


def test_a_declaration_moved_to_another_file_survives_an_apply_of_its_old_file(
    tmp_path: Path, database: dict[str, str],
) -> None:
    folder = tmp_path / "schedules"
    folder.mkdir()
    (folder / "a.yaml").write_text(A)
    (folder / "b.yaml").write_text(B)
    env = {**database, "RECONCILER_SCHEDULES_DIR": str(folder)}
    assert run("apply", env=env)["summary"]["create"] == 3
    (folder / "a.yaml").write_text(A.replace(MOVED, ""))  # moved, unchanged, to b.yaml
    (folder / "b.yaml").write_text(B + MOVED)
    assert run("apply", env=env)["applied"] is False  # nothing to do: ownership still says a.yaml
    scoped = run("apply", "--path", str(folder / "a.yaml"), env=env)
    assert scoped["exit"] == 0 and scoped["summary"]["delete"] == 0, scoped
    assert run("plan", env=env)["changes"] == []  # the row is still there, with its id: no create
    # a partial apply that cannot read the rest of its source prunes nothing, and says why
    (folder / "a.yaml").write_text("tasks: {}\n")
    (folder / "c.yaml").write_text("tasks:\n  broken:\n    task: project.tasks.heartbeat\n    every: soon\n")
    blind = run("apply", "--path", str(folder / "a.yaml"), "--allow-empty", env=env)
    assert actions(blind) == [("retain", "moved"), ("retain", "stays")], blind  # "moved": unknown now
    assert all("the rest of its source has errors" in c["reasons"][1] for c in blind["changes"])
    (folder / "c.yaml").unlink()
    assert actions(run("apply", "--path", str(folder / "a.yaml"), "--allow-empty", env=env)) == [("delete", "stays")]


def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "elsewhere" / "schedules"  # outside BASE_DIR: its fallback name is "schedules" too
    folder.mkdir(parents=True)
    (folder / "s.yaml").write_text(B)
    return folder


def test_a_folder_outside_base_dir_cannot_take_the_configured_folders_name(
    tmp_path: Path, database: dict[str, str],
) -> None:
    applied = run("apply", env=database)  # the project's own schedules/
    assert applied["exit"] == 0 and applied["source"]["name"] == "schedules"
    created = applied["summary"]["create"]
    folder = outside(tmp_path)
    for command in ("plan", "apply"):
        refused = run(command, "--path", str(folder), env=database)
        assert refused["exit"] == 1 and refused["error"]["kind"] == "refused", refused
        message = refused["error"]["message"]
        assert "'schedules' already stands for the folder schedules/ of the project 'project'" in message
        assert f"this run is from the folder {folder.resolve()}. Nothing was changed" in message
        assert "set RECONCILER_SOURCE_NAME to a name of its own in each project" in message
    again = run("plan", env=database)
    assert again["changes"] == [] and again["summary"]["unchanged"] == created  # nothing was deleted


def test_the_configured_folder_cannot_take_the_name_of_a_folder_applied_from_elsewhere(
    tmp_path: Path, database: dict[str, str],
) -> None:
    folder = outside(tmp_path)
    assert run("apply", "--path", str(folder), env=database)["summary"]["create"] == 1
    refused = manage("reconcile", "apply", env=database)  # a deploy step, or beat's start-up
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"'schedules' already stands for the folder {folder.resolve()}" in refused.stderr
    assert run("plan", "--path", str(folder), env=database)["changes"] == []  # its row is still there


def test_an_explicit_name_may_move_a_fallback_name_may_not(tmp_path: Path, database: dict[str, str]) -> None:
    releases = [tmp_path / "releases" / str(n) / "schedules" for n in (41, 42)]
    for folder in releases:
        folder.mkdir(parents=True)
        (folder / "s.yaml").write_text(B)
    first, second = ({**database, "RECONCILER_SCHEDULES_DIR": str(folder)} for folder in releases)
    assert run("apply", env=first)["summary"]["create"] == 1
    moved = run("apply", env=second)
    assert moved["exit"] == 1 and "RECONCILER_SOURCE_NAME" in moved["error"]["message"]
    named = run("apply", env={**second, "RECONCILER_SOURCE_NAME": "schedules"})  # the remedy: name it
    assert named["exit"] == 0 and named["changes"] == [] and named["summary"]["unchanged"] == 1
    (releases[0] / "s.yaml").write_text(A)
    assert run("apply", env={**first, "RECONCILER_SOURCE_NAME": "schedules"})["exit"] == 0  # named: any folder
    assert run("apply", env=first)["exit"] == 1  # but the fallback name no longer stands for it



@pytest.mark.django_db
def test_beat_start_up_is_refused_not_pruning_another_folders_rows(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    """What beat's start-up and the watcher call: a refusal is said, the rows stay."""
    from django_celery_beat.models import PeriodicTask

    from reconciler.pipeline import apply_options_from_settings, reconcile_once

    elsewhere = outside(tmp_path)
    said: list[str] = []
    reconcile_once([elsewhere], apply_options_from_settings(), said.append)
    assert said[-1].startswith("applied: +1 ~0 -0")
    mine = tmp_path / "mine" / "schedules"
    mine.mkdir(parents=True)
    (mine / "s.yaml").write_text(A)
    settings.RECONCILER_SCHEDULES_DIR = str(mine)  # beat's own folder: named "schedules" too
    reconcile_once([mine], apply_options_from_settings(), said.append)
    refusal = f"refused: the schedules source name 'schedules' already stands for the folder {elsewhere}"
    assert said[-1].startswith(refusal)
    assert list(PeriodicTask.objects.values_list("name", flat=True)) == ["other"]
