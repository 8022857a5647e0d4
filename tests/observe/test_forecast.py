"""The forecast: Celery's own schedule math across DST changes, runs per minute, the busiest
minutes, and its renderings (terminal histogram, SVG chart: valid XML, golden files)."""
from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from celery.schedules import schedule as interval
from django_celery_beat.clockedschedule import clocked
from django_celery_beat.tzcrontab import TzAwareCrontab

from reconciler.beat.kinds import MemoCrontab
from reconciler.core.timing import at_moment, next_after
from reconciler.observe.chart import forecast_svg, forecast_text
from reconciler.observe.forecast import forecast
from tests.conftest import assert_golden
from tests.support.cli import manage
from tests.support.gitrepo import Repo
from tests.support.processes import process_database

PARIS = ZoneInfo("Europe/Paris")
SVG = "{http://www.w3.org/2000/svg}"


def cron(expression: str, tz: ZoneInfo = PARIS) -> MemoCrontab:
    minute, hour, dom, month, dow = expression.split()
    return MemoCrontab(minute=minute, hour=hour, day_of_month=dom, month_of_year=month, day_of_week=dow, tz=tz)


def runs_of(schedule: object, start: datetime, end: datetime) -> list[datetime]:
    first = next_after(at_moment(schedule, start), start, start)
    assert first is not None
    result = forecast([("s", schedule, first)], start, end)
    return sorted(result.minute(i) for i, n in enumerate(result.per_minute) for _ in range(n))


def celery_next(expression: str, last: datetime) -> datetime:
    """What Celery itself says (a fresh django-celery-beat crontab, its clock set to ``last``)."""
    minute, hour, dom, month, dow = expression.split()
    fresh = TzAwareCrontab(minute=minute, hour=hour, day_of_month=dom, month_of_year=month, day_of_week=dow, tz=PARIS)
    fresh.nowfun = lambda: last.astimezone(PARIS)
    return last + fresh.remaining_estimate(last)


SPRING = (datetime(2026, 3, 28, 0, 0, tzinfo=UTC), datetime(2026, 3, 31, 0, 0, tzinfo=UTC))  # 29 March: 02:00 → 03:00
AUTUMN = (datetime(2026, 10, 24, 0, 0, tzinfo=UTC), datetime(2026, 10, 27, 0, 0, tzinfo=UTC))  # 25 Oct: 03:00 → 02:00


@pytest.mark.parametrize("window", [SPRING, AUTUMN], ids=["spring-forward", "fall-back"])
@pytest.mark.parametrize("expression", ["0 8 * * *", "30 2 * * *", "0 * * * *", "*/20 1-3 * * *", "15 3 * * 0"])
def test_forecast_follows_celerys_remaining_estimate_across_dst(
    expression: str, window: tuple[datetime, datetime]
) -> None:
    start, end = window
    runs = runs_of(cron(expression), start, end)
    assert runs, expression
    assert runs[0] == celery_next(expression, start)
    for previous, current in pairwise(runs):
        assert current == celery_next(expression, previous), (expression, previous)
    following = celery_next(expression, runs[-1])
    assert following >= end  # and nothing was left out at the end


def test_dst_in_wall_clock_terms() -> None:
    assert runs_of(cron("0 8 * * *"), *SPRING) == [
        datetime(2026, 3, 28, 7, 0, tzinfo=UTC),  # 08:00 CET
        datetime(2026, 3, 29, 6, 0, tzinfo=UTC),  # 08:00 CEST
        datetime(2026, 3, 30, 6, 0, tzinfo=UTC),
    ]
    hourly = runs_of(cron("0 * * * *"), *SPRING)
    assert len(hourly) == 71  # every real hour after the first moment; the day of the change has 23 local hours
    assert {b - a for a, b in pairwise(hourly)} == {timedelta(hours=1)}
    assert {t.astimezone(PARIS).hour for t in hourly if t.astimezone(PARIS).day == 29} == set(range(24)) - {2}
    autumn = runs_of(cron("0 8 * * *"), *AUTUMN)
    assert [t.hour for t in autumn] == [6, 7, 7]  # CEST, then CET


NOW = datetime(2026, 11, 24, 7, 55, 20, tzinfo=UTC)


def sample():  # type: ignore[no-untyped-def]
    entries = [
        ("heartbeat", interval(timedelta(seconds=30)), NOW + timedelta(seconds=10)),
        ("sync-inventory", interval(timedelta(minutes=15)), NOW + timedelta(minutes=4, seconds=40)),
        ("digest-staff", cron("0 9 * * *"), datetime(2026, 11, 24, 8, 0, tzinfo=UTC)),
        ("digest-customers", cron("0 9 * * *"), datetime(2026, 11, 24, 8, 0, tzinfo=UTC)),
        ("resync", clocked(datetime(2026, 11, 24, 8, 0, 30, tzinfo=UTC)), datetime(2026, 11, 24, 8, 0, 30, tzinfo=UTC)),
        ("past", clocked(NOW - timedelta(hours=1)), NOW - timedelta(hours=1)),
    ]
    return forecast(entries, NOW, NOW + timedelta(hours=2))


def test_runs_per_minute_and_the_busiest_minutes() -> None:
    result = sample()
    assert result.start == datetime(2026, 11, 24, 7, 55, tzinfo=UTC) and len(result.per_minute) == 121
    assert result.total == 240 + 8 + 2 + 1 + 1  # the past one-off runs once, at the start of the window
    top = result.busiest[0]
    assert (top.minute, top.runs) == (datetime(2026, 11, 24, 8, 0, tzinfo=UTC), 6)
    assert top.schedules == (("heartbeat", 2), ("digest-customers", 1), ("digest-staff", 1), ("resync", 1),
                             ("sync-inventory", 1))
    assert len(result.busiest) == 10 and result.schedules == 6
    assert json.loads(json.dumps(result.to_json()))["busiest"][0]["schedule_count"] == 5


