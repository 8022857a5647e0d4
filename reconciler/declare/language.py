"""The schedule language: pydantic models of one declaration, and its JSON Schema.

This is the boundary: raw YAML values come in, a validated model comes out (or pydantic
errors whose ``type`` is one of our stable diagnostic codes). Checks that need the Celery
app (task names, argument binding) live in ``resolve``.
"""
from __future__ import annotations

import difflib
import math
import re
import zoneinfo
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal

from celery.schedules import crontab
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ..core.schedule import CRON_FIELD_ORDER, SOLAR_EVENTS

# Limits of the columns the declarations are written to (django-celery-beat 2.9), so that
# whatever validates also applies, on SQLite and PostgreSQL alike.
MAX_NAME_LENGTH = 200  # PeriodicTask.name, .task, .queue, .exchange, .routing_key: CharField(200)
MAX_TEXT_COLUMN = 200
MAX_SECONDS = 2**31 - 1  # IntervalSchedule.every, PeriodicTask.expire_seconds: PostgreSQL integer
MAX_JSON_DEPTH = 64
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)  # leaves a year for beat's arithmetic near datetime.max
TIMEZONES = frozenset(zoneinfo.available_timezones() - {"Factory"})  # what TimeZoneField accepts
SCHEDULE_KEYS = ("cron", "every", "at", "solar")
LINT_CODES = ("every-minute", "herd", "overlap", "uneven-step")  # warnings a task may silence (lints.py)
DURATION_RE = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$")
DURATION_HELP = "a positive number of seconds, or a duration such as 90s, 15m, 2h, 1d or 1h30m"
QUOTE_HINT = "YAML 1.1 reads unquoted yes/no/on/off as booleans, 010 as octal, and dates as dates: quote the value"


def _yaml_surprise(value: Any) -> str:
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


def _text(value: Any) -> str:
    """A string field: refuse what YAML 1.1 silently converted, with the reason."""
    if isinstance(value, str):
        if "\x00" in value:
            raise PydanticCustomError("schema", "NUL characters are not allowed (the database refuses them)")
        return value
    raise PydanticCustomError(
        "schema", "expected a string, got {kind}{why}",
        {"kind": type(value).__name__, "why": _yaml_surprise(value)},
    )


Text = Annotated[str, BeforeValidator(_text)]
def _column_text(value: Any) -> str:
    text = _text(value)
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


def _timezone(value: Any) -> str:
    name = _text(value)
    if name not in TIMEZONES:
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
        return _text(value)
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
                    {"where": where, "key": shown(key), "why": _yaml_surprise(key)},
                )
            _text(key)
        return {key: _json_value(item, where, depth + 1) for key, item in value.items()}
    raise PydanticCustomError(
        "schema", "{where} must be JSON values, got {kind}{why}",
        {"where": where, "kind": type(value).__name__, "why": _yaml_surprise(value)},
    )


Args = Annotated[list[Any], BeforeValidator(lambda v: _json_value(v, "args"))]
Kwargs = Annotated[dict[str, Any], BeforeValidator(lambda v: _json_value(v, "kwargs"))]
Headers = Annotated[dict[str, Any], BeforeValidator(lambda v: _json_value(v, "headers"))]


