"""Lints as a table: a small tree of declarations → the warnings it gets (code, task)."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.core.schedule import CRON_FIELD_ORDER, Crontab
from reconciler.declare.across import validate_documents
from reconciler.declare.firing import Window
from reconciler.declare.lints import lint
from reconciler.declare.load import load_text
from reconciler.pipeline import default_registry, validate_paths

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # a Tuesday


PARIS, NEW_YORK = "    timezone: Europe/Paris\n", "    timezone: America/New_York\n"
LORD_HOWE = "    timezone: Australia/Lord_Howe\n"  # the clocks move by 30 minutes


def task(name: str, schedule: str, *, job: str = "project.tasks.heartbeat", extra: str = "") -> str:
    return f"  {name}:\n    task: {job}\n    {schedule}\n{extra}"


def lints_of(body: str, herd_limit: int = 50) -> list[tuple[str, str | None]]:
    validated = validate_documents([load_text("tasks:\n" + body, "t.yaml")], default_timezone="UTC", now=NOW)
    assert not validated.diagnostics, validated.diagnostics
    return sorted((d.code, d.name) for d in lint(validated.declarations, now=NOW, herd_limit=herd_limit))


CASES = [
    ("every-minute", task("a", 'cron: "* * * * *"'), [("every-minute", "a")]),
    ("every-minute-of-an-hour", task("a", 'cron: "* 9 * * *"'), [("every-minute", "a")]),
    ("every-minute-spelled-as-a-step", task("a", 'cron: "*/1 * * * *"'), [("every-minute", "a")]),
    ("every-minute-ignored", task("a", 'cron: "* * * * *"', extra="    ignore: [every-minute]\n"), []),
    ("every-minute-interval-is-explicit", task("a", "every: 1m"), []),
    ("uneven-minute-step", task("a", 'cron: "*/7 * * * *"'), [("uneven-step", "a")]),
    ("uneven-hour-step", task("a", 'cron: "0 */5 * * *"'), [("uneven-step", "a")]),
    ("uneven-weekday-step", task("a", 'cron: "0 0 * * */2"'), [("uneven-step", "a")]),
    ("even-steps", task("a", 'cron: "*/15 */6 * * *"'), []),
    ("day-of-month-step-not-judged", task("a", 'cron: "0 0 */2 * *"'), []),
    ("uneven-step-ignored", task("a", 'cron: "*/7 * * * *"', extra="    ignore: [uneven-step]\n"), []),
    ("every-minute-in-a-list-s-second-cron", task("a", 'cron: ["0 9 * * *", "* 14 * * *"]'), [("every-minute", "a")]),
    ("every-minute-in-each-cron-of-a-list", task("a", 'cron: ["* 9 * * *", "* 14 * * *"]'),
     [("every-minute", "a"), ("every-minute", "a")]),
    ("every-minute-of-a-list-ignored",
     task("a", 'cron: ["0 9 * * *", "* 14 * * *"]', extra="    ignore: [every-minute]\n"), []),
    ("uneven-step-in-a-list-s-second-cron", task("a", 'cron: ["0 9 * * *", "*/7 * * * *"]'), [("uneven-step", "a")]),
    (
        "overlap-same-cron-twice",
        task("a", 'cron: "0 3 * * *"') + task("b", 'cron: "0 3 * * *"'),
        [("overlap", "a"), ("overlap", "b")],
    ),
    (
        "overlap-daily-and-monday",
        task("a", 'cron: "0 3 * * *"') + task("b", 'cron: "0 3 * * mon"'),
        [("overlap", "a"), ("overlap", "b")],
    ),
    (
        "overlap-beyond-the-week-first-of-month-and-monday",
        task("a", 'cron: "0 0 1 * *"') + task("b", 'cron: "0 0 * * mon"'),
        [("overlap", "a"), ("overlap", "b")],
    ),
    (
        "overlap-across-time-zones",
        task("a", 'cron: "0 9 * * *"', extra="    timezone: Europe/Paris\n")
        + task("b", 'cron: "0 8 * * *"', extra="    timezone: UTC\n"),
        [("overlap", "a"), ("overlap", "b")],
    ),
    (
        "overlap-one-off-on-a-cron",
        task("a", 'cron: "0 3 * * *"') + task("b", 'at: "2031-01-01T03:00:00Z"'),
        [("overlap", "a"), ("overlap", "b")],
    ),
    ("overlap-same-interval", task("a", "every: 5m") + task("b", "every: 300"), [("overlap", "a"), ("overlap", "b")]),
    ("no-overlap-different-minutes", task("a", 'cron: "0 3 * * *"') + task("b", 'cron: "5 3 * * *"'), []),
    ("no-overlap-impossible-date", task("a", 'cron: "0 0 31 * *"') + task("b", 'cron: "0 0 * 2,4 *"'), []),
    (
        "no-overlap-other-arguments",
        task("a", 'cron: "0 3 * * *"', extra="    args: [x]\n")
        + task("b", 'cron: "0 3 * * *"', extra="    args: [y]\n"),
        [],
    ),
    (
        "no-overlap-other-task",
        task("a", 'cron: "0 3 * * *"') + task("b", 'cron: "0 3 * * *"', job="project.tasks.cleanup_sessions"),
        [],
    ),
    (
        "no-overlap-when-disabled",
        task("a", 'cron: "0 3 * * *"') + task("b", 'cron: "0 3 * * *"', extra="    enabled: false\n"),
        [],
    ),
    ("dst-gap-and-repeat-paris", task("a", 'cron: "30 2 * * *"', extra=PARIS), [("dst-gap", "a"), ("dst-repeat", "a")]),
    ("dst-gap-new-york", task("a", 'cron: "30 2 * * *"', extra=NEW_YORK), [("dst-gap", "a")]),
    ("dst-repeat-new-york", task("a", 'cron: "30 1 * * *"', extra=NEW_YORK), [("dst-repeat", "a")]),
    ("dst-gap-lord-howe-half-hour", task("a", 'cron: "15 2 * * *"', extra=LORD_HOWE), [("dst-gap", "a")]),
    ("dst-repeat-lord-howe-half-hour", task("a", 'cron: "45 1 * * *"', extra=LORD_HOWE), [("dst-repeat", "a")]),
    ("dst-lord-howe-outside-the-half-hours", task("a", 'cron: "15 1,3 * * *"', extra=LORD_HOWE), []),
    ("dst-hourly-paris", task("a", 'cron: "0 * * * *"', extra=PARIS), [("dst-gap", "a"), ("dst-repeat", "a")]),
    ("dst-hourly-new-york", task("a", 'cron: "0 * * * *"', extra=NEW_YORK), [("dst-gap", "a"), ("dst-repeat", "a")]),
    ("dst-hours-outside-the-change", task("a", 'cron: "0 8-18 * * *"', extra=PARIS), []),
    ("dst-none-in-utc", task("a", 'cron: "30 2 * * *"'), []),
    ("dst-none-without-daylight-saving", task("a", 'cron: "30 2 * * *"', extra="    timezone: Asia/Tokyo\n"), []),
    ("dst-none-on-weekdays-the-clocks-change-on-sunday", task("a", 'cron: "30 2 * * 1-5"', extra=PARIS), []),
    (
        "dst-ignored",
        task("a", 'cron: "30 2 * * *"', extra=PARIS + "    ignore: [dst-gap, dst-repeat]\n"),
        [],
    ),
    ("dst-gap-ignored-repeat-kept", task("a", 'cron: "30 2 * * *"', extra=PARIS + "    ignore: [dst-gap]\n"),
     [("dst-repeat", "a")]),
    (
        "overlap-ignored-on-one-side",
        task("a", 'cron: "0 3 * * *"') + task("b", 'cron: "0 3 * * *"', extra="    ignore: [overlap]\n"),
        [("overlap", "a")],
    ),
]


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_lints(body: str, expected: list[tuple[str, str]]) -> None:
    assert lints_of(body) == expected


# (id, zone, cron, code, the whole message): the dates of the year after NOW, and what beat does
# on them as tests/declare/test_dst.py observes it on beat's own entry.
DST_MESSAGES = [
    (
        "paris-gap", "Europe/Paris", "30 2 * * *", "dst-gap",
        'cron "30 2 * * *" in Europe/Paris: 02:30 does not exist on 2027-03-28 (the clocks jump from 02:00 to '
        "03:00): beat sends it at 03:30, 1 hour late",
    ),
    (
        "paris-repeat", "Europe/Paris", "30 2 * * *", "dst-repeat",
        'cron "30 2 * * *" in Europe/Paris: 02:30 happens twice on 2027-10-31 (the clocks go back from 03:00 to '
        "02:00): beat sends it once, at the first (UTC+02:00)",
    ),
    (
        "paris-hourly-gap", "Europe/Paris", "0 * * * *", "dst-gap",
        'cron "0 * * * *" in Europe/Paris: 02:00 does not exist on 2027-03-28 (the clocks jump from 02:00 to '
        "03:00): beat skips it (not sent that day)",
    ),
    (
        "paris-every-20-minutes-of-2", "Europe/Paris", "*/20 2 * * *", "dst-gap",
        'cron "*/20 2 * * *" in Europe/Paris: 02:00, 02:20, 02:40 do not exist on 2027-03-28 (the clocks jump '
        "from 02:00 to 03:00): beat sends the run of 02:00 at 03:00, 1 hour late, and skips 02:20, 02:40",
    ),
    (
        "paris-every-10-minutes-repeat", "Europe/Paris", "*/10 * * * *", "dst-repeat",
        'cron "*/10 * * * *" in Europe/Paris: 02:00, 02:10, … 02:50 (6 times) happen twice on 2027-10-31 (the '
        "clocks go back from 03:00 to 02:00): beat sends each once, at the first (UTC+02:00)",
    ),
    (
        "new-york-gap", "America/New_York", "30 2 * * *", "dst-gap",
        'cron "30 2 * * *" in America/New_York: 02:30 does not exist on 2027-03-14 (the clocks jump from 02:00 to '
        "03:00): beat sends it at 03:30, 1 hour late",
    ),
    (
        "new-york-repeat", "America/New_York", "30 1 * * *", "dst-repeat",
        'cron "30 1 * * *" in America/New_York: 01:30 happens twice on 2027-11-07 (the clocks go back from 02:00 '
        "to 01:00): beat sends it once, at the first (UTC-04:00)",
    ),
    (
        "lord-howe-gap", "Australia/Lord_Howe", "15 2 * * *", "dst-gap",
        'cron "15 2 * * *" in Australia/Lord_Howe: 02:15 does not exist on 2027-10-03 (the clocks jump from 02:00 '
        "to 02:30): beat sends it at 02:45, 30 minutes late",
    ),
    (
        "lord-howe-hourly-gap", "Australia/Lord_Howe", "0 * * * *", "dst-gap",
        'cron "0 * * * *" in Australia/Lord_Howe: 02:00 does not exist on 2027-10-03 (the clocks jump from 02:00 '
        "to 02:30): beat sends it at 02:30, 30 minutes late",
    ),
    (
        "lord-howe-repeat", "Australia/Lord_Howe", "45 1 * * *", "dst-repeat",
        'cron "45 1 * * *" in Australia/Lord_Howe: 01:45 happens twice on 2027-04-04 (the clocks go back from '
        "02:00 to 01:30): beat sends it once, at the first (UTC+11:00)",
    ),
]


@pytest.mark.parametrize(
    ("zone", "expression", "code", "message"), [c[1:] for c in DST_MESSAGES], ids=[c[0] for c in DST_MESSAGES],
)
def test_dst_messages_say_when_and_what_beat_does(zone: str, expression: str, code: str, message: str) -> None:
    body = task("a", f'cron: "{expression}"', extra=f"    timezone: {zone}\n")
    validated = validate_documents([load_text("tasks:\n" + body, "t.yaml")], default_timezone="UTC", now=NOW)
    (found,) = [d for d in lint(validated.declarations, now=NOW) if d.code == code]
    assert found.message == message
    assert found.path == ("tasks", "a", "cron") and found.hint is not None and f"ignore: [{code}]" in found.hint


def test_dst_lints_name_every_date_of_the_year_ahead() -> None:
    """From the day before Europe springs forward, the year ahead holds two such Sundays."""
    now = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    body = task("a", 'cron: "30 2 * * *"', extra=PARIS)
    validated = validate_documents([load_text("tasks:\n" + body, "t.yaml")], default_timezone="UTC", now=now)
    (gap,) = [d for d in lint(validated.declarations, now=now) if d.code == "dst-gap"]
    assert "02:30 does not exist on 2026-03-29 and 2027-03-28 (the clocks" in gap.message


def test_dst_lints_at_scale_are_computed_once_per_distinct_cron() -> None:
    """10,000 declarations on 120 distinct crons in the changing hours of four zones."""
    import time

    zones = ("Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Australia/Sydney")  # 120 crons
    body = "".join(
        task(f"t{i}", f'cron: "{i % 30} {1 + i % 2} * * *"', extra=f"    timezone: {zones[i % 4]}\n    args: [{i}]\n")
        for i in range(10_000)
    )
    validated = validate_documents([load_text("tasks:\n" + body, "t.yaml")], default_timezone="UTC", now=NOW)
    from reconciler.declare import dst as days
    from reconciler.declare.lint_dst import dst

    for memo in (days.changes, days.times_in_span, days.account):
        memo.cache_clear()
    started = time.perf_counter()
    found = list(dst(validated.declarations, NOW))
    assert time.perf_counter() - started < 2.0  # about 0.05 s: one simulation per (cron, change), not per task
    assert len(found) > 5_000


def herd_tree(count: int, *, ignored: int = 0) -> str:
    def extra(i: int) -> str:
        return f"    args: [n{i}]\n" + ("    ignore: [herd]\n" if i < ignored else "")

    return "".join(task(f"t{i:03d}", 'cron: "0 2 * * *"', extra=extra(i)) for i in range(count))


@pytest.mark.parametrize(
    ("count", "ignored", "limit", "expected"),
    [(50, 0, 50, []), (51, 0, 50, [("herd", "t000")]), (51, 1, 50, []), (4, 0, 3, [("herd", "t000")])],
    ids=["at-the-limit", "over-the-limit", "one-left-out-with-ignore", "a-lower-limit"],
)
def test_herd(count: int, ignored: int, limit: int, expected: list[tuple[str, str]]) -> None:
    assert lints_of(herd_tree(count, ignored=ignored), herd_limit=limit) == expected


def crowd(*groups: tuple[int, str]) -> str:
    """``count`` tasks per group, each with its own arguments (no overlap), on the group's schedule lines."""
    each = [lines for count, lines in groups for _ in range(count)]
    return "".join(task(f"t{i:03d}", lines, extra=f"    args: [n{i}]\n") for i, lines in enumerate(each))


