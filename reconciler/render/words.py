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

from ..core.plan import Action, Change, FieldChange
from ..core.policy import DURATION_OPTIONS
from ..core.schedule import Schedule, format_duration, schedule_fields
from ..core.specs import TaskSpec

MOMENT_FIELDS = frozenset({"start_time", "expires"})
POLICY_WORDS: dict[str, Callable[[Any], str]] = {
    **dict.fromkeys(DURATION_OPTIONS, format_duration),
    **dict.fromkeys(("overlap", "catchup", "scheduled_time_kwarg", "catchup_max"), str),
}


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``1 conflict``, ``2 conflicts``: counts in words that agree with their number."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


@lru_cache(maxsize=1024)
def cron_words(expression: str) -> str:
    """cron-descriptor's words on a 24-hour clock (Celery and cron-descriptor both count Sunday as 0)."""
    from cron_descriptor import ExpressionDescriptor, Options  # ~35 ms to import: only once a cron is put in words

    options = Options()
    options.use_24hour_time_format = True
    try:
        return str(ExpressionDescriptor(expression, options).get_description())
    except Exception:
        return f'cron "{expression}"'


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
    """A plan's schedule change in words (``change_words``), or None when they add nothing."""
    if f.field != "schedule" or not says_more(f.old, f.new):
        return None
    old = None if change.action is Action.CREATE else f.old
    return change_words(old, f.new, shown_in=moment_zone(change.desired, "schedule") if change.desired else None)


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
    policy option as it is written (``10m``, ``skip``)."""
    if field in POLICY_WORDS and value is not None:
        return POLICY_WORDS[field](value)
    return show(value, zone=moment_zone(spec, field), moment=field in MOMENT_FIELDS)


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
