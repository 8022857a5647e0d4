"""The API's view of what happens: each schedule's health (and last run) in the list and the
detail, the ``?health=`` filter, and a schedule's runs, paginated. Real applies, real TaskResult
rows stored by django-celery-results' backend. Who may call what: tests/test_api.py."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import states
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from rest_framework.test import APIClient

from reconciler.api import schedules as schedules_module
from reconciler.api.serializers import ScheduleDetailSerializer
from reconciler.operate import suspend
from tests.admin.test_observe import HEALTHS, YAML
from tests.support.api import ALL_PERMISSIONS, token_client, user_with
from tests.support.engine import apply_yaml
from tests.support.observe import record_run, record_skip, set_policy, track_run

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]


@pytest.fixture
def staff() -> APIClient:
    return token_client(user_with(*ALL_PERMISSIONS, username="ops"))


@pytest.fixture
def observed(tmp_path: Path, settings) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    settings.RECONCILER_SCHEDULES_DIR = str(tmp_path)
    now = timezone.now()
    apply_yaml(tmp_path, YAML, now=now - timedelta(hours=1))
    PeriodicTask.objects.create(
        name="made-in-admin", task="project.tasks.heartbeat",
        interval=IntervalSchedule.objects.create(every=5, period="minutes"),
    )
    moments = {
        "ok": now - timedelta(seconds=10), "success": now - timedelta(minutes=4), "failure": now - timedelta(seconds=5),
    }
    record_run("beat-ok", "project.tasks.heartbeat", states.SUCCESS, moments["ok"])
    record_run("flaky", "project.tasks.flaky", states.SUCCESS, moments["success"], runtime=0.25)
    record_run("flaky", "project.tasks.flaky", states.FAILURE, moments["failure"], runtime=2.0, worker="w2@reports")
    suspend("on-hold", "incident 42", by="alice")
    return moments


def test_health_and_last_run_in_the_list_and_the_detail(staff: APIClient, observed: dict[str, Any]) -> None:
    rows = {r["name"]: r for r in staff.get("/api/schedules/").json()["results"]}
    assert {name: r["health"] for name, r in rows.items()} == HEALTHS
    flaky = rows["flaky"]
    assert (flaky["last_run_state"], flaky["last_success_at"]) == ("FAILURE", observed["success"].isoformat())
    assert (rows["made-in-admin"]["last_run_state"], rows["made-in-admin"]["last_success_at"]) == (None, None)
    assert rows["on-hold"]["state"] == "suspended" and rows["on-hold"]["suspended"]["reason"] == "incident 42"
    detail = staff.get("/api/schedules/beat-ok/").json()
    assert (detail["health"], detail["last_run_state"], detail["last_success_at"]) == (
        "ok", "SUCCESS", observed["ok"].isoformat())


def test_a_declared_schedule_not_yet_applied_has_no_health(staff: APIClient, observed: dict[str, Any],
                                                           tmp_path: Path) -> None:
    (tmp_path / "more.yaml").write_text("tasks:\n  fresh:\n    task: project.tasks.heartbeat\n    every: 1m\n")
    fresh = staff.get("/api/schedules/fresh/").json()
    assert (fresh["state"], fresh["health"], fresh["last_run_state"]) == ("pending", None, None)
    assert "fresh" not in {r["name"] for r in staff.get("/api/schedules/?health=never-run").json()["results"]}


@pytest.mark.parametrize("health", sorted(set(HEALTHS.values())))
def test_the_health_filter(staff: APIClient, observed: dict[str, Any], health: str) -> None:
    found = staff.get(f"/api/schedules/?health={health}").json()["results"]
    assert {r["name"] for r in found} == {name for name, h in HEALTHS.items() if h == health}


def test_an_unknown_health_is_a_400(staff: APIClient, observed: dict[str, Any]) -> None:
    response = staff.get("/api/schedules/?health=sideways")
    assert response.status_code == 400
    assert response.json()["error"] == (
        "health: one of ok, late, failing, running-long, never-run, suspended, complete, disabled")


def test_a_schedules_runs(staff: APIClient, observed: dict[str, Any]) -> None:
    page = staff.get("/api/schedules/flaky/runs/").json()
    assert (page["count"], page["next"], page["previous"]) == (2, None, None)
    failed, succeeded = page["results"]
    assert failed["started_at"] == observed["failure"].isoformat()
    assert (failed["schedule"], failed["task"], failed["state"], failed["worker"], failed["exception"]) == (
        "flaky", "project.tasks.flaky", "FAILURE", "w2@reports", "ValueError: boom")
    assert failed["runtime_seconds"] == pytest.approx(2.0)
    assert (succeeded["state"], succeeded["exception"], succeeded["runtime_seconds"]) == ("SUCCESS", "", 0.25)
    assert set(failed) == {"task_id", "schedule", "task", "state", "started_at", "finished_at", "runtime_seconds",
                           "worker", "exception"}
    empty = staff.get("/api/schedules/made-in-admin/runs/").json()
    assert (empty["count"], empty["results"]) == (0, [])


def test_runs_are_paginated_newest_first(staff: APIClient, observed: dict[str, Any]) -> None:
    now = timezone.now()
    ids = [record_run("stalled", "project.tasks.heartbeat", states.SUCCESS, now - timedelta(minutes=30 - i))
           for i in range(5)]
    first = staff.get("/api/schedules/stalled/runs/?page_size=2").json()
    assert first["count"] == 5 and first["next"].endswith("/api/schedules/stalled/runs/?page=2&page_size=2")
    assert [r["task_id"] for r in first["results"]] == ids[::-1][:2]
    last = staff.get("/api/schedules/stalled/runs/?page=3&page_size=2").json()
    assert [r["task_id"] for r in last["results"]] == ids[:1] and last["next"] is None
    assert staff.get("/api/schedules/stalled/runs/?page=4&page_size=2").status_code == 404


def test_runs_of_an_unknown_schedule(staff: APIClient, observed: dict[str, Any]) -> None:
    missing = staff.get("/api/schedules/nope/runs/")
    assert missing.status_code == 404 and missing.json() == {"error": "no schedule named 'nope'"}
    PeriodicTask.objects.filter(name="flaky").delete()  # deleted: its stored runs are still its history
    assert staff.get("/api/schedules/flaky/runs/").json()["count"] == 2


def test_two_schedules_of_one_task_keep_their_own_runs(staff: APIClient, observed: dict[str, Any]) -> None:
    record_run("stalled", "project.tasks.heartbeat", states.SUCCESS, timezone.now())
    assert [r["schedule"] for r in staff.get("/api/schedules/stalled/runs/").json()["results"]] == ["stalled"]
    assert [r["schedule"] for r in staff.get("/api/schedules/beat-ok/runs/").json()["results"]] == ["beat-ok"]


def test_without_a_result_store(staff: APIClient, observed: dict[str, Any], settings) -> None:  # type: ignore[no-untyped-def]
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "django_celery_results"]
    rows = staff.get("/api/schedules/").json()["results"]
    assert {r["health"] for r in rows} == {None} and len(rows) == len(HEALTHS)
    runs = staff.get("/api/schedules/flaky/runs/")
    assert runs.status_code == 503 and "install django-celery-results" in runs.json()["error"]


def test_a_page_costs_its_rows_whatever_the_total(tmp_path: Path, settings, staff: APIClient, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """At any size, a page reads health and next runs for its own rows only, in the same number
    of queries (the plan over every schedule is the one part that grows, in constant queries)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reconciler.observe import health
    from tests.support.engine import interval_tasks

    settings.RECONCILER_SCHEDULES_DIR = str(tmp_path)
    healed, estimated = [], []
    real_health, real_upcoming = health.health_of_row, schedules_module.upcoming_runs
    monkeypatch.setattr(health, "health_of_row",
                        lambda row, *a, **k: healed.append(row.name) or real_health(row, *a, **k))

    def upcoming(now: Any, count: int = 3, names: Any = None) -> Any:
        estimated.extend(names if names is not None else ["<every row>"])
        return real_upcoming(now, count, names)

    monkeypatch.setattr(schedules_module, "upcoming_runs", upcoming)
    queries = {}
    for size in (60, 240):
        apply_yaml(tmp_path, interval_tasks(size), now=timezone.now())
        healed.clear()
        estimated.clear()
        with CaptureQueriesContext(connection) as captured:
            response = staff.get("/api/schedules/?page=2&page_size=20")
        assert response.status_code == 200, response.content
        body = response.json()
        page = [row["name"] for row in body["results"]]
        assert body["count"] == size and page == [f"t-{i:05d}" for i in range(20, 40)]
        assert sorted(healed) == page and sorted(estimated) == page, "health and next runs of the page's rows only"
        assert all(row["health"] == "never-run" and len(row["next_runs"]) == 3 for row in body["results"])
        queries[size] = len(captured)
    assert queries[60] == queries[240], queries


