"""Schedules and moments as people read them, written one way everywhere (the plan, the
review, the status, the API, the admin). This is the one home of a schedule's wording: in
words (``schedule_words``, ``change_words``; a plan's change: ``schedule_change_words``) and in
our notation (``show_schedule``); a 24-hour clock; ISO 8601 without microseconds in the
declaration's own zone."""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from celery.schedules import crontab_parser

from ..core.plan import Action, Change, FieldChange
from ..core.policy import DURATION_OPTIONS
from ..core.regions import region_name
from ..core.schedule import CRON_FIELD_ORDER, CRON_FIELDS, Schedule, format_duration, schedule_fields
from ..core.specs import TaskSpec

MOMENT_FIELDS = frozenset({"start_time", "expires", "until"})
POLICY_WORDS: dict[str, Callable[[Any], str]] = {  # options shown as they are written (``10m``, ``skip``)
    **dict.fromkeys(DURATION_OPTIONS, format_duration),
    **dict.fromkeys(("overlap", "catchup", "scheduled_time_kwarg", "catchup_max"), str),
    **dict.fromkeys(("holidays", "zone", "max_runs"), str),
    "monitor.grace": format_duration,
    **dict.fromkeys(("monitor.failure_threshold", "monitor.recovery_threshold", "monitor.owner",
                     "monitor.severity"), str),
}
MAX_TIMES = 12  # times of day a cron list is put in words with ("3 times a day: …"), else each cron's words


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``1 conflict``, ``2 conflicts``: counts in words that agree with their number."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


@lru_cache(maxsize=65536)
def cron_words(expression: str) -> str:
    """cron-descriptor's words on a 24-hour clock (Celery and cron-descriptor both count Sunday as 0)."""
    describe, options = _cron_descriptor()
    try:
        return str(describe(expression, options).get_description())
    except Exception:
        return f'cron "{expression}"'


@lru_cache(maxsize=1)
def _cron_descriptor() -> tuple[Any, Any]:
    """cron-descriptor's describer and our options (~35 ms to import: only once a cron is put in
    words). Each describer it makes reads its translations file again (0.13 ms): a first apply
    of 100,000 crons spent seconds there. Its ``GetText`` keeps no state per expression, so
    one per locale is shared."""
    import sys

    from cron_descriptor import ExpressionDescriptor, Options

    module = sys.modules[ExpressionDescriptor.__module__]
    if isinstance(getattr(module, "GetText", None), type):
        module.GetText = lru_cache(maxsize=8)(module.GetText)  # type: ignore[attr-defined]
    options = Options()
    options.use_24hour_time_format = True
    return ExpressionDescriptor, options


def _fields(schedule: dict[str, Any] | Schedule, shown_in: tzinfo | None) -> tuple[dict[str, Any], tzinfo | None]:
    """A schedule's field value (``TaskSpec.fields()["schedule"]``), and the zone its one-off
    moment is written in: ``shown_in``, else the offset it was declared with."""
    if isinstance(schedule, dict):
        return schedule, shown_in
    return schedule_fields(schedule), shown_in or getattr(schedule, "shown_in", None)


def schedule_words(value: dict[str, Any] | Schedule, *, zone: bool = True, shown_in: tzinfo | None = None) -> str:
    """A schedule — a ``Schedule`` or its field value — in words. ``shown_in``: the zone a
    one-off's moment is written in (its declared offset)."""
    value, shown_in = _fields(value, shown_in)
    kind = value.get("kind")
    if kind == "cron":
        words = cron_words(value["expression"])
        return f"{words} ({value['timezone']} time)" if zone else words
    if kind == "interval":
        return f"every {format_duration(value['every'])}"
    if kind == "at":
        return f"once, at {iso(datetime.fromisoformat(value['at']), shown_in or UTC)}"
    if kind == "solar":
        return f"at {value['event'].replace('_', ' ')} at latitude {value['latitude']}, longitude {value['longitude']}"
    return "no schedule"


