"""When a task runs, as a frozen value: the four kinds of schedule (``Interval``, ``Crontab``,
``Clocked``, ``Solar``; ``NoSchedule`` for a row without one) in their canonical form, their
plain fields, and a duration as the language writes it (``format_duration``).

Both sides of a comparison build these, so one meaning has one spelling: ``00`` equals ``0``,
``mon`` equals ``1``, a moment is held in UTC, coordinates are quantised as the model stores
them. Nothing here imports Django or pydantic.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from functools import lru_cache
from typing import Any

from celery.schedules import crontab_parser

# (number of values, first value) of each cron field, as Celery's crontab parses them.
CRON_FIELDS: dict[str, tuple[int, int]] = {
    "minute": (60, 0),
    "hour": (24, 0),
    "day_of_month": (31, 1),
    "month_of_year": (12, 1),
    "day_of_week": (7, 0),
}
CRON_FIELD_ORDER = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
SOLAR_EVENTS = (
    "dawn_astronomical",
    "dawn_civil",
    "dawn_nautical",
    "dusk_astronomical",
    "dusk_civil",
    "dusk_nautical",
    "solar_noon",
    "sunrise",
    "sunset",
)
SOLAR_PRECISION = Decimal("0.000001")  # SolarSchedule stores DecimalField(decimal_places=6)


@lru_cache(maxsize=4096)
def canonical_cron_field(field_name: str, raw: str) -> str:
    """The canonical spelling of one cron field, from the set of values it fires on.

    ``*`` when it covers every value, ``*/n`` for a full-range step, otherwise a sorted
    list of values and ranges (``1-5,10``). Raises ``ValueError`` (Celery's) when invalid.
    """
    size, first = CRON_FIELDS[field_name]
    values = sorted(crontab_parser(size, first).parse(str(raw).strip()))
    last = first + size - 1
    if values == list(range(first, last + 1)):
        return "*"
    if len(values) > 2 and values[0] == first:
        step = values[1] - values[0]
        if values == list(range(first, last + 1, step)):
            return f"*/{step}"
    return ",".join(_ranges(values))


def _ranges(values: list[int]) -> list[str]:
    parts: list[str] = []
    start = prev = values[0]
    for value in [*values[1:], None]:
        if value is not None and value == prev + 1:
            prev = value
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if value is not None:
            start = prev = value
    return parts


@dataclass(frozen=True)
class Interval:
    """Every N seconds (written as ``IntervalSchedule(every=N, period='seconds')``)."""

    seconds: int
    kind = "interval"


@dataclass(frozen=True)
class Crontab:
    minute: str = "*"
    hour: str = "*"
    day_of_month: str = "*"
    month_of_year: str = "*"
    day_of_week: str = "*"
    timezone: str = "UTC"
    kind = "cron"

    @classmethod
    def canonical(cls, timezone: str, **fields: str) -> Crontab:
        """Raises ``ValueError`` with Celery's message when a field is invalid."""
        normalised = {
            name: canonical_cron_field(name, fields.get(name, "*")) for name in CRON_FIELD_ORDER
        }
        return cls(timezone=timezone, **normalised)

    @property
    def expression(self) -> str:
        return " ".join(getattr(self, name) for name in CRON_FIELD_ORDER)


@dataclass(frozen=True)
class Clocked:
    """A one-off moment, always held in UTC."""

    at: datetime
    # The offset it was declared with, to show it as written; not compared, not digested.
    shown_in: tzinfo | None = field(default=None, compare=False, repr=False)
    kind = "at"

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("Clocked.at must be timezone-aware")
        if self.shown_in is None and self.at.utcoffset():
            object.__setattr__(self, "shown_in", self.at.tzinfo)
        object.__setattr__(self, "at", self.at.astimezone(UTC))


@dataclass(frozen=True)
class Solar:
    event: str
    latitude: Decimal
    longitude: Decimal
    kind = "solar"

    def __post_init__(self) -> None:
        object.__setattr__(self, "latitude", _solar_decimal(self.latitude))
        object.__setattr__(self, "longitude", _solar_decimal(self.longitude))


def _solar_decimal(value: Decimal | float | str) -> Decimal:
    return Decimal(str(value)).quantize(SOLAR_PRECISION)


@dataclass(frozen=True)
class NoSchedule:
    """A database row with no (or a dangling) schedule: never declared, always a change."""

    kind = "none"


Schedule = Interval | Crontab | Clocked | Solar | NoSchedule


def schedule_fields(schedule: Schedule) -> dict[str, Any]:
    if isinstance(schedule, Interval):
        return {"kind": "interval", "every": schedule.seconds}
    if isinstance(schedule, Crontab):
        return {"kind": "cron", "expression": schedule.expression, "timezone": schedule.timezone}
    if isinstance(schedule, Clocked):
        return {"kind": "at", "at": schedule.at.isoformat()}
    if isinstance(schedule, NoSchedule):
        return {"kind": "none"}
    return {
        "kind": "solar",
        "event": schedule.event,
        "latitude": str(schedule.latitude),
        "longitude": str(schedule.longitude),
    }


_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def format_duration(seconds: int) -> str:
    """3600 → ``1h``; 5400 → ``90m``; the largest unit that divides exactly."""
    for suffix, size in _UNITS:
        if seconds % size == 0:
            return f"{seconds // size}{suffix}"
    return f"{seconds}s"
