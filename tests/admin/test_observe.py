"""What happens to the schedules, in the admin, over real applies and real TaskResult rows
(stored by django-celery-results' backend): the health column and filter, a schedule's runs
and their chart on its page, the forecast page."""

from __future__ import annotations

import base64
import html
import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import states
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from reconciler.admin import state as state_module
from reconciler.operate import suspend
from tests.support.engine import apply_yaml
from tests.support.observe import record_run

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]
CHANGELIST = "/admin/django_celery_beat/periodictask/"
FORECAST = CHANGELIST + "forecast/"
YAML = """tasks:
  beat-ok:
    task: project.tasks.heartbeat
    every: 30s
  flaky:
    task: project.tasks.flaky
    every: 10m
  stalled:
    task: project.tasks.heartbeat
    every: 1m
    queue: reports
  paused:
    task: project.tasks.heartbeat
    every: 1m
    enabled: false
  on-hold:
    task: project.tasks.heartbeat
    every: 5m
"""
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"  # render.words.iso
HEALTHS = {"beat-ok": "ok", "flaky": "failing", "stalled": "late", "paused": "disabled", "on-hold": "suspended",
           "made-in-admin": "never-run"}


@pytest.fixture
def observed(tmp_path: Path, settings) -> Path:  # type: ignore[no-untyped-def]
    folder = tmp_path / "schedules"
    settings.RECONCILER_SCHEDULES_DIR = str(folder)
    now = timezone.now()
    apply_yaml(folder, YAML, now=now - timedelta(hours=1))
    PeriodicTask.objects.create(
        name="made-in-admin", task="project.tasks.heartbeat",
        interval=IntervalSchedule.objects.create(every=5, period="minutes"),
    )
    record_run("beat-ok", "project.tasks.heartbeat", states.SUCCESS, now - timedelta(seconds=10))
    record_run("flaky", "project.tasks.flaky", states.SUCCESS, now - timedelta(minutes=4), runtime=0.25)
    record_run("flaky", "project.tasks.flaky", states.FAILURE, now - timedelta(seconds=5), runtime=2.0,
               worker="w2@reports")
    suspend("on-hold", "incident 42", by="alice")
    return folder