def change_words(old: Any, new: Any, *, shown_in: tzinfo | None = None) -> str:
    """``At 02:30 → At 03:00 (Europe/Berlin time)``: the zone once when it does not change."""
    if old is None:
        return schedule_words(new, shown_in=shown_in)
    if new is None:
        return schedule_words(old, shown_in=shown_in)
    if _zone(old) is not None and _zone(old) == _zone(new):
        return f"{schedule_words(old, zone=False)} → {schedule_words(new, zone=False)} ({_zone(new)} time)"
    return f"{schedule_words(old, shown_in=shown_in)} → {schedule_words(new, shown_in=shown_in)}"


def schedule_change_words(change: Change, f: FieldChange) -> str | None:
    """A plan's schedule change in words (``change_words``), or a calendar's
    (``calendar_change_words``), or None when they add nothing."""
    if f.field in CALENDAR_WORDS:
        return calendar_change_words(change, f)
    if f.field != "schedule" or not says_more(f.old, f.new):
        return None
    old = None if change.action is Action.CREATE else f.old
    return change_words(old, f.new, shown_in=moment_zone(change.desired, "schedule") if change.desired else None)


def calendar_change_words(change: Change, f: FieldChange) -> str | None:
    """A calendar option's change in words: a cron list as a whole (the declaration's, as it
    will be), exclusions as "except …"."""
    if f.field == "also_cron":
        spec = change.desired
        if spec is None or schedule_fields(spec.schedule).get("kind") != "cron":
            return None
        first = schedule_fields(spec.schedule)
        return f"{cron_list_words((first['expression'], *spec.calendar.also_cron))} ({first['timezone']} time)"
    old, new = (CALENDAR_WORDS[f.field](v) if v else "(none)" for v in (f.old, f.new))
    return new if change.action is Action.CREATE else f"{old} → {new}"


def cron_list_words(expressions: tuple[str, ...] | list[str]) -> str:
    """A union of crons in words: ``2 times a weekday: 09:00, 14:30`` when they share their days
    and each names its times, else each cron's words."""
    parts = [dict(zip(CRON_FIELD_ORDER, e.split(), strict=True)) for e in expressions]
    days = {(p["day_of_month"], p["month_of_year"], p["day_of_week"]) for p in parts}
    times = sorted({t for p in parts for t in _times(p["minute"], p["hour"])})
    if len(days) != 1 or not times or len(times) > MAX_TIMES or any(
            not _times(p["minute"], p["hour"]) for p in parts):
        return "; ".join(cron_words(e) for e in expressions)
    day_of_month, month, day_of_week = days.pop()
    shown = ", ".join(f"{h:02d}:{m:02d}" for h, m in times)
    if (day_of_month, month) == ("*", "*") and day_of_week in ("*", "1-5"):
        return f"{count(len(times), 'time')} a {'day' if day_of_week == '*' else 'weekday'}: {shown}"
    when = cron_words(f"0 0 {day_of_month} {month} {day_of_week}").removeprefix("At 00:00, ")
    return f"{count(len(times), 'time')} a day, {when}: {shown}"


def _times(minute: str, hour: str) -> list[tuple[int, int]]:
    """The (hour, minute) a cron's fields name, or [] when they name more than ``MAX_TIMES``."""
    minutes, hours = (sorted(crontab_parser(CRON_FIELDS[name][0], CRON_FIELDS[name][1]).parse(value))
                      for name, value in (("minute", minute), ("hour", hour)))
    return [(h, m) for h in hours for m in minutes] if len(minutes) * len(hours) <= MAX_TIMES else []


def _days(value: Any) -> str:
    spans = [span.replace("..", " to ") for span in value]
    return "except " + (", ".join(spans[:-1]) + " and " + spans[-1] if len(spans) > 1 else spans[0])


CALENDAR_WORDS: dict[str, Callable[[Any], str]] = {
    "also_cron": str,  # the whole list instead: ``calendar_change_words``
    "holidays": lambda code: f"except public holidays in {region_name(code)}",
    "exclude_dates": _days,
    "exclude_cron": lambda crons: "except " + "; ".join(cron_words(c)[:1].lower() + cron_words(c)[1:] for c in crons),
}


def _zone(value: Any) -> str | None:
    return value.get("timezone") if isinstance(value, dict) and value.get("kind") == "cron" else None


def says_more(old: Any, new: Any) -> bool:
    """Whether the words add something to the shown values (an interval's do not)."""
    return any(isinstance(v, dict) and v.get("kind") in ("cron", "solar") for v in (old, new))


