"""The ``cron`` field: a 5-field string or a mapping of fields (``CronFields``), parsed by
Celery's own crontab (what beat runs), so that what validates is what fires; or a list of
them (``Crons``), whose union is the schedule (a calendar: docs/calendars.md).
"""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any

from celery.schedules import ParseException, crontab, crontab_parser
from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag
from pydantic_core import PydanticCustomError

from ..core.schedule import CRON_FIELD_ORDER
from .fields import as_text, yaml_surprise


class CronFields(BaseModel):
    """``cron`` as a mapping; an omitted field means every value (``*``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    minute: Annotated[str, BeforeValidator(lambda v: _cron_field_text(v))] = "*"
    hour: Annotated[str, BeforeValidator(lambda v: _cron_field_text(v))] = "*"
    day_of_month: Annotated[str, BeforeValidator(lambda v: _cron_field_text(v))] = "*"
    month_of_year: Annotated[str, BeforeValidator(lambda v: _cron_field_text(v))] = "*"
    day_of_week: Annotated[str, BeforeValidator(lambda v: _cron_field_text(v))] = "*"


def _cron_field_text(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return as_text(value)


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


CELERY_REFUSES = (ValueError, RuntimeError, ParseException)  # ParseException: "1,,2", "-1", "*/" (not a ValueError)


@lru_cache(maxsize=65_536)  # a tree's distinct crons (a few hundred bytes each): 4,096 thrashed at 100,000 tasks
def check_cron(minute: str, hour: str, day_of_month: str, month_of_year: str, day_of_week: str) -> None:
    """Parse with Celery's own crontab (what beat runs) and compute a next run, so that an
    expression that can never fire (the 31st of February) is refused, not only parsed.

    Each field is parsed once per distinct text (``_parsed``) and the crontab built from the
    values, which Celery checks as it would the text: a parser is a reference cycle (it keeps
    its own bound methods), and one per field of every distinct cron was 0.56 s of garbage
    collection at 100,000 tasks. A refused expression is parsed again from its text, for
    Celery's own message."""
    try:
        try:
            texts = zip(CRON_FIELD_ORDER, (minute, hour, day_of_month, month_of_year, day_of_week), strict=True)
            fields = {name: set(_parsed(text, *BOUNDS[name])) for name, text in texts}
            schedule = crontab(**fields)
            if fields["day_of_month"] == DAYS_OF_MONTH and fields["month_of_year"] == MONTHS:
                return  # every day of every month: its first run is within a week, no need to compute it
        except CELERY_REFUSES:
            schedule = crontab(
                minute=minute, hour=hour, day_of_month=day_of_month,
                month_of_year=month_of_year, day_of_week=day_of_week,
            )
        schedule.remaining_estimate(datetime(2024, 1, 1))
    except CELERY_REFUSES as exc:
        raise PydanticCustomError("bad-cron", "invalid cron: {error}", {"error": str(exc)}) from None


BOUNDS = {"minute": (60, 0), "hour": (24, 0), "day_of_week": (7, 0), "day_of_month": (31, 1), "month_of_year": (12, 1)}
"""Each field's (count, first value): what ``crontab`` passes to its parser."""
DAYS_OF_MONTH, MONTHS = set(range(1, 32)), set(range(1, 13))


@lru_cache(maxsize=4096)
def _parsed(text: str, count: int, first: int) -> frozenset[int]:
    return frozenset(crontab_parser(count, first).parse(text))


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
            "got {kind}{why}", {"kind": type(value).__name__, "why": yaml_surprise(value)},
        )
    check_cron(**cron_fields_of(value))
    return value


Cron = Annotated[
    str | CronFields,
    BeforeValidator(_cron),
]


MAX_CRONS = 50  # in a ``cron:`` list, and in ``exclude: cron:``: beat evaluates each of them at every tick
ONE_CRON, CRON_LIST = "one-cron", "cron-list"  # the union's tags (pydantic puts them in an error's location)


def _one_or_list(value: Any) -> str:
    return CRON_LIST if isinstance(value, list | tuple) else ONE_CRON


CronList = Annotated[
    list[Cron],
    Field(min_length=1, max_length=MAX_CRONS, description=f"1 to {MAX_CRONS} crons"),
]
Crons = Annotated[
    Annotated[Cron, Tag(ONE_CRON)] | Annotated[CronList, Tag(CRON_LIST)],
    Discriminator(_one_or_list),
]
"""``cron:``: one cron, or a list of them (their union: the first is the row's crontab)."""


def expressions_of(value: str | CronFields | list[str | CronFields]) -> list[dict[str, str]]:
    """The fields of each cron of a ``cron:`` value, in the order written."""
    return [cron_fields_of(item) for item in (value if isinstance(value, list) else [value])]
