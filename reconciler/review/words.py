"""Schedules and run times as a reviewer reads them: in words, in the schedule's own zone and UTC."""
from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from ..render.plan import show
from ..specs import Clocked, TaskSpec, format_duration


@lru_cache(maxsize=1024)
def cron_words(expression: str) -> str:
    """cron-descriptor's words on a 24-hour clock (Celery and cron-descriptor both count Sunday as 0)."""
    from cron_descriptor import ExpressionDescriptor, Options

    options = Options()
    options.use_24hour_time_format = True
    try:
        return str(ExpressionDescriptor(expression, options).get_description())
    except Exception:
        return f'cron "{expression}"'


def schedule_words(value: Any, *, zone: bool = True) -> str:
    """A schedule field value (``TaskSpec.fields()["schedule"]``) in words."""
    if not isinstance(value, dict):
        return show(value)
    kind = value.get("kind")
    if kind == "cron":
        words = cron_words(value["expression"])
        return f"{words} ({value['timezone']} time)" if zone else words
    if kind == "interval":
        return f"every {format_duration(value['every'])}"
    if kind == "at":
        return f"once, at {moment(datetime.fromisoformat(value['at']), 'UTC')}"
    if kind == "solar":
        return f"at {value['event'].replace('_', ' ')} at latitude {value['latitude']}, longitude {value['longitude']}"
    return show(value)


def change_words(old: Any, new: Any) -> str:
    """``At 02:30 → At 03:00 (Europe/Berlin time)``: the zone once when it does not change."""
    if old is None:
        return schedule_words(new)
    if _zone(old) is not None and _zone(old) == _zone(new):
        return f"{schedule_words(old, zone=False)} → {schedule_words(new, zone=False)} ({_zone(new)} time)"
    return f"{schedule_words(old)} → {schedule_words(new)}"


def _zone(value: Any) -> str | None:
    return value.get("timezone") if isinstance(value, dict) and value.get("kind") == "cron" else None


def says_more(old: Any, new: Any) -> bool:
    """Whether the words add something to the shown values (an interval's do not)."""
    return any(isinstance(v, dict) and v.get("kind") in ("cron", "at", "solar") for v in (old, new))


def moment(at: datetime, zone: str) -> str:
    """``Wed 2026-11-25 03:00 CET``; seconds only when there are some (solar events)."""
    local = at.astimezone(ZoneInfo(zone))
    clock = "%H:%M:%S" if local.second else "%H:%M"
    return local.strftime(f"%a %Y-%m-%d {clock} ") + (local.tzname() or zone)


def both_zones(at: datetime, zone: str) -> tuple[str, str | None]:
    """The run in the schedule's zone, and in UTC (None when the zone is UTC)."""
    if zone in ("UTC", "Etc/UTC"):
        return moment(at, "UTC"), None
    utc = at.astimezone(UTC)
    clock = "%H:%M:%S" if utc.second else "%H:%M"
    return moment(at, zone), utc.strftime(f"%Y-%m-%d {clock} UTC")


def no_runs_reason(spec: TaskSpec | None, now: datetime) -> str:
    if spec is None:
        return "none: not declared"
    if isinstance(spec.schedule, Clocked) and spec.schedule.at <= now:
        return "none: the one-off moment is past"
    if not spec.enabled:
        return "none: disabled"
    return "none"
