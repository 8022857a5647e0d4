"""Calendars end to end: declared in YAML, applied with ``manage.py reconcile apply``, sent by a
real ``celery beat`` with our scheduler, run by a real worker, on Redis and the database of the
current pass. Each send carries its slot (``scheduled_time_kwarg``), which the worker records.
No clock is faked: the schedules are chosen to fire within the test.

- ``pair``: ``cron: ["*/2 * * * *", "1-59/2 * * * *"]`` in UTC: the first cron (the row's
  crontab) fires on even minutes, the second (the calendar's) on odd ones. The parity of each
  slot's minute says which cron sent it: both appear, under one name.
- ``excluded``: every second, but today and tomorrow (UTC) are excluded dates: nothing is sent.
- ``limited``: every second, ``max_runs: 2``: exactly two runs, then the row is disabled and
  ``reconcile status`` shows it complete.
- ``ending``: every second, ``until`` some seconds after the apply: no run after it.

All four run in one beat, which starts without applying (``RECONCILER_APPLY_ON_BEAT_START=0``):
what it loads is exactly what the command wrote. The pair needs two minute boundaries after the
apply (61 to 120 s); the others are judged while it waits."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.processes import Stack, live_stack, wait_for

pytestmark = [pytest.mark.db_backend, pytest.mark.services]

SCHEDULES = """tasks:
  pair:
    task: project.tasks.heartbeat
    cron: ["*/2 * * * *", "1-59/2 * * * *"]
    timezone: UTC
    kwargs: {{label: pair}}
    scheduled_time_kwarg: slot
  excluded:
    task: project.tasks.heartbeat
    every: 1s
    timezone: UTC
    exclude:
      dates: ["{today}..{tomorrow}"]
    kwargs: {{label: excluded}}
    scheduled_time_kwarg: slot
  limited:
    task: project.tasks.heartbeat
    every: 1s
    max_runs: 2
    kwargs: {{label: limited}}
    scheduled_time_kwarg: slot
  ending:
    task: project.tasks.heartbeat
    every: 1s
    until: "{until}"
    kwargs: {{label: ending}}
    scheduled_time_kwarg: slot
"""


def sends(stack: Stack, name: str) -> list[datetime]:
    return [datetime.fromisoformat(run["extra"]["slot"]) for run in stack.runs("heartbeat") if run["label"] == name]


def enabled(stack: Stack, name: str) -> str:
    code = f"from django_celery_beat.models import PeriodicTask; print(PeriodicTask.objects.get(name={name!r}).enabled)"
    return stack.manage("shell", "-c", code).stdout.strip().splitlines()[-1]  # after the shell's own banner


def pair_rows(stack: Stack) -> str:
    """What django-celery-beat's tables hold for the pair: one row, on the first cron."""
    code = ("from django_celery_beat.models import PeriodicTask as T;"
            "print([str(t.crontab.minute) for t in T.objects.filter(name__startswith='pair')])")
    return stack.manage("shell", "-c", code).stdout.strip().splitlines()[-1]


def health(stack: Stack, name: str) -> str:
    result = stack.manage("reconcile", "status", name, "--format", "json")
    assert result.returncode in (0, 1), result.stderr[-2000:]
    return str(json.loads(result.stdout)["schedules"][0]["health"])


@pytest.mark.only_backend("sqlite")  # a minute-bound wait: one backend keeps the suite in its budget
def test_calendars_with_a_real_beat(tmp_path: Path, redis_broker: str) -> None:
    with live_stack(tmp_path, redis_broker, RECONCILER_APPLY_ON_BEAT_START="0") as stack:
        today = datetime.now(UTC).date()
        until = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=20)
        (stack.schedules / "live.yaml").write_text(SCHEDULES.format(
            today=today.isoformat(), tomorrow=(today + timedelta(days=1)).isoformat(), until=until.isoformat(),
        ))
        applied = stack.manage("reconcile", "apply")
        assert applied.returncode == 0, applied.stdout[-2000:] + applied.stderr[-2000:]
        assert pair_rows(stack) == "['*/2']"
        stack.start_worker()
        stack.start_beat()
        beat_log = stack.log("beat")

        assert wait_for(lambda: enabled(stack, "limited") == "False", timeout=30), beat_log.read_text()[-3000:]
        assert len(sends(stack, "limited")) == 2
        assert health(stack, "limited") == "complete"

        assert wait_for(lambda: datetime.now(UTC) > until + timedelta(seconds=3), timeout=40)
        ending = sends(stack, "ending")
        assert ending and all(slot <= until for slot in ending), (until, ending[-3:])

        def both_parities() -> bool:
            return {slot.minute % 2 for slot in sends(stack, "pair")} == {0, 1}

        assert wait_for(both_parities, timeout=130, interval=0.5), beat_log.read_text()[-3000:]
        pair = sends(stack, "pair")
        assert all(slot.second == 0 and slot.microsecond == 0 for slot in pair), pair
        assert len(pair) == len(set(pair)), pair  # one entry: a slot is sent once

        assert sends(stack, "excluded") == []
        assert len(sends(stack, "limited")) == 2
