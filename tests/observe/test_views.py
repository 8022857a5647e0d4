"""The admin's charts: staff only, valid SVG, a schedule's runs coloured by outcome."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import pytest
from celery import states
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from reconciler.observe.health import names_with
from tests.support.engine import apply_yaml
from tests.support.observe import record_run

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]
SVG = "{http://www.w3.org/2000/svg}"
YAML = """tasks:
  beat-a:
    task: project.tasks.heartbeat
    every: 30s
  nightly:
    task: project.tasks.cleanup_sessions
    cron: "15 3 * * *"
"""


@pytest.fixture
def staff() -> Client:
    client = Client(HTTP_HOST="localhost")
    client.force_login(User.objects.create(username="ops", is_staff=True))
    return client


def test_charts_are_for_staff_only(tmp_path: Path) -> None:
    apply_yaml(tmp_path, YAML, now=timezone.now())
    anonymous = Client(HTTP_HOST="localhost")
    for url in ("/observe/forecast.svg", "/observe/runs/beat-a.svg"):
        assert anonymous.get(url).status_code == 302  # to the admin's login


def test_forecast_and_runs_charts(tmp_path: Path, staff: Client) -> None:
    apply_yaml(tmp_path, YAML, now=timezone.now())
    now = timezone.now()
    record_run("beat-a", "project.tasks.heartbeat", states.SUCCESS, now - timedelta(seconds=90), runtime=0.5)
    record_run("beat-a", "project.tasks.heartbeat", states.FAILURE, now - timedelta(seconds=60), runtime=2.0)
    record_run("beat-a", "project.tasks.heartbeat", states.SUCCESS, now - timedelta(seconds=30), runtime=1.0)

    chart = staff.get("/observe/forecast.svg?hours=6")
    assert chart.status_code == 200 and chart["Content-Type"] == "image/svg+xml"
    root = ET.fromstring(chart.content)
    assert "next 6 h" in "".join(root.itertext())

    runs = ET.fromstring(staff.get("/observe/runs/beat-a.svg").content)
    bars = runs.findall(f"{SVG}rect")
    assert [bar.get("fill") for bar in bars] == ["#3c8d40", "#d9534f", "#3c8d40"]  # oldest first
    heights = [float(bar.get("height", "0")) for bar in bars]
    assert heights[1] == max(heights) and heights[0] < heights[2]
    assert "ValueError: boom" in "".join(runs.itertext())
    empty = ET.fromstring(staff.get("/observe/runs/nightly.svg").content)
    assert "no runs recorded" in "".join(empty.itertext())


def test_the_health_filter(tmp_path: Path) -> None:
    apply_yaml(tmp_path, YAML, now=timezone.now() - timedelta(hours=1))
    record_run("beat-a", "project.tasks.heartbeat", states.FAILURE, timezone.now() - timedelta(seconds=5))
    assert names_with(["failing"]) == ["beat-a"]
    assert names_with(["never-run", "late"]) == ["nightly"]
    assert names_with(["ok"]) == []
