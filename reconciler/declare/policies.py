"""The run-time policy options of the language (``overlap``, ``catchup``, ``jitter`` …): their
value types, and the rules that relate them to each other and to the schedule.

The value types check one option alone (pydantic, at the boundary); ``problems`` checks a
whole ``Policy`` against its schedule, after the merge of defaults and overrides, so that an
option's limit is judged where it takes effect. What each option means is ``core.policy`` and
docs/policies.md.
"""
from __future__ import annotations

import keyword
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from ..core.diagnostics import did_you_mean
from ..core.policy import CATCHUP, OVERLAP, Policy
from ..core.schedule import Clocked, Crontab, Interval, Schedule, Solar, format_duration
from .fields import shown
from .firing import shortest_cron_gap

MAX_CATCHUP_MAX = 1000
SOLAR_PERIOD = 86400  # a solar event comes about once a day
ONE_OFF_MEANINGLESS = ("overlap", "catchup", "catchup_window", "catchup_max", "jitter")
CODE = "bad-policy"


def _choice(choices: tuple[str, ...]) -> Any:
    def check(value: Any) -> Any:
        if value in choices:
            return value
        hint = did_you_mean(value, choices) if isinstance(value, str) else None
        raise PydanticCustomError(
            "schema", "one of {choices}, got {value}{hint}",
            {"choices": ", ".join(choices), "value": shown(value),
             "hint": f" ({hint})" if hint else ""},
        )
    return check


Overlap = Annotated[Literal["allow", "skip", "queue_one"], BeforeValidator(_choice(OVERLAP))]
Catchup = Annotated[Literal["skip", "once", "all"], BeforeValidator(_choice(CATCHUP))]
CatchupMax = Annotated[int, Field(ge=1, le=MAX_CATCHUP_MAX, strict=True)]


def _identifier(value: Any) -> str:
    if not isinstance(value, str) or not value.isidentifier() or keyword.iskeyword(value):
        raise PydanticCustomError(
            "schema", "a Python identifier (the name of a keyword argument), got {value}",
            {"value": shown(value)},
        )
    return value


Identifier = Annotated[str, BeforeValidator(_identifier), Field(json_schema_extra={"pattern": r"^[A-Za-z_]\w*$"})]


def problems(policy: Policy, schedule: Schedule) -> list[tuple[str, str]]:
    """(the offending option, why) for each rule ``policy`` breaks on ``schedule``."""
    declared = policy.fields()
    if isinstance(schedule, Clocked):
        return [(key, f"{key} makes no sense for a one-off (`at`): it runs once, at its moment, "
                      "with nothing to overlap, catch up or spread")
                for key in ONE_OFF_MEANINGLESS if key in declared]
    found = []
    if policy.overlap != "allow" and policy.max_runtime is None:
        found.append(("overlap", f"overlap: {policy.overlap} needs max_runtime: it is the lease's lifetime "
                                 "(a killed worker blocks the schedule at most this long)"))
    if policy.max_runtime is not None and policy.time_limit is not None and policy.max_runtime > policy.time_limit:
        found.append(("max_runtime", f"max_runtime ({format_duration(policy.max_runtime)}) is longer than "
                                     f"time_limit ({format_duration(policy.time_limit)}): the run is killed first"))
    if policy.catchup_window is not None and policy.catchup == "skip":
        found.append(("catchup_window", "catchup_window applies only with catchup: once or all "
                                        "(catchup: skip catches nothing up)"))
    if policy.catchup_max is not None and policy.catchup != "all":
        found.append(("catchup_max", f"catchup_max applies only with catchup: all (here: {policy.catchup})"))
    jitter = _jitter_problem(policy.jitter, schedule)
    if jitter:
        found.append(("jitter", jitter))
    return found


def _jitter_problem(jitter: int | None, schedule: Schedule) -> str | None:
    if jitter is None:
        return None
    period, what = shortest_period(schedule)
    if period is None or jitter < period:
        return None
    return (f"jitter ({format_duration(jitter)}) must be shorter than the schedule's shortest period: "
            f"{what.format(format_duration(period))}; a run would be sent after the next slot")


def shortest_period(schedule: Schedule) -> tuple[int | None, str]:
    """The shortest time between two slots of ``schedule``, in seconds, and that in words (a
    format string for the duration)."""
    if isinstance(schedule, Interval):
        return schedule.seconds, "its interval is {}"
    if isinstance(schedule, Crontab):
        gap = shortest_cron_gap(schedule.minute, schedule.hour, schedule.day_of_week, schedule.day_of_month,
                                schedule.month_of_year)
        return gap, "two of its times are as little as {} apart (daylight-saving changes aside)"
    if isinstance(schedule, Solar):
        return SOLAR_PERIOD, "a solar event comes about once a day ({})"
    return None, ""