def test_running_long_and_skipped_runs_in_the_detail(staff: APIClient, observed: dict[str, Any], settings) -> None:  # type: ignore[no-untyped-def]
    """The detail carries beat's records of the schedule: its tracked run (running long past its
    max_runtime), its skips of the last 24 hours and its last skip decisions; the list filters on
    running-long like on any health. Beat's records need no result store."""
    now = timezone.now()
    set_policy("flaky", overlap="queue_one", max_runtime=60)
    task_id = track_run("flaky", now - timedelta(minutes=5), started=now - timedelta(minutes=4),
                        pending=now - timedelta(seconds=40), max_runtime=60)
    record_skip("flaky", "overlap", now - timedelta(seconds=20), now - timedelta(seconds=20),
                detail=f"{task_id} running; one run already waiting")
    record_skip("flaky", "catchup", now - timedelta(hours=3), now - timedelta(hours=2), count=4,
                first_slot=now - timedelta(hours=4))
    detail = staff.get("/api/schedules/flaky/").json()
    assert detail["health"] == "running-long"
    run = detail["run"]
    assert (run["state"], run["task_id"], run["running_long"], run["max_runtime"], run["outcome"]) == (
        "running", task_id, True, 60, None)
    assert run["pending_slot"] == (now - timedelta(seconds=40)).isoformat()
    assert detail["recent_skips"] == {"count": 5, "last_reason": "overlap",
                                      "last_at": (now - timedelta(seconds=20)).isoformat()}
    assert [(k["reason"], k["count"]) for k in detail["skipped_runs"]] == [("overlap", 1), ("catchup", 4)]
    shape = ScheduleDetailSerializer(data=detail)
    assert shape.is_valid(), shape.errors  # what the OpenAPI schema documents
    plain = staff.get("/api/schedules/beat-ok/").json()
    assert (plain["run"], plain["recent_skips"], plain["skipped_runs"]) == (None, None, [])
    assert [r["name"] for r in staff.get("/api/schedules/?health=running-long").json()["results"]] == ["flaky"]
    assert "run" not in staff.get("/api/schedules/").json()["results"][0]  # the list: health only

    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "django_celery_results"]
    bare = staff.get("/api/schedules/flaky/").json()
    assert bare["health"] is None and bare["run"]["running_long"] and len(bare["skipped_runs"]) == 2