def staff(*codenames: str) -> Client:
    user = User.objects.create_user("u-" + "-".join(codenames or ("none",)), is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer() -> Client:
    return staff("view_periodictask")


def names(page: str) -> set[str]:
    return set(re.findall(r'<th class="field-name"><a href="[^"]+">([^<]+)</a>', page))


def healths(page: str) -> dict[str, str]:
    rows = re.findall(r'<tr>.*?</tr>', page, re.S)
    found = {}
    for row in rows:
        name = re.search(r'<th class="field-name"><a href="[^"]+">([^<]+)</a>', row)
        health = re.search(r'<td class="field-health"><span class="reconciler-health reconciler-health-([a-z-]+)"',
                           row)
        if name and health:
            found[name.group(1)] = health.group(1)
    return found


def test_the_list_shows_each_schedules_health(observed: Path, viewer: Client) -> None:
    page = viewer.get(CHANGELIST).content.decode()
    assert healths(page) == HEALTHS
    assert '<th scope="col" class="column-health">' in page
    flaky = html.unescape(re.search(r'reconciler-health-failing" title="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    assert "(FAILURE)" in flaky and "last success: " in flaky and "grace 300 s" in flaky
    assert f'href="{FORECAST}">Forecast</a>' in page


@pytest.mark.parametrize("health", sorted(set(HEALTHS.values())))
def test_the_list_filters_by_health(observed: Path, viewer: Client, health: str) -> None:
    page = viewer.get(f"{CHANGELIST}?health={health}").content.decode()
    assert names(page) == {name for name, h in HEALTHS.items() if h == health}


def test_the_health_filter_offers_every_health(observed: Path, viewer: Client) -> None:
    page = viewer.get(CHANGELIST).content.decode()
    offered = set(re.findall(r'href="\?health=([a-z-]+)"', page))
    assert offered == {"ok", "late", "failing", "running-long", "never-run", "suspended", "complete", "disabled"}
    assert names(viewer.get(f"{CHANGELIST}?health=sideways").content.decode()) == set(HEALTHS)


@pytest.mark.parametrize("name", ["flaky", "made-in-admin"], ids=["managed", "unmanaged"])
def test_a_schedules_page_shows_its_runs_and_their_chart(observed: Path, viewer: Client, name: str) -> None:
    if name == "made-in-admin":
        record_run(name, "project.tasks.heartbeat", states.FAILURE, timezone.now() - timedelta(seconds=30),
                   runtime=2.0, worker="w2@reports")
    pk = PeriodicTask.objects.get(name=name).pk
    page = html.unescape(viewer.get(f"{CHANGELIST}{pk}/change/").content.decode())
    runs = page[page.index('id="reconciler-runs"'):]
    assert re.search(r"<td class=\"failed\">FAILURE</td>\s*<td class=\"started\">[^<]+</td>\s*<td>2\.000 s</td>"
                     r"\s*<td>w2@reports</td>\s*<td class=\"failed\">ValueError: boom</td>", runs), runs[:2000]
    assert 'reconciler-health reconciler-health-failing">failing<' in runs
    src = re.search(r'<img class="reconciler-runs-chart" src="([^"]+)"', runs).group(1)  # type: ignore[union-attr]
    assert src == f"/observe/runs/{name}.svg"
    chart = ET.fromstring(viewer.get(src).content)
    assert "ValueError: boom" in "".join(chart.itertext())


def test_older_runs_page_back(observed: Path, viewer: Client) -> None:
    now = timezone.now()
    for minutes in range(25):
        record_run("stalled", "project.tasks.heartbeat", states.SUCCESS, now - timedelta(minutes=90 - minutes))
    url = f"{CHANGELIST}{PeriodicTask.objects.get(name='stalled').pk}/change/"
    first = html.unescape(viewer.get(url).content.decode())
    assert "Runs 1 to 20 of 25, newest first" in first and "?runs_offset=20#reconciler-runs" in first
    assert first.count("<td>SUCCESS</td>") == 20
    older = html.unescape(viewer.get(url + "?runs_offset=20").content.decode())
    assert "Runs 21 to 25 of 25, newest first" in older and "?runs_offset=0#reconciler-runs" in older
    assert older.count("<td>SUCCESS</td>") == 5
    assert "No run recorded this far back." in viewer.get(url + "?runs_offset=100").content.decode()


def test_the_forecast_page(observed: Path, viewer: Client) -> None:
    page = viewer.get(FORECAST)
    assert page.status_code == 200
    body = html.unescape(page.content.decode())
    assert "Forecast: runs due in the next 24 hours" in body
    src = re.search(r'<img id="reconciler-forecast" src="([^"]+)"', body).group(1)  # type: ignore[union-attr]
    assert src == "/observe/forecast.svg?hours=24"
    chart = viewer.get(src)
    assert chart.status_code == 200 and chart["Content-Type"] == "image/svg+xml"
    text = "".join(ET.fromstring(chart.content).itertext())
    assert "Runs per minute, next 24 h" in text and "The ten busiest minutes" in text
    week = html.unescape(viewer.get(FORECAST + "?hours=168").content.decode())
    assert 'src="/observe/forecast.svg?hours=168"' in week and "next 7 days" in week
    assert 'src="/observe/forecast.svg?hours=24"' in viewer.get(FORECAST + "?hours=9999").content.decode()


def test_the_forecast_page_needs_the_schedules_list(observed: Path) -> None:
    assert staff().get(FORECAST).status_code == 403
    assert Client().get(FORECAST).status_code == 302  # to the admin's login


def test_charts_inline_when_the_observe_urls_are_not_mounted(observed: Path, viewer: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ROOT_URLCONF = "tests.support.admin_urls"
    page = viewer.get(FORECAST).content.decode()
    src = re.search(r'<img id="reconciler-forecast" src="data:image/svg\+xml;base64,([^"]+)"', page)
    assert src is not None
    assert "Runs per minute, next 24 h" in "".join(ET.fromstring(base64.b64decode(src.group(1))).itertext())
    change = viewer.get(f"{CHANGELIST}{PeriodicTask.objects.get(name='flaky').pk}/change/").content.decode()
    runs = re.search(r'<img class="reconciler-runs-chart" src="data:image/svg\+xml;base64,([^"]+)"', change)
    assert runs is not None and "ValueError: boom" in base64.b64decode(runs.group(1)).decode()


def test_without_a_result_store_there_is_no_health(observed: Path, viewer: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "django_celery_results"]
    page = viewer.get(CHANGELIST).content.decode()
    assert "column-health" not in page and "?health=" not in page and "made-in-admin" in page
    change = viewer.get(f"{CHANGELIST}{PeriodicTask.objects.get(name='flaky').pk}/change/").content.decode()
    assert change.count("reconciler-runs") == 0 and "flaky" in change


def test_a_list_page_costs_its_rows_whatever_the_total(tmp_path: Path, settings, viewer: Client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Health and next run for the page's rows only, in the same number of queries at any size."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reconciler.observe import health
    from tests.support.engine import interval_tasks

    settings.RECONCILER_SCHEDULES_DIR = str(tmp_path)
    healed, estimated = [], []
    real_health, real_upcoming = health.health_of_row, state_module.upcoming_runs
    monkeypatch.setattr(health, "health_of_row",
                        lambda row, *a, **k: healed.append(row.name) or real_health(row, *a, **k))

    def upcoming(now: Any, count: int = 3, names: Any = None) -> Any:
        estimated.extend(names if names is not None else ["<every row>"])
        return real_upcoming(now, count, names)

    monkeypatch.setattr(state_module, "upcoming_runs", upcoming)
    queries = {}
    for size in (120, 360):
        apply_yaml(tmp_path, interval_tasks(size), now=timezone.now())
        healed.clear()
        estimated.clear()
        with CaptureQueriesContext(connection) as captured:
            response = viewer.get("/admin/django_celery_beat/periodictask/?p=2")
        assert response.status_code == 200
        page = healths(response.content.decode())
        assert len(page) == 20 if size == 120 else len(page) == 100
        assert sorted(healed) == sorted(page) and sorted(estimated) == sorted(page), "the page's rows only"
        queries[size] = len(captured)
    assert queries[120] == queries[360], queries


def test_a_schedules_page_shows_its_run_in_flight_and_its_skipped_runs(observed: Path, viewer: Client,
                                                                       settings) -> None:  # type: ignore[no-untyped-def]
    """The run beat tracks (running since, task id, running long, the one waiting) and the runs
    it did not send (when, why, how many, which slots), with or without a result store; a
    schedule with neither has no such section."""
    from tests.support.observe import record_skip, set_policy, track_run

    now = timezone.now()
    set_policy("stalled", overlap="queue_one", max_runtime=60)
    task_id = track_run("stalled", now - timedelta(minutes=5), started=now - timedelta(minutes=4),
                        pending=now - timedelta(seconds=30), max_runtime=60)
    record_skip("stalled", "overlap", now - timedelta(seconds=10), now - timedelta(seconds=10),
                detail="one run already waiting")
    record_skip("stalled", "catchup", now - timedelta(hours=1), now - timedelta(minutes=50), count=7,
                first_slot=now - timedelta(hours=2), detail="catchup: skip")
    assert healths(viewer.get(CHANGELIST).content.decode())["stalled"] == "running-long"
    assert names(viewer.get(f"{CHANGELIST}?health=running-long").content.decode()) == {"stalled"}

    def section(name: str) -> str:
        pk = PeriodicTask.objects.get(name=name).pk
        page = html.unescape(viewer.get(f"{CHANGELIST}{pk}/change/").content.decode())
        return page[page.index('id="reconciler-tracked"'):] if 'id="reconciler-tracked"' in page else ""

    tracked = section("stalled")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", tracked[:tracked.index("</fieldset>")]))
    assert re.search(rf"Current run: running running-long since {ISO} \(\d+m ago\), max runtime 60 s\. "
                     rf"Slot {ISO} ?, task id {task_id} ?\.", text), text
    assert re.search(rf"One run waiting behind it \(overlap: queue_one\): slot {ISO} ?\.", text), text
    assert "Runs beat did not send, newest first Decided" in text
    assert re.search(rf"{ISO} overlap the previous run was still queued or running 1 {ISO} one run already waiting",
                     text), text
    assert re.search(rf"{ISO} catchup a slot missed while no beat was scheduling, dropped by the catch-up policy 7 "
                     rf"{ISO} to {ISO} catchup: skip", text), text
    assert 'reconciler-health reconciler-health-running-long">running-long<' in tracked
    assert section("beat-ok") == ""

    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "django_celery_results"]
    assert task_id in section("stalled")


def test_the_list_shows_and_filters_by_owner_and_severity(observed: Path, viewer: Client) -> None:
    """The monitor's owner and severity (``ManagedTask.monitor``): a column, and a filter by each
    offering the values the applied monitors hold."""
    from tests.support.observe import set_monitor

    assert "column-owner" not in viewer.get(CHANGELIST).content.decode()  # no schedule names one
    set_monitor("flaky", owner="team-billing", severity="page")
    set_monitor("beat-ok", owner="team-billing")
    set_monitor("stalled", owner="team-ops", severity="ticket")
    page = viewer.get(CHANGELIST).content.decode()
    assert '<th scope="col" class="column-owner">' in page
    assert 'team-billing <span class="reconciler-severity">page</span>' in page
    assert set(re.findall(r'href="\?owner=([a-z-]+)"', page)) == {"team-billing", "team-ops"}
    assert set(re.findall(r'href="\?severity=([a-z-]+)"', page)) == {"page", "ticket"}
    assert names(viewer.get(f"{CHANGELIST}?owner=team-billing").content.decode()) == {"beat-ok", "flaky"}
    assert names(viewer.get(f"{CHANGELIST}?severity=ticket").content.decode()) == {"stalled"}
    assert names(viewer.get(f"{CHANGELIST}?owner=team-billing&health=failing").content.decode()) == {"flaky"}
