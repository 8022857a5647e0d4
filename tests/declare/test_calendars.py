"""The calendar options of the language: a ``cron:`` list, ``exclude``, ``until``, ``max_runs``;
each problem located where it is written, and the canonical ``Calendar`` a declaration becomes.
"This schedule never runs" and ``past-until`` are judged by beat's own schedule objects."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.core.calendar import NO_CALENDAR, Calendar
from reconciler.core.schedule import Crontab, Interval
from reconciler.pipeline import default_registry, validate_paths

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # a Tuesday


@pytest.fixture(scope="module")
def registry():  # type: ignore[no-untyped-def]
    return default_registry()


def validate(tmp_path: Path, text: str, registry, **options):  # type: ignore[no-untyped-def]
    (tmp_path / "s.yaml").write_text(text)
    return validate_paths([tmp_path], registry=registry, now=options.pop("now", NOW), **options)


def one(body: str, *, schedule: str = 'cron: "0 9 * * 1-5"') -> str:
    """A file with one task ``t`` (line 2); ``body`` starts on line 5."""
    return ("tasks:\n  t:\n    task: project.tasks.heartbeat\n"
            f"    {schedule}\n" + "".join(f"    {line}\n" for line in body.splitlines()))


# case → (file text, the (code, line, column) of each diagnostic, a phrase of the first message)
INVALID = {
    "cron-list-item": (one("", schedule='cron: ["0 9 * * 1-5", "61 * * * *"]'), [("bad-cron", 4, 27)], "61 > 59"),
    "cron-list-item-block": (
        one('  - "0 9 * * *"\n  - "0 9 *"', schedule="cron:"), [("bad-cron", 6, 9)], "has 5 fields",
    ),
    "cron-list-empty": (one("", schedule="cron: []"), [("schema", 4, 11)], "at least 1 item"),
    "cron-list-mapping-typo": (
        one("", schedule='cron: ["0 9 * * *", {minutes: "5"}]'), [("schema", 4, 26)], "did you mean 'minute'",
    ),
    "cron-list-repeated": (
        one("", schedule='cron: ["0 9 * * 1-5", "0 9 * * mon-fri"]'), [("bad-calendar", 4, 27)], "already item 1",
    ),
    "unknown-country": (one("exclude: {holidays: {country: FRR}}"), [("bad-calendar", 5, 35)], "did you mean 'FR'"),
    "country-not-a-string": (one("exclude: {holidays: {country: 33}}"), [("schema", 5, 35)], "expected a string"),
    "unknown-subdivision": (
        one("exclude: {holidays: {country: DE, subdivision: Bayer}}"), [("bad-calendar", 5, 52)],
        "unknown subdivision 'Bayer' of DE: did you mean 'Bayern'",
    ),
    "no-subdivisions": (
        one("exclude: {holidays: {country: MC, subdivision: X}}"), [("bad-calendar", 5, 52)], "has no subdivisions",
    ),
    "holidays-typo": (one("exclude: {holiday: {country: FR}}"), [("schema", 5, 15)], "did you mean 'holidays'"),
    "day-not-a-day": (one('exclude: {dates: ["2026-02-30"]}'), [("bad-calendar", 5, 23)], "YYYY-MM-DD"),
    "day-a-moment": (
        one("exclude: {dates: [2026-12-24T10:00:00Z]}"), [("bad-calendar", 5, 23)], "is a date-time",
    ),
    "range-reversed": (
        one('exclude:\n  dates:\n    - "2027-01-02..2026-12-26"'), [("bad-calendar", 7, 11)],
        "ends before it starts: write it 2026-12-26..2027-01-02",
    ),
    "ranges-overlapping": (
        one('exclude:\n  dates: ["2026-12-20..2026-12-27", "2026-12-24", "2026-12-26..2027-01-02"]'),
        [("bad-calendar", 6, 41), ("bad-calendar", 6, 55)], "2026-12-24 overlaps 2026-12-20..2026-12-27 (item 1)",
    ),
    "day-twice": (
        one('exclude: {dates: ["2026-12-24", 2026-12-24]}'), [("bad-calendar", 5, 37)], "overlaps 2026-12-24",
    ),
    "until-naive": (one('until: "2027-03-31T23:59:59"'), [("naive-datetime", 5, 12)], "no UTC offset"),
    "until-before-start": (
        one('start_time: "2027-01-01T00:00:00Z"\nuntil: "2026-12-31T00:00:00Z"'), [("bad-calendar", 6, 12)],
        "is not after start_time",
    ),
    "max-runs-zero": (one("max_runs: 0"), [("schema", 5, 15)], "greater than or equal to 1"),
    "max-runs-text": (one("max_runs: '5'"), [("schema", 5, 15)], "integer"),
    "one-off-calendar": (
        one('max_runs: 2\nuntil: "2031-01-01T00:00:00Z"\nexclude: {dates: ["2030-01-01"]}',
            schedule='at: "2030-06-01T00:00:00Z"'),
        [("bad-calendar", 5, 5), ("bad-calendar", 6, 5), ("bad-calendar", 7, 5)], "makes no sense for a one-off",
    ),
    "timezone-without-cron-or-exclude": (one("timezone: Europe/Paris", schedule="every: 1h"), [("schema", 2, 3)],
                                         "the days of exclude"),
    "every-run-excluded": (
        one('exclude: {cron: ["* * * * 1-5"]}'), [("bad-calendar", 5, 5)],
        "this schedule never runs: exclude leaves out every one of its runs in the next 366 days",
    ),
    "christmas-on-a-holiday": (
        one("exclude: {holidays: {country: FR}}", schedule='cron: "0 9 25 12 *"'), [("bad-calendar", 5, 5)],
        "(the first would be 2026-12-25T09:00:00+00:00)",
    ),
    "a-range-over-every-run": (
        one('exclude: {dates: ["2026-11-01..2028-01-01"]}', schedule="every: 1h"), [("bad-calendar", 5, 5)],
        "never runs",
    ),
    "until-before-the-first-run": (
        one('until: "2026-12-31T00:00:00Z"', schedule='cron: "0 9 1 1 *"'), [("bad-calendar", 5, 5)],
        "until (2026-12-31T00:00:00+00:00) comes before its first run (2027-01-01T09:00:00+00:00)",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID), ids=sorted(INVALID))
def test_invalid_calendar(case: str, tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    text, expected, phrase = INVALID[case]
    result = validate(tmp_path, text, registry)
    errors = [d for d in result.diagnostics if d.is_error]
    assert [(d.code, d.source.line, d.source.column) for d in errors] == expected, result.diagnostics
    assert phrase in f"{errors[0].message} ({errors[0].hint})", errors[0]
    assert not result.valid


PARIS = "Europe/Paris"
VALID = {
    "none": ("", NO_CALENDAR),
    "one-cron-in-a-list": ("", NO_CALENDAR),
    "cron-list": ("", Calendar(also_cron=("0 9 * * 1-5",))),
    "holidays-by-name": (
        "timezone: Europe/Paris\nexclude: {holidays: {country: france}}", Calendar(holidays="FR", zone=PARIS),
    ),
    "subdivision-by-name": (
        "exclude: {holidays: {country: DEU, subdivision: bayern}}", Calendar(holidays="DE-BY", zone="UTC"),
    ),
    "dates-sorted-and-canonical": (
        'exclude: {dates: ["2027-02-01", 2026-12-24, "2026-12-26 .. 2027-01-02", "2027-03-01..2027-03-01"]}',
        Calendar(exclude_dates=("2026-12-24", "2026-12-26..2027-01-02", "2027-02-01", "2027-03-01"), zone="UTC"),
    ),
    "excluded-crons-canonical": (
        'exclude: {cron: ["* * 1 * *", {day_of_month: "15", hour: "9", minute: "0"}]}',
        Calendar(exclude_cron=("* * 1 * *", "0 9 15 * *"), zone="UTC"),
    ),
    "until-in-utc-and-max-runs": (
        'until: "2027-03-31T23:59:59+02:00"\nmax_runs: 5', Calendar(until="2027-03-31T21:59:59+00:00", max_runs=5),
    ),
}
SCHEDULES = {"one-cron-in-a-list": 'cron: ["0 9 * * 1-5"]', "cron-list": 'cron: ["30 14 * * 1-5", "0 9 * * mon-fri"]'}


@pytest.mark.parametrize("case", sorted(VALID), ids=sorted(VALID))
def test_valid_calendar(case: str, tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    body, calendar = VALID[case]
    result = validate(tmp_path, one(body, schedule=SCHEDULES.get(case, 'cron: "0 9 * * 1-5"')), registry)
    assert result.valid, result.diagnostics
    (declared,) = result.declared.tasks
    assert declared.spec.calendar == calendar
    assert declared.spec.schedule.expression == ("30 14 * * 1-5" if case == "cron-list" else "0 9 * * 1-5")


def test_the_issue_example(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    text = one(
        'timezone: Europe/Paris\nexclude:\n  holidays: {country: FR}\n'
        '  dates: ["2026-12-24", "2026-12-26..2027-01-02"]\n'
        '  cron: ["* * 1 * *"]\nuntil: "2027-03-31T23:59:59+02:00"\nmax_runs: 5',
        schedule='cron: ["0 9 * * 1-5", "30 14 * * 1-5"]',
    )
    result = validate(tmp_path, text, registry)
    assert result.valid and not result.diagnostics, result.diagnostics
    (declared,) = result.declared.tasks
    assert declared.spec.schedule == Crontab.canonical(PARIS, minute="0", hour="9", day_of_week="1-5")
    assert declared.spec.calendar == Calendar(
        also_cron=("30 14 * * 1-5",), holidays="FR", exclude_dates=("2026-12-24", "2026-12-26..2027-01-02"),
        exclude_cron=("* * 1 * *",), zone=PARIS, until="2027-03-31T21:59:59+00:00", max_runs=5,
    )


def test_an_interval_reads_its_days_in_the_declared_zone(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    """``timezone`` beside ``exclude`` names the zone of the days, whatever the schedule."""
    text = (
        "defaults:\n  timezone: Europe/Berlin\n  exclude: {holidays: {country: DE}}\n"
        "tasks:\n  t:\n    task: project.tasks.heartbeat\n    every: 1h\n"
    )
    result = validate(tmp_path, text, registry)
    assert result.valid, result.diagnostics
    (declared,) = result.declared.tasks
    assert declared.spec.schedule == Interval(3600)
    assert declared.spec.calendar == Calendar(holidays="DE", zone="Europe/Berlin")


def test_an_override_replaces_the_calendar(tmp_path: Path, registry, settings) -> None:  # type: ignore[no-untyped-def]
    settings.RECONCILER_ENVIRONMENTS = ["staging", "production"]
    text = one("until: \"2027-01-01T00:00:00Z\"\noverrides:\n  staging:\n    cron: ['*/5 * * * *', '0 12 * * *']\n"
               "    max_runs: 3")
    staging = validate(tmp_path, text, registry, env="staging")
    assert staging.valid, staging.diagnostics
    spec = staging.declared.tasks[0].spec
    assert (spec.schedule.expression, spec.calendar) == (
        "*/5 * * * *", Calendar(also_cron=("0 12 * * *",), until="2027-01-01T00:00:00+00:00", max_runs=3),
    )
    production = validate(tmp_path, text, registry, env="production").declared.tasks[0].spec
    assert production.calendar == Calendar(until="2027-01-01T00:00:00+00:00")


def test_an_until_already_past_is_a_warning(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    result = validate(tmp_path, one('until: "2026-11-01T00:00:00+01:00"'), registry)
    assert result.valid
    (found,) = result.diagnostics
    assert (found.code, found.is_error, found.source.line, found.source.column) == ("past-until", False, 5, 12)
    assert found.message == ("until 2026-10-31T23:00:00+00:00 is already past: this schedule sends nothing more "
                             "(it is written disabled)")


def test_a_calendar_whose_runs_come_later_is_not_refused(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    """Only a schedule with runs in the next 366 days that the calendar all removes never runs:
    a leap day's cron, its next run four years away, has nothing to exclude in that time."""
    text = one('exclude: {dates: ["2027-01-01"]}', schedule='cron: "0 9 29 2 *"')
    assert validate(tmp_path, text, registry).valid
    soon = one('start_time: "2027-06-01T00:00:00Z"\nexclude: {cron: ["* * * 1-5 *"]}', schedule='cron: "0 9 * * *"')
    assert validate(tmp_path, soon, registry).valid  # from June on, runs remain
