"""The value types of the language's fields: each a validator (a raw YAML value in; the value,
or a ``PydanticCustomError`` whose ``type`` is one of our stable diagnostic codes, out) with
its JSON Schema. The models that use them are in ``language``; cron has its own module.
"""
from __future__ import annotations

import math
import re
import zoneinfo
from datetime import UTC, date, datetime
from functools import cache
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

# Limits of the columns the declarations are written to (django-celery-beat 2.9), so that
# whatever validates also applies, on SQLite and PostgreSQL alike.
MAX_NAME_LENGTH = 200  # PeriodicTask.name, .task, .queue, .exchange, .routing_key: CharField(200)
MAX_TEXT_COLUMN = 200
MAX_SECONDS = 2**31 - 1  # IntervalSchedule.every, PeriodicTask.expire_seconds: PostgreSQL integer
MAX_JSON_DEPTH = 64
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)  # leaves a year for beat's arithmetic near datetime.max
DURATION_RE = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$")
DURATION_HELP = "a positive number of seconds, or a duration such as 90s, 15m, 2h, 1d or 1h30m"


def yaml_surprise(value: Any) -> str:
    """Why YAML 1.1 read an unquoted value as a non-string, to append to a message ("" if not)."""
    if isinstance(value, bool):
        return f" (YAML read an unquoted {str(value).lower()}/yes/no/on/off as a boolean: quote it)"
    if isinstance(value, datetime | date):
        return " (YAML read an unquoted date as a date object: quote it)"
    if isinstance(value, int | float):
        return " (YAML read it as a number: quote it)"
    return ""


def shown(value: Any, limit: int = 60) -> str:
    """``repr`` of a value for a message, cut short: hostile input can be megabytes long."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def as_text(value: Any) -> str:
    """A string field: refuse what YAML 1.1 silently converted, with the reason."""
    if isinstance(value, str):
        if "\x00" in value:
            raise PydanticCustomError("schema", "NUL characters are not allowed (the database refuses them)")
        return value
    raise PydanticCustomError(
        "schema", "expected a string, got {kind}{why}",
        {"kind": type(value).__name__, "why": yaml_surprise(value)},
    )


Text = Annotated[str, BeforeValidator(as_text)]


def _column_text(value: Any) -> str:
    text = as_text(value)
    if len(text) > MAX_TEXT_COLUMN:
        raise PydanticCustomError(
            "schema", "at most {limit} characters (the column holds no more), got {length}",
            {"limit": MAX_TEXT_COLUMN, "length": len(text)},
        )
    return text


ColumnText = Annotated[str, BeforeValidator(_column_text), Field(json_schema_extra={"maxLength": MAX_TEXT_COLUMN})]


def parse_duration(value: Any) -> int:
    """Seconds from an integer or a duration string; raises ``bad-duration``."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PydanticCustomError(
            "bad-duration", "expected {help}, got {value}", {"help": DURATION_HELP, "value": shown(value)}
        )
    seconds = value if isinstance(value, int) else _duration_seconds(value)
    if seconds is None or seconds <= 0:
        raise PydanticCustomError(
            "bad-duration", "expected {help}, got {value}", {"help": DURATION_HELP, "value": shown(value)}
        )
    if seconds > MAX_SECONDS:
        raise PydanticCustomError(
            "bad-duration", "{value} is {seconds} seconds, more than the database can hold ({limit} s, "
            "about 68 years)", {"value": shown(value), "seconds": shown(seconds, 30), "limit": f"{MAX_SECONDS:,}"},
        )
    return seconds


def _duration_seconds(text: str) -> int | None:
    if len(text) > 40:
        return None
    if text.strip().isdigit():
        return int(text)
    match = DURATION_RE.match(text)
    if not match or not any(match.groups()):
        return None
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


Duration = Annotated[
    int,
    BeforeValidator(parse_duration),
    Field(json_schema_extra={"anyOf": [
        {"type": "integer", "minimum": 1, "maximum": MAX_SECONDS},
        {"type": "string", "pattern": DURATION_RE.pattern},
    ]}),
]


