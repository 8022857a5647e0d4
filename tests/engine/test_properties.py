"""Property: whatever ``validate`` accepts, ``apply`` accepts on this database and the next
``plan`` is empty; whatever it refuses, it refuses with located diagnostics, never a traceback.

Declarations are generated valid and mutated: lengths around the columns' limits, numbers
around the integer columns' range, date-times near the ends of the calendar, NUL and other
control characters, NaN and infinities, YAML 1.1 booleans, unknown tasks and time zones.
Runs on SQLite and on PostgreSQL (marker db_backend), on the demo app's real registry.
"""
from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from reconciler.engine.apply import ApplyOptions
from reconciler.engine.read import read_actual
from reconciler.pipeline import apply_paths, plan_paths, validate_paths
from tests.support.engine import NOW, registry

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]

LIMIT = 2**31 - 1
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12)
names = st.one_of(text.filter(str.strip), st.integers(0, 2).map(lambda n: "n" * (198 + n)))
edgy_text = st.one_of(
    text, st.sampled_from(["", " ", "a\x00b", "tab\there", "|pipe|", "`tick`", "line\nbreak"]),
    st.integers(0, 3).map(lambda n: "x" * (198 + n)),
)


def json_values(finite: bool) -> st.SearchStrategy[Any]:
    scalar = st.one_of(
        st.none(), st.booleans(), st.integers(-(2**70), 2**70), text if finite else edgy_text,
        st.floats(allow_nan=not finite, allow_infinity=not finite),
    )
    return st.recursive(
        scalar, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)),
        max_leaves=6,
    )


@st.composite
def moments(draw: st.DrawFn, years: tuple[int, ...] = (1970, 2024, 2031, 9998), naive: bool = False) -> str:
    year = draw(st.sampled_from(years))
    moment = datetime(year, draw(st.integers(1, 12)), draw(st.integers(1, 28)), draw(st.integers(0, 23)))
    offset = draw(st.sampled_from([None, 0, 60, -60, 14 * 60 - 1] if naive else [0, 60, -60, 14 * 60 - 1]))
    if offset is None or (year == 9998 and offset < 0) or (year == 1970 and offset > 0 and moment.month == 1):
        return moment.isoformat() if naive else moment.replace(tzinfo=UTC).isoformat()
    return moment.replace(tzinfo=timezone(timedelta(minutes=offset))).isoformat()


VALID = {
    "duration": st.one_of(st.integers(1, LIMIT), st.sampled_from(["90s", "15m", "2h", "1d", "1h30m", "24855d"])),
    "cron": st.one_of(
        st.sampled_from(["*/7 3 * * *", "* * * * *", "30 2 * * mon-fri", "0 0 1 1 *", "00 00 * * sun",
                         "1,3,5,7,11,13,17,19,23,29,31,37,41,43,47,53,59 * * * *", "0 0 29 2 *"]),
        st.fixed_dictionaries({}, optional={"minute": st.sampled_from(["0", "*/15", 5]),
                                            "day_of_week": st.sampled_from(["sat,sun", "7", 0])}),
    ),
    "timezone": st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Kathmandu"]),
    "moment": moments(),
    "event": st.sampled_from(["sunset", "dawn_civil", "solar_noon"]),
    "latitude": st.floats(-90, 90), "longitude": st.floats(-180, 180),
    "column": st.one_of(text, st.integers(0, 2).map(lambda n: "x" * (198 + n))),
    "priority": st.integers(0, 255),
    "enabled": st.booleans(),
    "task": st.just("project.tasks.heartbeat"),
}
MUTATED = {
    "duration": st.one_of(st.integers(-1, 3).map(lambda n: LIMIT - 1 + n), st.integers(-2, 10**6),
                          st.sampled_from(["24856d", "0s", "soon", "1e3"])),
    "cron": st.sampled_from(["0 0 31 2 *", "61 * * * *", "* *", "*/0 * * * *"]),
    "timezone": st.sampled_from(["Nope/Zone", "Factory", "x" * 70, ""]),
    "moment": moments(years=(1, 1969, 1970, 9998, 9999), naive=True),
    "event": st.just("noon"),
    "latitude": st.one_of(st.just(True), st.floats(90.000001, 1e6)), "longitude": st.just(float("nan")),
    "column": edgy_text,
    "priority": st.sampled_from([-1, 256]),
    "enabled": st.just("yes"),
    "task": st.sampled_from(["project.tasks.nope", "", " "]),
}