def test_forecast_renderings_like_golden() -> None:
    result = sample()
    assert_golden("forecast.text", forecast_text(result, PARIS))
    svg = forecast_svg(result, PARIS, "Runs per minute, next 2 h")
    assert_golden("forecast.svg", svg)
    root = ET.fromstring(svg)  # valid XML
    assert root.tag == f"{SVG}svg" and root.get("viewBox") == "0 0 1200 600"
    assert len(root.findall(f"{SVG}rect[@class='peak']")) == 10
    assert not root.findall(f".//{SVG}script") and "http" not in svg.replace("http://www.w3.org/2000/svg", "")


@pytest.mark.db_backend
def test_the_forecast_command(tmp_path: Path) -> None:
    folder = tmp_path / "schedules"
    folder.mkdir()
    # The daily run half a day ahead, whenever the test runs: the one minute with a third run.
    daily_at = (datetime.now(UTC) + timedelta(hours=12)).replace(minute=15, second=0, microsecond=0)
    (folder / "s.yaml").write_text(
        "tasks:\n  beat:\n    task: project.tasks.heartbeat\n    every: 30s\n"
        f"  daily:\n    task: project.tasks.cleanup_sessions\n    cron: '15 {daily_at.hour} * * *'\n"
    )
    with process_database(tmp_path) as url:
        env = {"DATABASE_URL": url, "RECONCILER_SCHEDULES_DIR": str(folder)}
        assert manage("migrate", "--no-input", "-v", "0", env=env).returncode == 0
        assert manage("reconcile", "apply", env=env).returncode == 0
        result = manage("reconcile", "forecast", "--hours", "24", "--format", "json", env=env)
        assert result.returncode == 0, result.stderr
        payload = json.loads(result.stdout)
        assert payload["total_runs"] in (2880 + 1, 2880)  # the window starts mid-interval
        assert payload["busiest"][0] == {
            "minute": daily_at.isoformat(), "runs": 3, "schedule_count": 2,
            "schedules": [{"name": "beat", "runs": 2}, {"name": "daily", "runs": 1}],
        }, payload["busiest"][:2]
        assert all(minute["runs"] == 2 for minute in payload["busiest"][1:]), "every other minute: beat's two runs"
        chart = tmp_path / "f.svg"
        assert manage("reconcile", "forecast", "--format", "svg", "--output", str(chart), env=env).returncode == 0
        ET.parse(chart)
        text = manage("reconcile", "forecast", "--hours", "2", env=env)
        assert text.returncode == 0 and "busiest minutes:" in text.stdout


# -- from the declarations, and the load a change adds (no database) ------------------------

DECLARED = """tasks:
  beat:
    task: project.tasks.heartbeat
    every: 30s
  digest:
    task: project.tasks.send_digest
    cron: "30 7 * * *"
    timezone: Europe/Paris
    args: [staff]
"""


def forecast_cli(*args: str) -> tuple[int, str]:
    """``manage.py reconcile forecast …`` in process: pytest-django refuses any database access here."""
    from django.core.management import call_command

    out = io.StringIO()
    try:
        call_command("reconcile", "forecast", *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_forecast_from_the_files_needs_no_database(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(DECLARED)
    code, text = forecast_cli("--from-files", "--path", str(tmp_path), "--hours", "24", "--format", "json")
    payload = json.loads(text)
    assert code == 0 and payload["schedules"] == 2
    assert payload["total_runs"] == 2879 + 1  # every 30 s after now for 24 h (the end excluded), the digest once
    busiest = [datetime.fromisoformat(m["minute"]).astimezone(PARIS) for m in payload["per_minute"] if m["runs"] == 3]
    assert [(m.hour, m.minute) for m in busiest] == [(7, 30)]  # the digest, and the beat twice


def test_forecast_against_a_ref_says_what_the_change_adds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Repo(tmp_path / "project")
    repo.write("schedules/s.yaml", DECLARED)
    repo.commit("base")
    repo.write("schedules/s.yaml", DECLARED + "  also:\n    task: project.tasks.heartbeat\n    cron: '30 7 * * *'\n"
               "    timezone: Europe/Paris\n")
    monkeypatch.chdir(repo.root)
    code, text = forecast_cli("--against", "main", "--path", "schedules", "--format", "json")
    payload = json.loads(text)
    assert code == 0 and payload["against"]["ref"] == "main"
    assert payload["total_runs"]["after"] == payload["total_runs"]["before"] + 1
    assert payload["busiest_changed"] and (payload["busiest_minute"]["before"]["runs"],
                                           payload["busiest_minute"]["after"]["runs"]) == (3, 4)
    code, text = forecast_cli("--against", "main", "--path", "schedules", "--hours", "24")
    assert code == 0 and "against main (" in text and "(+1)" in text
    assert "busiest minute: " in text and "with 3 runs → " in text and "with 4 runs" in text


def test_without_a_database_the_forecast_says_how_to_do_without() -> None:
    result = manage("reconcile", "forecast", env={"DATABASE_URL": "postgres://postgres@127.0.0.1:1/nope"})
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "the database is unreachable" in result.stderr and "--from-files" in result.stderr
