"""The run-time policy options: values, the rules between them and with the schedule, and
``scheduled_time_kwarg`` against the demo project's real task signatures (no mocked registry)."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.core.policy import DEFAULT_POLICY, Policy
from reconciler.core.schedule import Crontab, Interval, Solar
from reconciler.declare.policies import shortest_period
from reconciler.pipeline import default_registry, validate_paths

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def registry():  # type: ignore[no-untyped-def]
    return default_registry()


def validate(tmp_path: Path, text: str, registry):  # type: ignore[no-untyped-def]
    (tmp_path / "s.yaml").write_text(text)
    return validate_paths([tmp_path], registry=registry, now=NOW)


def one(body: str, *, task: str = "project.tasks.heartbeat", schedule: str = "every: 15m") -> str:
    """A file with one task ``t`` (line 2); ``body`` starts on line 5."""
    return f"tasks:\n  t:\n    task: {task}\n    {schedule}\n" + "".join(f"    {line}\n" for line in body.splitlines())


# case → (file text, the (code, line, column) of each diagnostic, a phrase of the first message)
INVALID = {
    "overlap-typo": (one("overlap: skipp"), [("schema", 5, 14)], "did you mean 'skip'?"),
    "catchup-typo": (one("catchup: al"), [("schema", 5, 14)], "did you mean 'all'?"),
    "catchup-max-zero": (one("catchup: all\ncatchup_max: 0"), [("schema", 6, 18)], "greater than or equal to 1"),
    "catchup-max-over": (one("catchup: all\ncatchup_max: 1001"), [("schema", 6, 18)], "less than or equal to 1000"),
    "catchup-max-string": (one("catchup: all\ncatchup_max: '5'"), [("schema", 6, 18)], "integer"),
    "jitter-not-duration": (one("jitter: soon"), [("bad-duration", 5, 13)], "a duration"),
    "kwarg-not-identifier": (one("scheduled_time_kwarg: as-of"), [("schema", 5, 27)], "Python identifier"),
    "kwarg-keyword": (one("scheduled_time_kwarg: class"), [("schema", 5, 27)], "Python identifier"),
    "overlap-without-max-runtime": (one("overlap: skip"), [("bad-policy", 5, 5)], "the lease's lifetime"),
    "queue-one-without-max-runtime": (one("overlap: queue_one"), [("bad-policy", 5, 5)], "needs max_runtime"),
    "max-runtime-over-time-limit": (
        one("max_runtime: 1h\ntime_limit: 30m"), [("bad-policy", 5, 5)], "max_runtime (1h) is longer than time_limit",
    ),
    "window-with-catchup-skip": (one("catchup: skip\ncatchup_window: 1h"), [("bad-policy", 6, 5)], "once or all"),
    "max-with-catchup-once": (one("catchup_max: 3"), [("bad-policy", 5, 5)], "only with catchup: all"),
    "jitter-interval": (one("jitter: 15m"), [("bad-policy", 5, 5)], "its interval is 15m"),
    "jitter-cron": (
        one("jitter: 8h", schedule='cron: "0 9,17 * * 1-5"'), [("bad-policy", 5, 5)], "as little as 8h apart",
    ),
    "jitter-cron-across-days": (
        one("jitter: 2h", schedule='cron: "0 23,0 * * *"'), [("bad-policy", 5, 5)], "as little as 1h apart",
    ),
    "jitter-solar": (
        one("jitter: 1d", schedule="solar: {event: sunset, latitude: 48.8, longitude: 2.3}"),
        [("bad-policy", 5, 5)], "about once a day",
    ),
    "one-off-jitter-and-catchup": (
        one("jitter: 1m\ncatchup: skip", schedule='at: "2030-01-01T00:00:00Z"'),
        [("bad-policy", 5, 5), ("bad-policy", 6, 5)], "makes no sense for a one-off",
    ),
    "in-defaults": (
        "defaults:\n  overlap: skip\ntasks:\n  t:\n    task: project.tasks.heartbeat\n    every: 15m\n",
        [("bad-policy", 2, 3)], "needs max_runtime",
    ),
    "in-an-override": (
        one("overrides:\n  production:\n    jitter: 1h"), [("bad-policy", 7, 9)], "its interval",
    ),
    "kwarg-also-in-kwargs": (
        one("kwargs: {as_of: x}\nscheduled_time_kwarg: as_of"), [("bad-arguments", 6, 27)], "also declared in kwargs",
    ),
    "kwarg-not-accepted": (
        one("args: [north]\nscheduled_time_kwarg: as_of", task="project.tasks.open_garden_lights"),
        [("bad-arguments", 6, 27)], "unexpected keyword argument 'as_of'",
    ),
    "kwarg-hint-mismatch": (
        one("scheduled_time_kwarg: older_than_days", task="project.tasks.cleanup_sessions"),
        [("bad-arguments", 5, 27)], "expects int",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID), ids=sorted(INVALID))
def test_invalid_policy(case: str, tmp_path: Path, registry, settings) -> None:  # type: ignore[no-untyped-def]
    settings.RECONCILER_ENVIRONMENTS = ["production"]
    settings.RECONCILER_ENV = "production"
    text, expected, phrase = INVALID[case]
    result = validate(tmp_path, text, registry)
    assert [(d.code, d.source.line, d.source.column) for d in result.diagnostics] == expected, result.diagnostics
    assert phrase in result.diagnostics[0].message
    assert all(d.is_error for d in result.diagnostics)


VALID = {
    "none": ("", DEFAULT_POLICY),
    "skip": (
        "overlap: skip\nmax_runtime: 10m\ntime_limit: 20m\ncatchup: skip\njitter: 2m",
        Policy(overlap="skip", max_runtime=600, time_limit=1200, catchup="skip", jitter=120),
    ),
    "all": (
        "catchup: all\ncatchup_window: 2h\ncatchup_max: 5",
        Policy(catchup="all", catchup_window=7200, catchup_max=5),
    ),
    "kwarg-through-star-kwargs": ("scheduled_time_kwarg: as_of", Policy(scheduled_time_kwarg="as_of")),
    "jitter-just-under": ("jitter: 899", Policy(jitter=899)),
}


@pytest.mark.parametrize("case", sorted(VALID), ids=sorted(VALID))
def test_valid_policy(case: str, tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    body, policy = VALID[case]
    result = validate(tmp_path, one(body), registry)
    assert result.valid, result.diagnostics
    (declared,) = result.declared.tasks
    assert declared.spec.policy == policy


def test_scheduled_time_kwarg_may_fill_a_required_parameter(tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    """``generate_report(report: str)``: the slot's time, an ISO string, is the report's name."""
    result = validate(tmp_path, one("scheduled_time_kwarg: report", task="project.tasks.generate_report"), registry)
    assert result.valid, result.diagnostics


def test_defaults_and_overrides_carry_the_policy(tmp_path: Path, registry, settings) -> None:  # type: ignore[no-untyped-def]
    settings.RECONCILER_ENVIRONMENTS = ["staging", "production"]
    settings.RECONCILER_ENV = "production"
    text = (
        "defaults:\n  max_runtime: 10m\n  overrides:\n    production: {overlap: skip}\n"
        "tasks:\n  t:\n    task: project.tasks.heartbeat\n    every: 15m\n"
    )
    (tmp_path / "s.yaml").write_text(text)
    result = validate_paths([tmp_path], registry=registry, now=NOW, env="production")
    assert result.valid, result.diagnostics
    assert result.declared.tasks[0].spec.policy == Policy(overlap="skip", max_runtime=600)


@pytest.mark.parametrize(("schedule", "seconds"), [
    (Interval(90), 90),
    (Crontab.canonical("UTC", minute="*/15"), 900),
    (Crontab.canonical("UTC", minute="0", hour="9"), 86400),
    (Crontab.canonical("UTC", minute="0", hour="9", day_of_week="1"), 7 * 86400),
    (Crontab.canonical("UTC", minute="30", hour="8,20", day_of_month="1"), 12 * 3600),
    (Crontab.canonical("UTC", minute="0", hour="0", day_of_month="29", month_of_year="2"), None),
    (Solar("sunset", Decimal(48), Decimal(2)), 86400),
], ids=["interval", "quarter-hour", "daily", "weekly", "twice-on-the-1st", "leap-day", "solar"])
def test_shortest_period(schedule, seconds: int | None) -> None:  # type: ignore[no-untyped-def]
    assert shortest_period(schedule)[0] == seconds