DAILY, FRIDAY = 'cron: "0 2 * * *"', 'cron: "0 2 * * 5"'
# (id, the tasks, the warnings): 26 tasks on one cron, and 25 whose calendar adds runs at its
# minute or takes them away; the limit is 50. NOW is Tuesday 2026-11-24 12:00 UTC: the window
# runs to Tuesday 2026-12-01 12:00; Thursday 2026-11-26, its one Thursday, is Thanksgiving (US).
HERD_CALENDARS = [
    ("a-list-s-second-cron-counts", crowd((26, DAILY), (25, 'cron: ["0 5 * * *", "0 2 * * *"]')), [("herd", "t000")]),
    ("excluded-dates-do-not", crowd((26, DAILY), (25, DAILY + '\n    exclude: {dates: ["2026-11-24..2026-12-01"]}')),
     []),
    ("excluded-dates-leave-the-other-days", crowd((26, DAILY), (25, DAILY + '\n    exclude: {dates: ["2026-11-25"]}')),
     [("herd", "t000")]),
    ("public-holidays-do-not", crowd((26, 'cron: "0 2 * * 4"'),
                                     (25, 'cron: "0 2 * * 4"\n    exclude: {holidays: {country: US}}')), []),
    ("public-holidays-elsewhere-do", crowd((26, 'cron: "0 2 * * 4"'),
                                           (25, 'cron: "0 2 * * 4"\n    exclude: {holidays: {country: FR}}')),
     [("herd", "t000")]),
    ("an-excluded-cron-does-not", crowd((26, DAILY), (25, 'cron: ["0 2 * * *", "0 3 * * *"]\n'
                                                          '    exclude: {cron: ["* 2 * * *"]}')), []),
    ("runs-after-until-do-not", crowd((26, FRIDAY), (25, DAILY + '\n    until: "2026-11-27T01:59:59Z"')), []),
    ("a-run-at-until-does", crowd((26, FRIDAY), (25, DAILY + '\n    until: "2026-11-27T02:00:00Z"')),
     [("herd", "t000")]),
    ("runs-beyond-max-runs-do-not", crowd((26, FRIDAY), (25, DAILY + "\n    max_runs: 1")), []),
    ("runs-within-max-runs-do", crowd((26, FRIDAY), (25, DAILY + "\n    max_runs: 3")),
     [("herd", "t000")]),
]


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in HERD_CALENDARS], ids=[c[0] for c in HERD_CALENDARS])
def test_herd_counts_a_schedule_with_its_calendar(body: str, expected: list[tuple[str, str]]) -> None:
    assert lints_of(body) == expected


