"""The memoised plan behind the API's list and the admin's lists (``pipeline.current_plan``,
issue 17): a second request with nothing changed does not plan again, and every kind of change
between two requests shows in the second — the files, an apply, an admin save, a suspension, a
run recorded by beat, a raw SQL edit. Real database, real
applies, django-celery-beat's own ``ModelEntry`` for the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry
from rest_framework.test import APIClient

from reconciler import pipeline
from reconciler.operate import resume, suspend
from tests.admin.test_observe import names, staff
from tests.support.api import ALL_PERMISSIONS, token_client, user_with
from tests.support.engine import apply_yaml, write_schedules

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]

TWO = """\
tasks:
  alpha:
    task: project.tasks.heartbeat
    every: 60
  beta:
    task: project.tasks.heartbeat
    every: 120
"""
THREE = TWO + """\
  gamma:
    task: project.tasks.heartbeat
    every: 180
"""


@pytest.fixture
def folder(tmp_path: Path, settings) -> Path:  # type: ignore[no-untyped-def]
    settings.RECONCILER_SCHEDULES_DIR = str(tmp_path)
    settings.RECONCILER_PLAN_MEMO_SECONDS = 3600  # only the key may end the memo here
    apply_yaml(tmp_path, TWO, now=timezone.now())
    return tmp_path


@pytest.fixture
def api() -> APIClient:
    return token_client(user_with(*ALL_PERMISSIONS, username="ops"))


@pytest.fixture
def plans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per plan actually made by ``current_plan``."""
    made: list[int] = []
    real = pipeline.plan_paths
    monkeypatch.setattr(pipeline, "plan_paths", lambda *a, **k: made.append(1) or real(*a, **k))
    return made


def rows(api: APIClient) -> dict[str, dict[str, Any]]:
    response = api.get("/api/schedules/")
    assert response.status_code == 200, response.content
    return {row["name"]: row for row in response.json()["results"]}


def test_nothing_changed_nothing_planned_again(folder: Path, api: APIClient, plans: list[int]) -> None:
    first = rows(api)
    assert rows(api) == first and api.get("/api/schedules/alpha/").status_code == 200
    assert len(plans) == 1, "the second and third requests reuse the plan"


def test_an_edited_file_shows_at_once(folder: Path, api: APIClient, plans: list[int]) -> None:
    assert set(rows(api)) == {"alpha", "beta"}
    write_schedules(folder, THREE)
    assert rows(api)["gamma"]["state"] == "pending"
    assert len(plans) == 2


def test_a_removed_file_shows_at_once(folder: Path, api: APIClient) -> None:
    (folder / "more.yaml").write_text("tasks:\n  delta:\n    task: project.tasks.heartbeat\n    every: 30\n")
    assert rows(api)["delta"]["state"] == "pending"
    (folder / "more.yaml").unlink()
    assert "delta" not in rows(api)


def test_an_apply_shows_at_once(folder: Path, api: APIClient) -> None:
    write_schedules(folder, THREE)
    assert rows(api)["gamma"]["state"] == "pending"
    apply_yaml(folder, now=timezone.now())
    assert rows(api)["gamma"]["state"] == "in-sync"


def test_a_save_outside_git_shows_at_once(folder: Path, api: APIClient) -> None:
    """What the admin's change form does: the model's save (django-celery-beat's signal)."""
    assert rows(api)["alpha"]["state"] == "in-sync"
    task = PeriodicTask.objects.get(name="alpha")
    task.description = "edited in the admin"
    task.save()
    assert rows(api)["alpha"]["state"] == "drifted"


def test_a_suspension_and_a_resume_show_at_once(folder: Path, api: APIClient) -> None:
    assert rows(api)["beta"]["state"] == "in-sync"
    suspend("beta", "incident 7", by="alice")
    row = rows(api)["beta"]
    assert row["state"] == "suspended" and row["suspended"]["reason"] == "incident 7"
    resume("beta", by="alice")
    assert rows(api)["beta"]["state"] == "in-sync"


def test_a_run_recorded_by_beat_shows_at_once(folder: Path, api: APIClient, plans: list[int]) -> None:
    """Beat's bookkeeping (``last_run_at``, ``total_run_count``) moves no change marker, and
    does not end the memo (a busy beat would end it at every request): the page reads its
    rows' bookkeeping itself."""
    assert (rows(api)["alpha"]["last_run_at"], rows(api)["alpha"]["total_run_count"]) == (None, 0)
    entry = ModelEntry(PeriodicTask.objects.get(name="alpha"))
    next(entry).save()  # what beat does when it sends the task, then syncs
    row = rows(api)["alpha"]
    assert row["last_run_at"] is not None and row["total_run_count"] == 1
    detail = api.get("/api/schedules/alpha/").json()
    assert (detail["last_run_at"], detail["total_run_count"]) == (row["last_run_at"], 1)
    assert len(plans) == 1, "the plan was kept"


def test_a_raw_sql_edit_shows_at_once(folder: Path, api: APIClient) -> None:
    """No Django signal: the triggers move beat's change marker (migration 0008 on PostgreSQL,
    0012 on SQLite), which ends the memo at once."""
    assert rows(api)["beta"]["state"] == "in-sync"
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {PeriodicTask._meta.db_table} SET queue = 'elsewhere' WHERE name = 'beta'")
    assert rows(api)["beta"]["state"] == "drifted"


def test_the_admin_list_follows_a_suspension(folder: Path) -> None:
    viewer: Client = staff("view_periodictask")
    changelist = "/admin/django_celery_beat/periodictask/?status=suspended"
    assert names(viewer.get(changelist).content.decode()) == set()
    suspend("alpha", "incident 8", by="alice")
    assert names(viewer.get(changelist).content.decode()) == {"alpha"}


def test_zero_seconds_turns_the_memo_off(folder: Path, api: APIClient, plans: list[int], settings) -> None:  # type: ignore[no-untyped-def]
    settings.RECONCILER_PLAN_MEMO_SECONDS = 0
    rows(api)
    rows(api)
    assert len(plans) == 2
