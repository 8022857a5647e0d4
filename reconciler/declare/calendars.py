"""The calendar options of the language (a ``cron:`` list, ``exclude:``, ``until``,
``max_runs``): their value types, the rules between them and with the schedule, and the
canonical ``core.calendar.Calendar`` a declaration becomes.

The value types check one option alone (pydantic, at the boundary); ``problems`` checks the
merged declaration, located at the option or the list item at fault. What depends on the
moment of the run (an ``until`` already past, a calendar that never runs from now on) is
judged over the tree at every run (``declare.across``). What the options mean:
docs/calendars.md.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from ..core.calendar import NO_CALENDAR, Calendar
from ..core.diagnostics import did_you_mean
from ..core.options import shared
from ..core.regions import countries, country_code, subdivision_code
from ..core.schedule import Clocked, Crontab, Schedule
from ..core.specs import TaskSpec
from .cron import MAX_CRONS, Cron, CronFields, expressions_of
from .fields import as_text, shown, yaml_surprise
from .positions import KEY

CODE = "bad-calendar"
MAX_DATES = 1000  # excluded days and ranges of one declaration
ONE_OFF_MEANINGLESS = ("exclude", "until", "max_runs")


def _country(value: Any) -> str:
    written = as_text(value)
    code = country_code(written)
    if code is None:
        hint = did_you_mean(written.strip().upper(), countries())
        raise PydanticCustomError(
            CODE, "unknown country {value} for public holidays{hint}: an ISO 3166 code such as FR, DE or US "
            "(the holidays library's countries)", {"value": shown(written), "hint": f" ({hint})" if hint else ""},
        )
    return code


Country = Annotated[str, BeforeValidator(_country), Field(json_schema_extra={"type": "string"})]


class Holidays(BaseModel):
    """The public holidays of a country, or of one of its subdivisions (the ``holidays`` library)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    country: Country = Field(description="ISO 3166 code (FR, DE, US …) or name")
    subdivision: Annotated[str, BeforeValidator(as_text)] | None = Field(
        default=None, description="a state, region … as the holidays library codes it (DE: BY, US: NY …)",
    )

    @field_validator("subdivision")
    @classmethod
    def _known_subdivision(cls, value: str | None, info: ValidationInfo) -> str | None:
        country = info.data.get("country")
        if value is None or country is None:  # no country: its own error says why
            return value
        code = subdivision_code(country, value)
        if code is not None:
            return code
        known = countries()[country].subdivisions
        if not known:
            raise PydanticCustomError(CODE, "{country} has no subdivisions in the holidays library",
                                      {"country": country})
        hint = did_you_mean(value, [*known, *known.values()]) or f"one of: {', '.join(known)}"
        raise PydanticCustomError(CODE, "unknown subdivision {value} of {country}: {hint}",
                                  {"value": shown(value), "country": country, "hint": hint})


def _day(text: str, written: Any) -> date:
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise PydanticCustomError(
            CODE, "expected a day \"YYYY-MM-DD\" or a range \"YYYY-MM-DD..YYYY-MM-DD\", got {value}",
            {"value": shown(written)},
        ) from None


def _excluded_days(value: Any) -> str:
    """One excluded day or range of days (both ends included), canonical: "2026-12-24" or
    "2026-12-26..2027-01-02". YAML reads an unquoted day as a date: taken as written."""
    if isinstance(value, datetime):
        raise PydanticCustomError(CODE, "{value} is a date-time: exclude whole days (\"YYYY-MM-DD\")",
                                  {"value": value.isoformat()})
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str):
        raise PydanticCustomError(CODE, "expected a day \"YYYY-MM-DD\" or a range, got {kind}{why}",
                                  {"kind": type(value).__name__, "why": yaml_surprise(value)})
    first, dots, last = value.strip().partition("..")
    start = _day(first.strip(), value)
    end = _day(last.strip(), value) if dots else start
    if end < start:
        raise PydanticCustomError(CODE, "the range {value} ends before it starts: write it {start}..{end}",
                                  {"value": shown(value), "start": end.isoformat(), "end": start.isoformat()})
    return start.isoformat() if start == end else f"{start.isoformat()}..{end.isoformat()}"


ExcludedDays = Annotated[
    str, BeforeValidator(_excluded_days),
    Field(json_schema_extra={"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}(\.\.\d{4}-\d{2}-\d{2})?$"}),
]