def _aware_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise PydanticCustomError(
                "schema", "expected an ISO-8601 date-time such as 2030-01-31T09:00:00+01:00, got {value}",
                {"value": shown(value)},
            ) from None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise PydanticCustomError(
                "naive-datetime",
                "the date-time {value} has no UTC offset: add one, such as +00:00 or Z",
                {"value": value.isoformat()},
            )
        return _in_range(value)
    if isinstance(value, date):
        raise PydanticCustomError(
            "naive-datetime", "{value} is a date, not a date-time: write a moment with its UTC offset, "
            "such as \"{value}T09:00:00+00:00\"", {"value": value.isoformat()},
        )
    raise PydanticCustomError("schema", "expected a date-time with a UTC offset, got {value}", {"value": repr(value)})


def _in_range(value: datetime) -> datetime:
    try:
        in_utc = value.astimezone(UTC)
    except OverflowError:
        in_utc = None
    if in_utc is None or not EARLIEST <= in_utc < LATEST:
        raise PydanticCustomError(
            "schema", "the date-time {value} is out of range: it must lie between {first} and {last} (UTC)",
            {"value": value.isoformat(), "first": EARLIEST.date().isoformat(), "last": "9998-12-31"},
        )
    return value


AwareDateTime = Annotated[
    datetime,
    BeforeValidator(_aware_datetime),
    Field(json_schema_extra={"type": "string", "format": "date-time"}),
]


@cache
def timezones() -> frozenset[str]:
    """What ``TimeZoneField`` accepts. Read on first use: listing them opens every file of the
    zone database (7 ms), which a command with no zone to check need not pay."""
    return frozenset(zoneinfo.available_timezones() - {"Factory"})


def _timezone(value: Any) -> str:
    name = as_text(value)
    if name not in timezones():
        raise PydanticCustomError(
            "bad-timezone", "unknown time zone {name}: use an IANA name such as Europe/Paris or UTC",
            {"name": shown(name)},
        )
    return name


TimeZoneName = Annotated[str, BeforeValidator(_timezone), Field(json_schema_extra={"type": "string"})]


def _json_value(value: Any, where: str, depth: int = 0) -> Any:
    """Arguments travel as JSON: refuse what JSON cannot carry (dates, sets, NaN, ...)."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return as_text(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PydanticCustomError(
                "schema", "{value} is not a number JSON can carry", {"value": repr(value)},
            )
        return value
    if depth >= MAX_JSON_DEPTH:
        raise PydanticCustomError(
            "schema", "values nested more than {limit} levels deep", {"limit": MAX_JSON_DEPTH},
        )
    if isinstance(value, list):
        return [_json_value(item, where, depth + 1) for item in value]
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise PydanticCustomError(
                    "schema", "{where}: mapping keys must be strings, got {key}{why}",
                    {"where": where, "key": shown(key), "why": yaml_surprise(key)},
                )
            as_text(key)
        return {key: _json_value(item, where, depth + 1) for key, item in value.items()}
    raise PydanticCustomError(
        "schema", "{where} must be JSON values, got {kind}{why}",
        {"where": where, "kind": type(value).__name__, "why": yaml_surprise(value)},
    )


Args = Annotated[list[Any], BeforeValidator(lambda v: _json_value(v, "args"))]
Kwargs = Annotated[dict[str, Any], BeforeValidator(lambda v: _json_value(v, "kwargs"))]
Headers = Annotated[dict[str, Any], BeforeValidator(lambda v: _json_value(v, "headers"))]


def _task_name(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise PydanticCustomError("schema", "the task name is empty: name a registered Celery task")
    return value


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("schema", "expected a number, got bool{why}", {"why": yaml_surprise(value)})
    return value


Degrees = Annotated[float, BeforeValidator(_number)]


def _expiry(value: Any) -> int | datetime:
    """``expires``: a duration (``expire_seconds``) or an absolute date-time (``expires``)."""
    if isinstance(value, datetime | date) or (isinstance(value, str) and "-" in value):
        return _aware_datetime(value)
    return parse_duration(value)


Expiry = Annotated[
    int | datetime,
    BeforeValidator(_expiry),
    Field(json_schema_extra={"anyOf": [
        {"type": "integer", "minimum": 1, "maximum": MAX_SECONDS},
        {"type": "string", "pattern": DURATION_RE.pattern},
        {"type": "string", "format": "date-time"},
    ]}),
]

TaskName = Annotated[ColumnText, BeforeValidator(_task_name)]