def declarations(pool: dict[str, st.SearchStrategy[Any]], finite: bool) -> st.SearchStrategy[dict[str, Any]]:
    def one(key: str) -> st.SearchStrategy[Any]:  # mostly valid values, a mutated one now and then
        return st.one_of(VALID[key], VALID[key], VALID[key], pool[key])

    schedules = st.one_of(
        st.fixed_dictionaries({"every": one("duration")}),
        st.fixed_dictionaries({"cron": one("cron")}, optional={"timezone": one("timezone")}),
        st.fixed_dictionaries({"at": one("moment")}),
        st.fixed_dictionaries({"solar": st.fixed_dictionaries({
            "event": one("event"), "latitude": one("latitude"), "longitude": one("longitude"),
        })}),
    )
    options = st.fixed_dictionaries({}, optional={
        "args": st.lists(json_values(finite), max_size=1),
        "kwargs": st.dictionaries(st.sampled_from(["label", "extra", "n"]), json_values(finite), max_size=2),
        "enabled": one("enabled"), "description": one("column"),
        "queue": one("column"), "exchange": one("column"), "routing_key": one("column"),
        "priority": one("priority"), "headers": st.dictionaries(text, json_values(finite), max_size=2),
        "expires": st.one_of(one("duration"), one("moment")), "start_time": one("moment"),
    })
    return st.builds(lambda task, schedule, extra: {"task": task, **schedule, **extra}, one("task"), schedules, options)


files = st.one_of(
    st.dictionaries(names, declarations(VALID, finite=True), min_size=1, max_size=3),
    st.dictionaries(st.one_of(names, edgy_text), declarations(MUTATED, finite=False), min_size=1, max_size=3),
)


class Rollback(Exception):
    pass


@settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", "150")), deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(tasks=files)
def test_validate_green_means_apply_succeeds_and_converges(tasks: dict[str, dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "generated.yaml").write_text(yaml.safe_dump({"tasks": tasks}, allow_unicode=True))
        validation = validate_paths([Path(folder)], registry=registry(), now=NOW)
        if not validation.valid:
            errors = [d for d in validation.diagnostics if d.is_error]
            event(f"refused: {errors[0].code if errors else '?'}")
            assert errors and all(d.code and d.source and d.source.file.endswith("generated.yaml") for d in errors)
            return
        event("accepted and applied")
        try:
            with transaction.atomic():
                outcome = apply_paths([Path(folder)], options=ApplyOptions(now=NOW, revision="p"), registry=registry())
                assert outcome.result is not None
                replan = plan_paths([Path(folder)], registry=registry(), now=NOW)
                assert replan.plan is not None and replan.plan.changes == (), replan.plan
                # the plan above took the written rows as pristine (``rowdigest``): the row
                # really reads back as its declaration, canonicalised in full
                assert read_actual("default", validation.declared.specs()) == read_actual("default")
                raise Rollback
        except Rollback:
            pass


def test_the_generator_reaches_both_outcomes() -> None:
    """Guards the property against a generator that only ever produces one kind of file."""
    seen: set[bool] = set()

    @settings(max_examples=60, deadline=None, database=None)
    @given(tasks=files)
    def probe(tasks: dict[str, dict[str, Any]]) -> None:
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "g.yaml").write_text(yaml.safe_dump({"tasks": tasks}, allow_unicode=True))
            seen.add(validate_paths([Path(folder)], registry=registry(), now=NOW).valid)

    probe()
    assert seen == {True, False}