def test_herd_names_the_minute_and_the_count() -> None:
    validated = validate_documents([load_text("tasks:\n" + herd_tree(60), "t.yaml")], default_timezone="UTC", now=NOW)
    (found,) = lint(validated.declarations, now=NOW)
    assert found.message.startswith(
        "60 tasks are due in the same minute, 2026-11-25 02:00 UTC (more than RECONCILER_HERD_LIMIT=50); "
        "6 other minute(s) of the next 7 days are over it too"
    )
    assert found.hint is not None and "jitter: <duration>" in found.hint  # the policy that spreads a herd


def test_lints_run_in_validation_with_positions_and_the_setting(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.yaml").write_text("tasks:\n" + task("a", 'cron: "*/7 * * * *"') + herd_tree(3))
    settings.RECONCILER_HERD_LIMIT = 2
    result = validate_paths([tmp_path], registry=default_registry(), now=NOW)
    assert result.valid
    assert [(d.code, d.source.line, d.source.column) for d in result.diagnostics if d.source] == [
        ("herd", 2, 3), ("uneven-step", 4, 11),  # "a" fires at 02:00 too: with t000..t002, 4 > 2
    ]


def test_an_unknown_code_in_ignore_is_an_error() -> None:
    body = task("a", 'cron: "0 3 * * *"', extra="    ignore: [every-minutes]\n")
    validated = validate_documents([load_text("tasks:\n" + body, "t.yaml")], default_timezone="UTC", now=NOW)
    assert [d.code for d in validated.diagnostics] == ["schema"]
    assert "every-minute" in validated.diagnostics[0].message


def test_defaults_may_ignore_for_the_whole_file() -> None:
    body = task("a", 'cron: "* * * * *"')
    validated = validate_documents(
        [load_text("defaults:\n  ignore: [every-minute]\ntasks:\n" + body, "t.yaml")], default_timezone="UTC", now=NOW,
    )
    assert lint(validated.declarations, now=NOW) == []


def test_validate_reports_lints_and_fails_on_them_only_with_strict(tmp_path: Path) -> None:
    from tests.support.cli import manage

    tree = tmp_path / "a.yaml"
    tree.write_text("tasks:\n" + task("a", 'cron: "*/7 * * * *"'))
    unreachable = {"DATABASE_URL": "postgres://postgres@127.0.0.1:1/nope"}
    lenient = manage("reconcile", "validate", "--path", str(tree), env=unreachable)
    assert lenient.returncode == 0 and "warning[uneven-step]" in lenient.stdout
    strict = manage("reconcile", "validate", "--path", str(tree), "--strict", env=unreachable)
    assert strict.returncode == 1 and "warning[uneven-step]" in strict.stdout


def _reference_minutes(schedule: Crontab, now: datetime) -> frozenset[int]:
    """The firing minutes as the first version of the lint computed them: one real date-time
    per local moment, every day of the window."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from reconciler.core.schedule import CRON_FIELDS
    from reconciler.declare.firing import HORIZON, day_matches, field_values

    start = now.replace(second=0, microsecond=0)
    end, zone = start + HORIZON, ZoneInfo(schedule.timezone)
    fields = {name: field_values(name, getattr(schedule, name)) for name in CRON_FIELDS}
    found = set()
    day = start.astimezone(zone).date() - timedelta(days=1)
    while day <= end.astimezone(zone).date():
        if day_matches(day, fields):
            for hour in fields["hour"]:
                for minute in fields["minute"]:
                    at = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)
                    if start <= at < end:
                        found.add(int(at.timestamp()) // 60)
        day += timedelta(days=1)
    return frozenset(found)


@pytest.mark.parametrize("now", [
    datetime(2026, 3, 26, 22, 17, tzinfo=UTC),  # the week Europe springs forward
    datetime(2026, 10, 22, 0, 0, tzinfo=UTC),  # and falls back
    datetime(2026, 3, 5, 12, 0, tzinfo=UTC),  # America/New_York springs forward
    datetime(2026, 4, 1, 0, 0, tzinfo=UTC),  # Australia/Sydney falls back
    datetime(2026, 6, 1, 0, 0, tzinfo=UTC),  # no change anywhere
])
@pytest.mark.parametrize("expression", [
    "30 2 * * *", "*/7 * * * *", "0 0,1,2,3 * * 0", "15 1-3 25-31 3,10 *", "* 2 * * *", "59 23 * * 1-5",
])
@pytest.mark.parametrize("timezone", ["Europe/Paris", "America/New_York", "Australia/Sydney", "UTC", "Asia/Kolkata"])
def test_firing_minutes_agree_with_one_date_time_per_moment(now: datetime, expression: str, timezone: str) -> None:
    """The window works on each zone's days in integer minutes; across a change of UTC offset
    it must give exactly the moments real date-times give."""
    schedule = Crontab.canonical(timezone, **dict(zip(CRON_FIELD_ORDER, expression.split(), strict=True)))
    assert Window(now).minutes(schedule) == _reference_minutes(schedule, now)
