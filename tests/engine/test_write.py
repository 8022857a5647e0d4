"""The run-time policy, the calendar and the monitor are written to ownership and read back
(the suite runs this file on SQLite and on PostgreSQL): a plan after apply is empty, a change
is an update field by field shown in words, and beat is told of it."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule

from reconciler.core.plan import Action
from reconciler.core.policy import DEFAULT_POLICY, Policy
from reconciler.core.schedule import Clocked, Crontab, Interval, Solar
from reconciler.engine.read import read_actual, read_one
from reconciler.engine.write import ensure_schedules
from reconciler.models import ManagedTask
from reconciler.render.plan import render_json, render_text
from tests.support.engine import NOW, apply_yaml, marker, plan_yaml

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]


def sync(policy: str = "") -> str:
    lines = "".join(f"    {line}\n" for line in policy.splitlines())
    return f"tasks:\n  sync:\n    task: project.tasks.heartbeat\n    every: 15m\n{lines}"


SKIP = "overlap: skip\nmax_runtime: 10m\ncatchup: all\ncatchup_max: 3\njitter: 2m\nscheduled_time_kwarg: as_of"
SKIP_POLICY = Policy(overlap="skip", max_runtime=600, catchup="all", catchup_max=3, jitter=120,
                     scheduled_time_kwarg="as_of")


def stored() -> str:
    return ManagedTask.objects.get(periodic_task__name="sync").policy


def test_apply_stores_the_policy_and_a_second_plan_is_empty(tmp_path: Path) -> None:
    apply_yaml(tmp_path, sync(SKIP))
    assert json.loads(stored()) == SKIP_POLICY.fields()
    assert plan_yaml(tmp_path).changes == ()
    (read,) = read_actual().tasks  # the full read, not the row digest's shortcut
    assert read.spec.policy == SKIP_POLICY
    one = read_one("sync")
    assert one is not None and one.spec.policy == SKIP_POLICY


def test_a_policy_change_is_an_update_in_words_and_moves_the_marker(tmp_path: Path) -> None:
    apply_yaml(tmp_path, sync())
    assert stored() == ""
    before = marker()
    (tmp_path / "s.yaml").write_text(sync("overlap: skip\nmax_runtime: 10m"))
    plan = plan_yaml(tmp_path)
    (change,) = plan.changes
    assert change.action is Action.UPDATE
    assert [(f.field, f.old, f.new) for f in change.fields] == [
        ("max_runtime", None, 600), ("overlap", "allow", "skip"),
    ]
    text = render_text(plan)
    assert "      max_runtime: (none) → 10m\n" in text and "      overlap: allow → skip\n" in text
    fields = json.loads(render_json(plan))["changes"][0]["fields"]
    assert (fields["overlap"], fields["max_runtime"]) == ({"old": "allow", "new": "skip"}, {"old": None, "new": 600})
    apply_yaml(tmp_path, now=NOW + timedelta(minutes=1))
    assert json.loads(stored()) == {"max_runtime": 600, "overlap": "skip"}
    assert marker() != before  # beat reloads: the policy is what it schedules by
    assert plan_yaml(tmp_path).changes == ()


def test_removing_the_policy_goes_back_to_the_defaults(tmp_path: Path) -> None:
    apply_yaml(tmp_path, sync(SKIP))
    (tmp_path / "s.yaml").write_text(sync())
    (change,) = plan_yaml(tmp_path).changes
    assert ("overlap", "skip", "allow") in [(f.field, f.old, f.new) for f in change.fields]
    apply_yaml(tmp_path)
    assert stored() == ""
    (read,) = read_actual().tasks
    assert read.spec.policy == DEFAULT_POLICY


def test_adopt_stores_the_declared_policy(tmp_path: Path) -> None:
    every = IntervalSchedule.objects.create(every=15, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.create(name="sync", task="project.tasks.heartbeat", interval=every)
    apply_yaml(tmp_path, sync(SKIP), adopt=True)
    assert json.loads(stored()) == SKIP_POLICY.fields()
    assert plan_yaml(tmp_path).changes == ()


# -- calendars and monitors: stored in ownership like the policy ---------------------------------

def digest(body: str = "", cron: str = '"0 9 * * 1-5"') -> str:
    lines = "".join(f"    {line}\n" for line in body.splitlines())
    head = "tasks:\n  digest:\n    task: project.tasks.heartbeat\n"
    return f"{head}    cron: {cron}\n    timezone: Europe/Paris\n{lines}"


CALENDAR = ('exclude:\n  holidays: {country: FR}\n  dates: ["2026-12-24", "2026-12-26..2027-01-02"]\n'
            '  cron: ["* * 1 * *"]\nuntil: "2027-03-31T23:59:59+02:00"\nmax_runs: 5\n'
            "monitor: {grace: 5m, failure_threshold: 3, recovery_threshold: 2, owner: team-billing, severity: page}")
LIST = '["0 9 * * 1-5", "30 14 * * 1-5"]'


def ownership(name: str = "digest") -> ManagedTask:
    return ManagedTask.objects.get(periodic_task__name=name)


def test_apply_stores_calendar_and_monitor_and_a_second_plan_is_empty(tmp_path: Path) -> None:
    apply_yaml(tmp_path, digest(CALENDAR, LIST))
    owned = ownership()
    assert json.loads(owned.calendar) == {
        "also_cron": ["30 14 * * 1-5"], "exclude_cron": ["* * 1 * *"],
        "exclude_dates": ["2026-12-24", "2026-12-26..2027-01-02"], "holidays": "FR", "max_runs": 5,
        "until": "2027-03-31T21:59:59+00:00", "zone": "Europe/Paris",
    }
    assert json.loads(owned.monitor) == {
        "failure_threshold": 3, "grace": 300, "owner": "team-billing", "recovery_threshold": 2, "severity": "page",
    }
    row = PeriodicTask.objects.get(name="digest")  # django-celery-beat's tables hold the first cron
    assert (row.crontab.minute, row.crontab.hour, row.crontab.day_of_week) == ("0", "9", "1-5")
    assert plan_yaml(tmp_path).changes == ()  # the row digest's shortcut
    (read,) = read_actual().tasks  # the full read
    assert read.spec.calendar.also_cron == ("30 14 * * 1-5",) and read.spec.monitor.owner == "team-billing"
    one = read_one("digest")
    assert one is not None and one.spec == read.spec


# (from, to) → the fields of the update, and lines of its text plan
CHANGES = {
    "a-second-cron": (
        digest(), digest(cron=LIST), [("also_cron", (), ("30 14 * * 1-5",))],
        ['      also_cron: [] → ["30 14 * * 1-5"]',
         "        in words: 2 times a weekday: 09:00, 14:30 (Europe/Paris time)"],
    ),
    "holidays": (
        digest("exclude: {holidays: {country: DE, subdivision: BY}}"), digest("exclude: {holidays: {country: FR}}"),
        [("holidays", "DE-BY", "FR")],
        ["      holidays: DE-BY → FR", "        in words: except public holidays in Germany (Bayern) → "
                                       "except public holidays in France"],
    ),
    "holidays-added": (
        digest(), digest("exclude: {holidays: {country: FR}}"),
        [("holidays", None, "FR"), ("zone", None, "Europe/Paris")],
        ["      holidays: (none) → FR", "        in words: (none) → except public holidays in France",
         "      zone: (none) → Europe/Paris"],
    ),
    "until-and-max-runs": (
        digest(), digest('until: "2027-03-31T23:59:59+02:00"\nmax_runs: 5'),
        [("max_runs", None, 5), ("until", None, "2027-03-31T21:59:59+00:00")],
        ["      max_runs: (none) → 5", "      until: (none) → 2027-03-31T23:59:59+02:00"],
    ),
    "monitor": (
        digest("monitor: {grace: 5m, owner: a}"), digest("monitor: {grace: 10m, owner: b, failure_threshold: 3}"),
        [("monitor.failure_threshold", 1, 3), ("monitor.grace", 300, 600), ("monitor.owner", "a", "b")],
        ["      monitor.failure_threshold: 1 → 3", "      monitor.grace: 5m → 10m", "      monitor.owner: a → b"],
    ),
    "calendar-removed": (
        digest('exclude: {dates: ["2026-12-24"]}\nmax_runs: 2'), digest(),
        [("exclude_dates", ("2026-12-24",), ()), ("max_runs", 2, None), ("zone", "Europe/Paris", None)],
        ["      exclude_dates: [\"2026-12-24\"] → []", "        in words: except 2026-12-24 → (none)"],
    ),
}


@pytest.mark.parametrize("case", sorted(CHANGES), ids=sorted(CHANGES))
def test_a_calendar_or_monitor_change_is_an_update_field_by_field(case: str, tmp_path: Path) -> None:
    before, after, fields, lines = CHANGES[case]
    apply_yaml(tmp_path, before)
    (tmp_path / "s.yaml").write_text(after)
    plan = plan_yaml(tmp_path)
    (change,) = plan.changes
    assert change.action is Action.UPDATE
    assert [(f.field, f.old, f.new) for f in change.fields] == fields
    text = render_text(plan)
    assert all(line + "\n" in text for line in lines), text
    json.loads(render_json(plan))  # tuples are JSON lists
    apply_yaml(tmp_path, now=NOW + timedelta(minutes=1))
    assert plan_yaml(tmp_path).changes == ()


def test_adopt_stores_the_declared_calendar(tmp_path: Path) -> None:
    every = IntervalSchedule.objects.create(every=15, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.create(name="sync", task="project.tasks.heartbeat", interval=every)
    apply_yaml(tmp_path, sync("max_runs: 3\nmonitor: {owner: ops}"), adopt=True)
    assert (json.loads(ownership("sync").calendar), json.loads(ownership("sync").monitor)) == (
        {"max_runs": 3}, {"owner": "ops"},
    )
    assert plan_yaml(tmp_path).changes == ()


# -- schedule rows: reused when identical ---------------------------------------------------------

SCHEDULES = {
    "interval": (Interval(90), lambda: IntervalSchedule.objects.create(every=90, period=IntervalSchedule.SECONDS)),
    "interval spelled in minutes": (
        Interval(120), lambda: IntervalSchedule.objects.create(every=2, period=IntervalSchedule.MINUTES)),
    "crontab": (Crontab.canonical("UTC", minute="5", hour="3"),
                lambda: CrontabSchedule.objects.create(minute="5", hour="3", timezone="UTC")),
    "crontab spelled otherwise": (Crontab.canonical("UTC", minute="5", hour="3"),
                                  lambda: CrontabSchedule.objects.create(minute="05", hour="03", timezone="UTC")),
    "solar": (Solar("sunset", Decimal("48.8566"), Decimal("2.3522")),
              lambda: SolarSchedule.objects.create(event="sunset", latitude="48.8566", longitude="2.3522")),
    "clocked": (Clocked(NOW + timedelta(days=1)),
                lambda: ClockedSchedule.objects.create(clocked_time=NOW + timedelta(days=1))),
}


@pytest.mark.parametrize("case", list(SCHEDULES))
@pytest.mark.parametrize("others", [0, 1_200], ids=["alone", "among 1,200 needed"])
def test_an_identical_schedule_row_is_reused_and_a_missing_one_created(case: str, others: int) -> None:
    """Up to EXACT_LOOKUP_LIMIT needed schedules are looked up by their values, past it every row
    is read; either way an identical row is reused, however it is spelled."""
    spec, make = SCHEDULES[case]
    row = make()
    model = type(row)
    extra = [Interval(100_000 + i) for i in range(others)]
    before = model.objects.count()
    ids = ensure_schedules([spec, *extra], "default")
    assert ids[spec] == (KIND_FIELD[model], row.pk)
    assert model.objects.count() == before + (others if model is IntervalSchedule else 0)
    missing = Crontab.canonical("UTC", minute="7") if model is not CrontabSchedule else Interval(7)
    created = ensure_schedules([spec, missing], "default")
    assert created[spec] == ids[spec]
    if model is CrontabSchedule:
        assert created[missing] == ("interval", IntervalSchedule.objects.get(every=7).pk)
    else:
        assert created[missing] == ("crontab", CrontabSchedule.objects.get(minute="7").pk)


KIND_FIELD = {IntervalSchedule: "interval", CrontabSchedule: "crontab", SolarSchedule: "solar",
              ClockedSchedule: "clocked"}
