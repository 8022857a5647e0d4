"""Calendars end to end: a real ``celery beat`` with our scheduler and a real worker, on Redis
and the database of the current pass. Each send carries its slot (``scheduled_time_kwarg``),
which the worker records. No clock is faked: the crons are chosen to fire within the test.

- ``pair``: two schedules in one entry: an interval every 5 s anchored at a start time one
  second past a minute (its slots are never at second 0) and a ``* * * * *`` cron (always at
  second 0): both run, under one name.
- ``excluded``: every second, but today (and tomorrow, for a run near midnight) are excluded
  dates in UTC: nothing is sent.
- ``limited``: every second, ``max_runs: 2``: exactly two runs, then the row is disabled.
- ``ending``: every second, ``until`` a few seconds after beat starts: no run after it.

The calendars are written to ``ManagedTask.calendar`` as apply stores them (``to_json``), and
beat starts without applying, so what it loads is exactly that."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.core.calendar import Calendar
from tests.support.processes import Stack, live_stack, wait_for

pytestmark = [pytest.mark.db_backend, pytest.mark.services]

ROW = """  {name}:
    task: project.tasks.heartbeat
    every: {every}
    kwargs: {{label: {name}}}
    scheduled_time_kwarg: slot
{extra}"""


def sends(stack: Stack, name: str) -> list[datetime]:
    return [datetime.fromisoformat(run["extra"]["slot"]) for run in stack.runs("heartbeat") if run["label"] == name]


def store_calendars(stack: Stack, calendars: dict[str, Calendar]) -> None:
    code = (
        "from reconciler.models import ManagedTask\n"
        f"for name, text in {json.dumps({n: c.to_json() for n, c in calendars.items()})}.items():\n"
        "    assert ManagedTask.objects.filter(periodic_task__name=name).update(calendar=text) == 1\n"
    )
    result = stack.manage("shell", "-c", code)
    assert result.returncode == 0, result.stderr[-2000:]


def enabled(stack: Stack, name: str) -> str:
    code = f"from django_celery_beat.models import PeriodicTask; print(PeriodicTask.objects.get(name={name!r}).enabled)"
    return stack.manage("shell", "-c", code).stdout.strip().splitlines()[-1]  # after the shell's own banner


def test_calendars_with_a_real_beat(tmp_path: Path, redis_broker: str) -> None:
    today = datetime.now(UTC).date()
    rows = "".join((
        ROW.format(name="pair", every="5s", extra='    start_time: "2020-01-01T00:00:01+00:00"\n'),
        ROW.format(name="excluded", every="1s", extra=""),
        ROW.format(name="limited", every="1s", extra=""),
        ROW.format(name="ending", every="1s", extra=""),
    ))
    with live_stack(tmp_path, redis_broker, RECONCILER_APPLY_ON_BEAT_START="0") as stack:
        (stack.schedules / "live.yaml").write_text("tasks:\n" + rows)
        applied = stack.manage("reconcile", "apply")
        assert applied.returncode == 0, applied.stdout[-2000:] + applied.stderr[-2000:]
        until = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=25)
        store_calendars(stack, {
            "pair": Calendar(also_cron=("* * * * *",), zone="UTC"),
            "excluded": Calendar(exclude_dates=(f"{today.isoformat()}..{(today + timedelta(days=1)).isoformat()}",),
                                 zone="UTC"),
            "limited": Calendar(max_runs=2),
            "ending": Calendar(until=until.isoformat()),
        })
        stack.start_worker()
        stack.start_beat()
        beat_log = stack.log("beat")

        def on_minute(slots: list[datetime]) -> bool:
            return any(slot.second == 0 for slot in slots)

        assert wait_for(lambda: on_minute(sends(stack, "pair")), timeout=75), beat_log.read_text()[-3000:]
        pair = sends(stack, "pair")
        assert any(slot.second % 5 == 1 for slot in pair), pair  # the interval's slots
        assert all(slot.second % 5 == 1 or slot.second == 0 for slot in pair), pair

        assert wait_for(lambda: enabled(stack, "limited") == "False", timeout=10)
        assert len(sends(stack, "limited")) == 2

        assert wait_for(lambda: datetime.now(UTC) > until + timedelta(seconds=3), timeout=40)
        ending = sends(stack, "ending")
        assert ending and all(slot <= until for slot in ending), (until, ending[-3:])

        assert sends(stack, "excluded") == []
