"""The schedule language: the pydantic models of a schedules file, and its JSON Schema.

This is the boundary: raw YAML values come in, a validated model comes out (or pydantic
errors whose ``type`` is one of our stable diagnostic codes). The value types of the fields
and their validators are in ``fields`` (and ``cron``); checks that need the Celery app (task
names, argument binding) live in ``resolve``. The models build their validators on first use
(``defer_build``), not at import: every command imports them, and one that validates nothing
(``status``, an apply the in-sync memo answers) skips the build.
"""
from __future__ import annotations

import difflib
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator
from pydantic_core import PydanticCustomError

from ..core.schedule import SOLAR_EVENTS
from .calendars import Exclude
from .cron import Crons
from .fields import (
    DURATION_HELP,
    MAX_NAME_LENGTH,
    MAX_SECONDS,
    Args,
    AwareDateTime,
    ColumnText,
    Degrees,
    Duration,
    Expiry,
    Headers,
    Kwargs,
    TaskName,
    Text,
    TimeZoneName,
)
from .monitoring import Monitor
from .policies import Catchup, CatchupMax, Identifier, Overlap
from .shapes import SCHEDULE_KEYS

LINT_CODES = ("dst-gap", "dst-repeat", "every-minute", "herd", "overlap", "uneven-step")  # ignore: codes (lints.py)


# Named Solar because users see the class name: the JSON Schema's $defs, pydantic's messages
# ("instance of Solar"). It becomes a core.specs.Solar (to_spec); no module imports both.
class Solar(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    event: Literal[SOLAR_EVENTS]  # type: ignore[valid-type]
    latitude: Annotated[Degrees, Field(ge=-90, le=90, strict=False)]
    longitude: Annotated[Degrees, Field(ge=-180, le=180, strict=False)]


class Options(BaseModel):
    """The optional keys of a declaration: also what ``defaults`` may set for a file."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

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
    # The run-time policy (core.policy, docs/policies.md); the rules between them: policies.problems.
    overlap: Overlap = Field(
        default="allow", description="a new run while the previous one is queued or running: allow | skip | queue_one",
    )
    max_runtime: Duration | None = Field(
        default=None, description="longer is running-long; with overlap skip|queue_one, the lease's lifetime",
    )
    time_limit: Duration | None = Field(default=None, description="the run's hard time limit, passed to Celery")
    catchup: Catchup = Field(
        default="once", description="the slots missed while no beat was scheduling: skip | once | all",
    )
    catchup_window: Duration | None = Field(default=None, description="missed slots older than this are dropped")
    catchup_max: CatchupMax | None = Field(
        default=None, description="with catchup: all, at most this many runs (default 10)",
    )
    jitter: Duration | None = Field(
        default=None, description="each send is delayed by a stable offset in [0, jitter) taken from the name",
    )
    scheduled_time_kwarg: Identifier | None = Field(
        default=None, description="the slot's time (ISO 8601) is also passed as this keyword argument",
    )
    # The calendar (core.calendar, docs/calendars.md), with a ``cron:`` list; its rules: calendars.problems.
    exclude: Exclude | None = Field(
        default=None, description="public holidays, days and crons with no run (in the schedule's time zone)",
    )
    until: AwareDateTime | None = Field(default=None, description="no run after this moment (with its UTC offset)")
    max_runs: Annotated[int, Field(ge=1, le=MAX_SECONDS, strict=True)] | None = Field(
        default=None, description="then the schedule is complete, as a fired one-off",
    )
    monitor: Monitor | None = Field(
        default=None, description="how health watches it: grace, thresholds, owner, severity (docs/observe.md)",
    )


class Declaration(Options):
    """One task: a registered Celery task name and exactly one schedule."""

    task: TaskName = Field(description="a registered Celery task name")
    cron: Crons | None = Field(
        default=None, description="5-field crontab string or a mapping of fields, or a list of them (their union)",
    )
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
        named = self.timezone is not None and "timezone" in self.model_fields_set
        if named and self.cron is None and self.exclude is None:
            raise PydanticCustomError(
                "schema", "timezone applies to cron schedules, and to the days of exclude (at carries its own "
                "UTC offset)",
            )
        return self


def _misspelled_schedule_key(data: dict[Any, Any]) -> bool:
    unknown = [str(key) for key in data if key not in Declaration.model_fields]
    return any(difflib.get_close_matches(key, SCHEDULE_KEYS, n=1, cutoff=0.6) for key in unknown)


DECLARATION_KEYS = tuple(sorted(Declaration.model_fields))
OPTION_KEYS = tuple(sorted(Options.model_fields))


class ScheduleFile(BaseModel):
    """A schedules file: ``tasks`` (name → declaration) and optional file-wide ``defaults``."""

    model_config = ConfigDict(
        extra="forbid",
        defer_build=True,
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