class CronFields(BaseModel):
    """``cron`` as a mapping; an omitted field means every value (``*``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    minute: Annotated[str, BeforeValidator(lambda v: _cron_field_text(v))] = "*"
    hour: Annotated[str, BeforeValidator(lambda v: _cron_field_text(v))] = "*"
    day_of_month: Annotated[str, BeforeValidator(lambda v: _cron_field_text(v))] = "*"
    month_of_year: Annotated[str, BeforeValidator(lambda v: _cron_field_text(v))] = "*"
    day_of_week: Annotated[str, BeforeValidator(lambda v: _cron_field_text(v))] = "*"


def _cron_field_text(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _text(value)


def cron_fields_of(value: str | CronFields) -> dict[str, str]:
    if isinstance(value, CronFields):
        return value.model_dump()
    parts = value.split()
    if len(parts) != 5:
        raise PydanticCustomError(
            "bad-cron",
            "a cron expression has 5 fields (minute hour day-of-month month day-of-week), "
            "got {count} in {value}",
            {"count": len(parts), "value": repr(value)},
        )
    return dict(zip(CRON_FIELD_ORDER, parts, strict=True))


@lru_cache(maxsize=4096)
def check_cron(minute: str, hour: str, day_of_month: str, month_of_year: str, day_of_week: str) -> None:
    """Parse with Celery's own crontab (what beat runs) and compute a next run, so that an
    expression that can never fire (the 31st of February) is refused, not only parsed."""
    try:
        schedule = crontab(
            minute=minute, hour=hour, day_of_month=day_of_month,
            month_of_year=month_of_year, day_of_week=day_of_week,
        )
        schedule.remaining_estimate(datetime(2024, 1, 1))
    except (ValueError, RuntimeError) as exc:
        raise PydanticCustomError("bad-cron", "invalid cron: {error}", {"error": str(exc)}) from None


def _cron(value: Any) -> str | CronFields:
    if isinstance(value, dict):
        value = CronFields.model_validate(value)
    elif isinstance(value, str):
        if len(value) > 1000:
            raise PydanticCustomError("bad-cron", "a cron expression of {length:,} characters is not one",
                                      {"length": len(value)})
        value = " ".join(value.split())
    elif not isinstance(value, CronFields):
        raise PydanticCustomError(
            "bad-cron", "cron is a 5-field string such as \"30 2 * * mon-fri\" or a mapping of fields, "
            "got {kind}{why}", {"kind": type(value).__name__, "why": _yaml_surprise(value)},
        )
    check_cron(**cron_fields_of(value))
    return value


Cron = Annotated[
    str | CronFields,
    BeforeValidator(_cron),
]


def _task_name(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise PydanticCustomError("schema", "the task name is empty: name a registered Celery task")
    return value


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("schema", "expected a number, got bool{why}", {"why": _yaml_surprise(value)})
    return value


Degrees = Annotated[float, BeforeValidator(_number)]


class Solar(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event: Literal[SOLAR_EVENTS]  # type: ignore[valid-type]
    latitude: Annotated[Degrees, Field(ge=-90, le=90, strict=False)]
    longitude: Annotated[Degrees, Field(ge=-180, le=180, strict=False)]


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


class Options(BaseModel):
    """The optional keys of a declaration: also what ``defaults`` may set for a file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    args: Args = Field(default_factory=list)
    kwargs: Kwargs = Field(default_factory=dict)
    enabled: StrictBool = True
    timezone: TimeZoneName | None = Field(default=None, description="IANA time zone of a cron schedule")
    description: Text = ""
    queue: ColumnText | None = None
    exchange: ColumnText | None = None
    routing_key: ColumnText | None = None
    priority: Annotated[int, Field(ge=0, le=255, strict=True)] | None = None
    headers: Headers = Field(default_factory=dict)
    environments: list[str] | None = Field(
        default=None, description="the environments this exists in (RECONCILER_ENVIRONMENTS); default: all",
    )
    overrides: dict[str, dict[str, Any]] | None = Field(
        default=None, description="environment name → keys that differ there (a schedule key replaces the schedule)",
    )
    expires: Expiry | None = Field(
        default=None,
        description="a duration (becomes expire_seconds) or a date-time with its UTC offset (becomes expires)",
    )
    start_time: AwareDateTime | None = None
    ignore: list[Literal[LINT_CODES]] = Field(  # type: ignore[valid-type]
        default_factory=list, description="lint warnings silenced for this task (docs/language.md)",
    )


class Declaration(Options):
    """One task: a registered Celery task name and exactly one schedule."""

    task: Annotated[ColumnText, BeforeValidator(_task_name)] = Field(description="a registered Celery task name")
    cron: Cron | None = Field(default=None, description="5-field crontab string or a mapping of fields")
    every: Duration | None = Field(default=None, description=DURATION_HELP)
    at: AwareDateTime | None = Field(default=None, description="a one-off moment with its UTC offset")
    solar: Solar | None = None
    renamed_from: Text | None = Field(
        default=None, description="the previous name: the row is renamed in place, keeping its history",
    )

    @model_validator(mode="before")
    @classmethod
    def _exactly_one_schedule(cls, data: Any) -> Any:
        if isinstance(data, dict):
            present = [key for key in SCHEDULE_KEYS if data.get(key) is not None]
            if not present and _misspelled_schedule_key(data):
                return data  # reported as an unknown key with "did you mean", not as no schedule
            if len(present) != 1:
                found = ", ".join(present) if present else "none"
                raise PydanticCustomError(
                    "schedule-count",
                    "a task needs exactly one schedule among cron, every, at and solar (found: {found})",
                    {"found": found},
                )
        return data

    @model_validator(mode="after")
    def _timezone_only_with_cron(self) -> Declaration:
        if self.timezone is not None and self.cron is None and "timezone" in self.model_fields_set:
            raise PydanticCustomError(
                "schema", "timezone applies to cron schedules only (at carries its own UTC offset)"
            )
        return self


def _misspelled_schedule_key(data: dict[Any, Any]) -> bool:
    unknown = [str(key) for key in data if key not in Declaration.model_fields]
    return any(difflib.get_close_matches(key, SCHEDULE_KEYS, n=1, cutoff=0.6) for key in unknown)


class ScheduleFile(BaseModel):
    """A schedules file: ``tasks`` (name → declaration) and optional file-wide ``defaults``."""

    model_config = ConfigDict(
        extra="forbid",
        title="Schedules",
        json_schema_extra={"$id": "https://schedules-reconciler.invalid/schema/v1"},
    )

    defaults: Options | None = None
    tasks: dict[Annotated[str, Field(max_length=MAX_NAME_LENGTH)], Declaration] = Field(default_factory=dict)


def json_schema(task_names: list[str] | None = None) -> dict[str, Any]:
    """The JSON Schema of a schedules file; with ``task_names``, ``task`` is an enum of them."""
    schema = ScheduleFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    if task_names is not None:
        schema["$defs"]["Declaration"]["properties"]["task"]["enum"] = sorted(task_names)
    return schema
