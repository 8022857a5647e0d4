"""Every view shows the same exact next runs — the API, the admin list, ``reconcile status``,
the forecast and the metrics — each one the slot at which beat's own ``is_due`` turns true, in
whole seconds: a 07:30 Europe/Paris cron at 06:30:00Z, never 06:29:59.97, a one-off declared at
02:00 at 02:00. Rows applied now, read by the real views on the real database."""
from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from reconciler.models import ScheduledTask
from reconciler.observe.forecast import read_forecast
from reconciler.render.words import iso
from tests.admin.test_admin import staff_client
from tests.core.test_timing import assert_beat_sends_at
from tests.observe.test_metrics import scrape
from tests.support.api import ALL_PERMISSIONS, token_client, user_with
from tests.support.engine import apply_yaml

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]

YAML = """tasks:
  paris:
    task: project.tasks.send_digest
    cron: "30 7 * * *"
    timezone: Europe/Paris
    args: [staff]
  launch:
    task: project.tasks.heartbeat
    at: "2030-01-15T02:00:00+01:00"
  every-quarter:
    task: project.tasks.heartbeat
    every: 15m
  lights:
    task: project.tasks.open_garden_lights
    solar: {event: sunset, latitude: 48.8566, longitude: 2.3522}
    args: [front]
"""
COUNTS = {"paris": 3, "launch": 1, "every-quarter": 3, "lights": 3}


@pytest.fixture
def rows(tmp_path: Path, settings) -> dict[str, ScheduledTask]:  # type: ignore[no-untyped-def]
    settings.RECONCILER_SCHEDULES_DIR = str(tmp_path)
    apply_yaml(tmp_path, YAML, now=timezone.now())
    return {row.name: row for row in ScheduledTask.objects.filter(name__in=COUNTS)}


def check_exact(row: ScheduledTask, runs: list[datetime]) -> None:
    """Checked against beat: each run is the second at which ``is_due`` turns true."""
    assert len(runs) == COUNTS[row.name], (row.name, runs)
    last = row.last_run_at or row.date_changed
    for run in runs:
        assert run.microsecond == 0, (row.name, run)
        assert_beat_sends_at(row.schedule, last, run)
        last = run


def api_runs() -> dict[str, list[datetime]]:
    client = token_client(user_with(*ALL_PERMISSIONS, username="ops", staff=True))
    page = client.get("/api/schedules/").json()
    return {r["name"]: [datetime.fromisoformat(t) for t in r["next_runs"]] for r in page["results"]}


def test_the_api_gives_three_exact_runs_each_beat_sends_at(rows: dict[str, ScheduledTask]) -> None:
    runs = api_runs()
    for name, row in rows.items():
        check_exact(row, runs[name])
    assert runs["launch"] == [datetime(2030, 1, 15, 1, 0, tzinfo=UTC)]
    paris = runs["paris"][0].astimezone(timezone.get_default_timezone()).astimezone(UTC)
    assert (paris.hour, paris.minute, paris.second) in ((6, 30, 0), (5, 30, 0))  # 07:30 in Paris


def test_status_forecast_metrics_and_admin_show_the_same_first_run(rows: dict[str, ScheduledTask]) -> None:
    first = {name: runs[0] for name, runs in api_runs().items()}

    out = io.StringIO()
    call_command("reconcile", "status", "--format", "json", stdout=out)
    status = {s["name"]: s["next_run_at"] for s in json.loads(out.getvalue())["schedules"]}
    assert {n: datetime.fromisoformat(status[n]) for n in rows} == {n: first[n] for n in rows}

    forecast = read_forecast(24 * 31)
    counted = {forecast.minute(i) for i, n in enumerate(forecast.per_minute) if n}
    within = {n for n in rows if first[n] < forecast.end}
    assert within == {"paris", "every-quarter", "lights"}  # the one-off is years away
    assert {first[n].replace(second=0) for n in within} <= counted

    metrics = scrape(Client(HTTP_HOST="localhost"), REMOTE_ADDR="127.0.0.1")
    next_run = metrics["reconciler_schedule_next_run_timestamp_seconds"]
    for name, row in rows.items():
        assert next_run[(("name", name), ("task", row.task))] == first[name].timestamp()

    admin = staff_client(superuser=True)
    page = re.sub(r"<[^>]+>", "", admin.get("/admin/django_celery_beat/periodictask/").content.decode())
    assert iso(first["paris"], "Europe/Paris") in page  # 2026-12-02T07:30:00+01:00
    assert iso(first["launch"], timezone.get_current_timezone()) in page
    assert all(t not in page for t in ("a.m.", "p.m."))
    change = admin.get(f"/admin/django_celery_beat/periodictask/{rows['paris'].pk}/change/")
    assert f"next run: {iso(first['paris'], timezone.get_current_timezone())}" in change.content.decode()


def test_a_later_now_does_not_move_a_slot(rows: dict[str, ScheduledTask]) -> None:
    """The runs are slots, not "now plus a remaining estimate": asked twice, they agree."""
    from reconciler.observe.sync import upcoming_runs

    now = datetime.now(UTC)
    assert upcoming_runs(now) == upcoming_runs(now + timedelta(milliseconds=250))