def test_skipped_runs_are_paginated_newest_first(staff: APIClient, observed: dict[str, Any]) -> None:
    now = timezone.now()
    for i in range(5):
        record_skip("stalled", "overlap", now - timedelta(minutes=30 - i), now - timedelta(minutes=30 - i),
                    detail=f"skip {i}")
    first = staff.get("/api/schedules/stalled/skipped-runs/?page_size=2").json()
    assert first["count"] == 5 and first["next"].endswith("/api/schedules/stalled/skipped-runs/?page=2&page_size=2")
    assert [k["detail"] for k in first["results"]] == ["skip 4", "skip 3"]
    assert set(first["results"][0]) == {"reason", "slot", "first_slot", "count", "at", "detail"}
    assert staff.get("/api/schedules/beat-ok/skipped-runs/").json()["count"] == 0
    missing = staff.get("/api/schedules/nope/skipped-runs/")
    assert missing.status_code == 404 and missing.json() == {"error": "no schedule named 'nope'"}
    PeriodicTask.objects.filter(name="stalled").delete()  # deleted: beat's record of its skips stays readable
    assert staff.get("/api/schedules/stalled/skipped-runs/").json()["count"] == 5


def test_owner_and_severity_fields_and_filters(staff: APIClient, observed: dict[str, Any], tmp_path: Path) -> None:
    """``?owner=`` and ``?severity=`` filter by each schedule's monitor as applied (ownership), or
    as declared for a schedule not applied yet; the list and the detail carry it, and health
    follows its thresholds (flaky: one failure of two is not failing)."""
    from tests.support.observe import set_monitor

    set_monitor("flaky", owner="team-billing", severity="page", failure_threshold=2, grace=300)
    set_monitor("beat-ok", owner="team-billing")
    set_monitor("stalled", owner="team-ops", severity="page")
    billing = staff.get("/api/schedules/?owner=team-billing").json()
    assert billing["count"] == 2 and [r["name"] for r in billing["results"]] == ["beat-ok", "flaky"]
    flaky = billing["results"][1]
    assert (flaky["owner"], flaky["severity"], flaky["health"]) == ("team-billing", "page", "ok")
    assert (flaky["grace"], flaky["grace_seconds"], flaky["failure_threshold"], flaky["recovery_threshold"]) == (
        300, 300.0, 2, 1)
    assert {r["name"] for r in staff.get("/api/schedules/?severity=page").json()["results"]} == {"flaky", "stalled"}
    both = staff.get("/api/schedules/?owner=team-ops&severity=page&health=late").json()["results"]
    assert [r["name"] for r in both] == ["stalled"]
    assert staff.get("/api/schedules/?owner=nobody").json()["count"] == 0
    detail = staff.get("/api/schedules/made-in-admin/").json()
    assert (detail["owner"], detail["severity"], detail["grace"], detail["failure_threshold"]) == (None, None, None, 1)
    assert staff.get("/api/schedules/stalled/").json()["owner"] == "team-ops"
    assert ScheduleDetailSerializer(data=staff.get("/api/schedules/flaky/").json()).is_valid()