class Exclude(BaseModel):
    """The moments a calendar leaves out; each is read in the schedule's time zone (a cron's,
    else ``timezone``, else UTC)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    holidays: Holidays | None = None
    dates: list[ExcludedDays] = Field(
        default_factory=list, max_length=MAX_DATES, description="days or ranges of days, both ends included",
    )
    cron: list[Cron] = Field(
        default_factory=list, max_length=MAX_CRONS, description="no run at a moment one of these crons matches",
    )


class CalendarOptions(Protocol):
    """What the calendar reads of a merged declaration (``language.Declaration``)."""

    @property
    def cron(self) -> str | CronFields | list[str | CronFields] | None: ...
    @property
    def timezone(self) -> str | None: ...
    @property
    def exclude(self) -> Exclude | None: ...
    @property
    def until(self) -> datetime | None: ...
    @property
    def max_runs(self) -> int | None: ...
    @property
    def start_time(self) -> datetime | None: ...


def calendar_of(options: CalendarOptions, schedule: Schedule) -> Calendar:
    """The canonical calendar: crons and dates in one spelling, the crons after the first
    (the row's own) and the dates sorted, since their order means nothing."""
    if options.exclude is None and options.until is None and options.max_runs is None \
            and not isinstance(options.cron, list):
        return NO_CALENDAR  # most declarations: nothing to build
    exclude = options.exclude or Exclude()
    crons = _expressions(options.cron) if isinstance(options.cron, list) else []  # one cron: the row's, no other
    holidays = exclude.holidays
    excluding = bool(holidays or exclude.dates or exclude.cron)
    calendar = Calendar(
        also_cron=tuple(sorted(set(crons[1:]) - set(crons[:1]))),
        holidays=None if holidays is None else "-".join(filter(None, (holidays.country, holidays.subdivision))),
        exclude_dates=tuple(sorted(set(exclude.dates))),
        exclude_cron=tuple(sorted(set(_expressions(exclude.cron)))),
        zone=_zone(options, schedule) if excluding else None,
        until=options.until.astimezone(UTC).isoformat() if options.until is not None else None,
        max_runs=options.max_runs,
    )
    return NO_CALENDAR if calendar == NO_CALENDAR else shared(calendar)


def _expressions(crons: str | CronFields | list[str | CronFields] | None) -> list[str]:
    return [] if crons is None else [Crontab.canonical("UTC", **f).expression for f in expressions_of(crons)]


def _zone(options: CalendarOptions, schedule: Schedule) -> str:
    return schedule.timezone if isinstance(schedule, Crontab) else options.timezone or "UTC"


def problems(options: CalendarOptions, schedule: Schedule) -> list[tuple[tuple[Any, ...], str]]:
    """(where under the task, why) for each rule the calendar breaks."""
    if isinstance(schedule, Clocked):
        return [((key, KEY), f"{key} makes no sense for a one-off (`at`): it runs once, at its moment")
                for key in ONE_OFF_MEANINGLESS if getattr(options, key) is not None]
    found = _repeated_crons(_expressions(options.cron)) if isinstance(options.cron, list) else []
    if options.exclude is not None:
        found += _overlapping_days(options.exclude.dates)
    if options.until is not None and options.start_time is not None and options.until <= options.start_time:
        found.append((("until",), f"until ({options.until.isoformat()}) is not after start_time "
                                  f"({options.start_time.isoformat()}): this schedule never runs"))
    return found


def _repeated_crons(expressions: list[str]) -> list[tuple[tuple[Any, ...], str]]:
    first: dict[str, int] = {}
    found = []
    for index, expression in enumerate(expressions):
        if expression in first:
            found.append((("cron", index), f"the cron {expression!r} is already item {first[expression] + 1} "
                                           "of the list (the same times): remove one"))
        first.setdefault(expression, index)
    return found


def _overlapping_days(written: list[str]) -> list[tuple[tuple[Any, ...], str]]:
    """A day or range that another one already covers, in part or whole: a sweep in date order,
    reported at the one that comes second."""
    spans = sorted((_span(text), index) for index, text in enumerate(written))
    found = []
    widest: tuple[str, int] | None = None  # the span reaching furthest so far: its end, its index
    for (start, end), index in spans:
        if widest is not None and start <= widest[0]:
            other = written[widest[1]]
            found.append((("exclude", "dates", index), f"{written[index]} overlaps {other} (item "
                                                       f"{widest[1] + 1}): each day once; join them into one range"))
        if widest is None or end > widest[0]:
            widest = (end, index)
    return sorted(found)


def _span(text: str) -> tuple[str, str]:
    first, _, last = text.partition("..")
    return first, last or first


HORIZON = timedelta(days=366)  # a calendar with no run in this long, where its schedule has some, never runs


def never_runs(spec: TaskSpec, now: datetime) -> tuple[str, str] | None:
    """(the option at fault, why) when the calendar leaves no run of a schedule that has some in
    the next ``HORIZON``: every one excluded, or ``until`` before the first. Judged by beat's own
    schedule objects (``beat.kinds.next_runs``: the calendar wraps the row's schedule), not by a
    second evaluation here. An ``until`` already past is the warning ``past-until`` instead."""
    calendar = spec.calendar
    if isinstance(spec.schedule, Clocked) or not (calendar.until or calendar.holidays or calendar.exclude_dates
                                                  or calendar.exclude_cron):
        return None
    if calendar.until is not None and datetime.fromisoformat(calendar.until) <= now:
        return None
    return _never_runs(spec.schedule, calendar, spec.start_time, now)


@lru_cache(maxsize=1024)  # a tree repeats a few calendars; ``now`` is one per run
def _never_runs(
    schedule: Schedule, calendar: Calendar, start_time: datetime | None, now: datetime,
) -> tuple[str, str] | None:
    from ..beat.kinds import next_runs  # not at the top: declare/ imports without Django set up

    spec = TaskSpec(name="", task="", schedule=schedule, start_time=start_time, calendar=calendar)
    end = now + HORIZON
    found = next_runs(spec, now, 1)
    if found and found[0] <= end:
        return None  # the common case: one question
    plain = next_runs(replace(spec, calendar=replace(calendar, holidays=None, exclude_dates=(), exclude_cron=(),
                                                     until=None)), now, 1)
    if not plain or plain[0] > end:
        return None  # the schedule itself has no run to exclude in that time
    until = spec.calendar.until
    if until is not None and datetime.fromisoformat(until) < plain[0]:
        return "until", (f"this schedule never runs: until ({until}) comes before its first run "
                         f"({plain[0].isoformat()})")
    return "exclude", (f"this schedule never runs: exclude leaves out every one of its runs in the next "
                       f"{HORIZON.days} days (the first would be {plain[0].isoformat()})")