def iso(at: datetime, zone: tzinfo | str = UTC) -> str:
    """ISO 8601 without microseconds, in ``zone``: ``2026-01-01T00:00:00+01:00``."""
    tz = ZoneInfo(zone) if isinstance(zone, str) else zone
    return at.astimezone(tz).replace(microsecond=0).isoformat()


def moment_zone(spec: TaskSpec | None, field: str) -> tzinfo:
    """The zone a moment of ``spec`` is shown in: the offset it was declared with, else the
    schedule's ``timezone``, else UTC."""
    if spec is None:
        return UTC
    declared = {"start_time": spec.start_time, "expires": spec.expires_at}.get(field)
    if field == "schedule":
        shown = getattr(spec.schedule, "shown_in", None)
        if shown is not None:
            return shown
    elif declared is not None and declared.tzinfo is not None:
        return declared.tzinfo
    cron_zone = getattr(spec.schedule, "timezone", None)
    return ZoneInfo(cron_zone) if cron_zone else UTC


def show(value: Any, *, zone: tzinfo | None = None, moment: bool = False) -> str:
    """One field value as people read it; a moment (``moment=True``, or a one-off's) in ``zone``."""
    if isinstance(value, dict) and "kind" in value:
        return show_schedule(value, zone=zone)
    if value is None:
        return "(none)"
    if moment and isinstance(value, str):
        return iso(datetime.fromisoformat(value), zone or UTC)
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else _show_text(value)


def show_field(field: str, value: Any, spec: TaskSpec | None) -> str:
    """A field's value shown in the zone of ``spec`` (the declaration's, when there is one); a
    policy, calendar or monitor option as it is written (``10m``, ``skip``, ``FR``)."""
    if field in POLICY_WORDS and value is not None:
        return POLICY_WORDS[field](value)
    moment = field in MOMENT_FIELDS
    zoned = moment or isinstance(value, dict)  # only a moment or a schedule is shown in a zone (``show``)
    return show(value, zone=moment_zone(spec, field) if zoned else None, moment=moment)


_PLAIN = frozenset({str, int, float, bool, type(None)})


def shown_alone(field: str, value: Any) -> bool:
    """Whether ``show_field``'s text of ``value``, and ``schedule_change_words``' (none), depend on
    the field and value alone, not on the declaration (its zone, its schedule): a memo's key."""
    return type(value) in _PLAIN and field not in MOMENT_FIELDS and field not in CALENDAR_WORDS and field != "schedule"


def _show_text(value: str) -> str:
    return value if value.startswith(("[", "{")) else json.dumps(value, ensure_ascii=False)


def show_schedule(schedule: dict[str, Any] | Schedule, *, zone: tzinfo | None = None) -> str:
    """A schedule in our notation: ``cron "0 8 * * *" (Europe/Paris)``, ``every 5m``,
    ``at 2026-01-01T00:00:00+01:00``, ``solar sunset at 48.8566, 2.3522``."""
    schedule, zone = _fields(schedule, zone)
    kind = schedule["kind"]
    if kind == "cron":
        return f'cron "{schedule["expression"]}" ({schedule["timezone"]})'
    if kind == "interval":
        return f"every {format_duration(schedule['every'])}"
    if kind == "at":
        return f"at {iso(datetime.fromisoformat(schedule['at']), zone or UTC)}"
    if kind == "solar":
        return f"solar {schedule['event']} at {schedule['latitude']}, {schedule['longitude']}"
    return "no schedule"


def clock(at: datetime, zone: tzinfo | str) -> str:
    """``Wed 2026-11-25T03:00:00+01:00``: a run in ISO 8601 (``iso``) in ``zone``, with its weekday."""
    tz = ZoneInfo(zone) if isinstance(zone, str) else zone
    return f"{at.astimezone(tz):%a} {iso(at, tz)}"


def both_zones(at: datetime, zone: tzinfo | str) -> tuple[str, str | None]:
    """The run in the schedule's zone, and in UTC (None when the zone is UTC)."""
    tz = ZoneInfo(zone) if isinstance(zone, str) else zone
    if not at.astimezone(tz).utcoffset() and str(tz) in ("UTC", "Etc/UTC"):
        return clock(at, UTC), None
    return clock(at, tz), iso(at, UTC)
