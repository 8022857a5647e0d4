"""The REST API over the real pipeline, database and (for run-now) Redis broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from rest_framework.test import APIClient

from .engine import apply_yaml, write_schedules

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]

YAML = """tasks:
  digest:
    task: project.tasks.send_digest
    cron: "30 7 * * mon-fri"
    args: [staff]
  beat:
    task: project.tasks.heartbeat
    every: 30s
    kwargs: {label: api}
    queue: api-test
"""


@pytest.fixture
def client() -> APIClient:
    api = APIClient()
    api.force_authenticate(User.objects.create(username="ops", is_staff=True))
    return api


@pytest.fixture
def folder(tmp_path: Path, settings) -> Path:  # type: ignore[no-untyped-def]
    settings.RECONCILER_SCHEDULES_DIR = str(tmp_path)
    write_schedules(tmp_path, YAML)
    return tmp_path


def test_staff_only(folder: Path) -> None:
    anonymous = APIClient()
    assert anonymous.get("/api/plan/").status_code in (401, 403)
    user = APIClient()
    user.force_authenticate(User.objects.create(username="not-staff"))
    assert user.get("/api/plan/").status_code == 403


def test_catalogue_lists_registered_tasks_with_signatures_and_uses(client: APIClient, folder: Path) -> None:
    tasks = {t["name"]: t for t in client.get("/api/tasks/").json()["tasks"]}
    assert tasks["project.tasks.send_digest"]["signature"].startswith("(audience: 'str'")
    assert tasks["project.tasks.send_digest"]["schedules"] == ["digest"]
    assert tasks["project.tasks.cleanup_sessions"]["schedules"] == []


def test_plan_then_status_after_apply_and_drift(client: APIClient, folder: Path) -> None:
    plan = client.get("/api/plan/").json()
    assert plan["summary"]["create"] == 2
    apply_yaml(folder)
    PeriodicTask.objects.create(
        name="made-in-admin", task="x", interval=IntervalSchedule.objects.create(every=5, period="minutes")
    )
    PeriodicTask.objects.filter(name="digest").update(enabled=False)
    rows = {r["name"]: r for r in client.get("/api/schedules/").json()["schedules"]}
    assert (rows["beat"]["state"], rows["beat"]["managed"]) == ("in-sync", True)
    assert rows["beat"]["next_run_at"] is not None and rows["beat"]["source"].endswith("s.yaml:6")
    assert rows["digest"]["state"] == "drifted" and rows["digest"]["next_run_at"] is None
    assert rows["made-in-admin"]["state"] == "unmanaged"


def test_validate_posted_files(client: APIClient, folder: Path) -> None:
    good = client.post("/api/validate/", {}, format="json").json()
    assert good["valid"] is True and good["checked"] == 2
    bad = client.post(
        "/api/validate/",
        {"files": {"x.yaml": "tasks:\n  x:\n    task: project.tasks.heartbeat\n    every: soon\n"}},
        format="json",
    ).json()
    assert bad["valid"] is False
    assert [(d["code"], d["file"], d["line"]) for d in bad["diagnostics"]] == [("bad-duration", "x.yaml", 4)]


def test_invalid_folder_makes_plan_422(client: APIClient, folder: Path) -> None:
    write_schedules(folder, "tasks:\n  x:\n    task: nope\n    every: 1\n")
    response = client.get("/api/plan/")
    assert response.status_code == 422 and response.json()["diagnostics"][0]["code"] == "unknown-task"


def test_run_now_sends_the_task_to_the_broker(client: APIClient, folder: Path, redis_broker: str) -> None:
    import redis

    from reconciler.pipeline import celery_app

    apply_yaml(folder)
    app = celery_app()
    previous = app.conf.broker_url
    app.conf.broker_url = redis_broker
    app._pool = None  # connect to the test broker, not to whatever an earlier test used
    try:
        response = client.post("/api/schedules/beat/run/")
    finally:
        app.pool.force_close_all()
        app.conf.broker_url, app._pool = previous, None
    assert response.status_code == 202
    queued = redis.Redis.from_url(redis_broker).lrange("api-test", 0, -1)
    [message] = [json.loads(m) for m in queued]
    assert message["headers"]["task"] == "project.tasks.heartbeat"
    assert message["headers"]["periodic_task_name"] == "beat"
    assert client.post("/api/schedules/nope/run/").status_code == 404
