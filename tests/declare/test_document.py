"""Validation rules, table-driven over fixture files, against the demo project's real
Celery registry (no mocked registry)."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.core.schedule import Clocked, Crontab, Interval, Solar
from reconciler.pipeline import default_registry, validate_paths
from tests.conftest import FIXTURES

INVALID = FIXTURES / "invalid"
HOSTILE = FIXTURES / "hostile"  # kept apart: the golden renderings cover invalid/ as a whole
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

# case → the (code, line, column) of every diagnostic it must produce, in order.
INVALID_CASES: dict[str, list[tuple[str, int | None, int | None]]] = {
    "yaml-syntax": [("yaml-syntax", 5, 1)],
    "unsafe-tag": [("unsafe-tag", 3, 11)],
    "unknown-key": [("schema", 5, 5)],
    "unknown-top-level": [("schema", 1, 1)],
    "missing-task": [("schema", 2, 3)],
    "no-schedule": [("schedule-count", 2, 3)],
    "misspelled-schedule-key": [("schema", 4, 5)],
    "two-schedules": [("schedule-count", 2, 3)],
    "unknown-task": [("unknown-task", 3, 11)],
    "bad-arguments": [("bad-arguments", 5, 11)],
    "bad-arguments-kwargs": [("bad-arguments", 7, 7)],
    "bad-argument-type": [("bad-arguments", 7, 23)],
    "bad-argument-type-positional": [("bad-arguments", 5, 25)],
    "bad-cron": [("bad-cron", 4, 11)],
    "bad-cron-never-fires": [("bad-cron", 4, 5)],
    "bad-cron-field-count": [("bad-cron", 4, 11)],
    "bad-timezone": [("bad-timezone", 5, 15)],
    "bad-duration": [("bad-duration", 4, 12)],
    "bad-duration-zero": [("bad-duration", 4, 12)],
    "naive-datetime": [("naive-datetime", 4, 9)],
    "naive-date-unquoted": [("naive-datetime", 4, 9)],
    "yaml11-boolean": [("schema", 5, 12)],
    "yaml11-date-in-args": [("schema", 5, 11)],
    "duplicate-name-in-file": [("duplicate-name", 2, 3), ("duplicate-name", 5, 3)],
    "priority-range": [("schema", 5, 15)],
    "bad-solar": [("schema", 5, 14)],
    "bad-default": [("schema", 2, 13)],
    "name-too-long": [("schema", 2, 3)],
    "not-a-mapping": [("schema", None, None)],
}

# Hostile or unlucky input: a diagnostic each, never a traceback.
HOSTILE_CASES: dict[str, list[tuple[str, int | None, int | None]]] = {
    "recursive-alias": [("recursive-alias", 5, 13)],
    "alias-expansion": [("alias-expansion", 11, 11)],
    "sequence-key": [("schema", 5, 14)],
    "mapping-key": [("schema", 2, 5)],
    "huge-integer": [("yaml-value", 5, 12)],
    "long-timezone": [("bad-timezone", 5, 15)],
    "year-one": [("schema", 4, 9)],
    "year-9999": [("schema", 5, 17)],
    "nan-in-args": [("schema", 5, 11)],
    "inf-in-kwargs": [("schema", 5, 13)],
    "boolean-latitude": [("schema", 4, 38)],
    "empty-task": [("schema", 3, 11)],
    "empty-name": [("schema", 2, 3)],
    "nested-too-deep": [("schema", 5, 11)],
    # Celery's parser refuses these with its ParseException, not a ValueError
    "cron-empty-part": [("bad-cron", 4, 11)],
    "cron-negative": [("bad-cron", 4, 5)],
    "cron-empty-step": [("bad-cron", 4, 11)],
    # what validates must apply: the limits of the columns it is written to
    "every-too-large": [("bad-duration", 4, 12)],
    "expires-too-large": [("bad-duration", 5, 14)],
    "queue-too-long": [("schema", 5, 12)],
    "nul-in-string": [("schema", 5, 18)],
    # renames the plan could not honour
    "renamed-from-declared": [("bad-rename", 8, 19)],
    "renamed-twice": [("bad-rename", 5, 19), ("bad-rename", 9, 19)],
}


@pytest.fixture(scope="module")
def registry():
    return default_registry()


CASES = {**{c: (INVALID, e) for c, e in INVALID_CASES.items()}, **{c: (HOSTILE, e) for c, e in HOSTILE_CASES.items()}}


@pytest.mark.parametrize("case", sorted(CASES), ids=sorted(CASES))
def test_invalid_case_reports_code_file_and_position(case: str, registry) -> None:
    folder, expected = CASES[case]
    result = validate_paths([folder / f"{case}.yaml"], registry=registry, now=NOW)
    found = [(d.code, d.source.line, d.source.column) for d in result.diagnostics]
    assert found == expected
    assert all(d.source.file.endswith(f"{folder.name}/{case}.yaml") for d in result.diagnostics)
    assert not result.valid


def test_every_invalid_fixture_has_a_case() -> None:
    assert sorted(p.stem for p in INVALID.glob("*.yaml")) == sorted(INVALID_CASES)
    assert sorted(p.stem for p in HOSTILE.glob("*.yaml")) == sorted(HOSTILE_CASES)


def test_all_problems_of_all_files_in_one_run(registry) -> None:
    result = validate_paths([INVALID], registry=registry, now=NOW)
    found = {(Path(d.source.file).stem, d.code, d.source.line) for d in result.diagnostics}
    expected = {(case, code, line) for case, rows in INVALID_CASES.items() for code, line, _ in rows}
    assert expected <= found
    # The fixtures reuse a few task names across files: those are reported too, at both places.
    extra = found - expected
    assert extra and {code for _, code, _ in extra} == {"duplicate-name"}


def test_valid_tree_produces_canonical_specs(registry) -> None:
    result = validate_paths([FIXTURES / "valid"], registry=registry, now=NOW)
    assert [d.code for d in result.diagnostics] == ["past-one-off"]
    assert result.valid
    specs = {t.name: t.spec for t in result.declared.tasks}
    assert specs["cron-string"].schedule == Crontab("30", "2", "*", "*", "1-5", "America/New_York")
    assert specs["cron-names-and-steps"].schedule == Crontab("*/15", "9-17", "1,15", "1-6", "0", "America/New_York")
    assert specs["cron-mapping"].schedule == Crontab("0", "3", "*", "*", "0,6", "America/New_York")
    assert specs["cron-utc"].schedule.timezone == "UTC"
    assert [specs[f"every-{k}"].schedule for k in ("int", "seconds", "minutes", "hours", "days", "combined")] == [
        Interval(45), Interval(90), Interval(900), Interval(7200), Interval(86400), Interval(5400),
    ]
    assert specs["at-utc"].schedule == Clocked(datetime(2031, 5, 1, 10, tzinfo=UTC))
    assert specs["at-offset-unquoted"].schedule == Clocked(datetime(2031, 5, 1, 10, tzinfo=UTC))
    assert specs["at-utc"].one_off and specs["at-utc"].enabled
    assert specs["solar"].schedule == Solar("sunset", Decimal("-33.868800"), Decimal("151.209300"))
    options = specs["all-options"]
    assert (options.args, options.kwargs, options.headers) == (
        '["north"]', '{"batch_size":250,"full":true}', '{"team":"supply"}',
    )
    assert (options.enabled, options.queue, options.exchange, options.routing_key) == (
        False, "inventory", "inventory", "inventory.north",
    )
    assert (options.priority, options.expire_seconds) == (255, 300)
    assert options.start_time == datetime(2026, 1, 1, tzinfo=UTC)
    assert specs["every-int"].queue == "default" and specs["every-int"].priority == 3
    assert "from-a-nested-yml-file" in specs


def test_bound_task_self_is_not_an_argument(registry) -> None:
    signature = registry.signatures["project.tasks.generate_report"]
    assert list(signature.parameters) == ["report", "recipients"]


def test_unknown_task_suggests_the_near_miss(registry) -> None:
    result = validate_paths([INVALID / "unknown-task.yaml"], registry=registry, now=NOW)
    assert "project.tasks.send_digest" in (result.diagnostics[0].hint or "")


def test_bad_arguments_reports_the_signature(registry) -> None:
    result = validate_paths([INVALID / "bad-arguments.yaml"], registry=registry, now=NOW)
    assert "send_digest(audience: 'str', *, include_drafts: 'bool' = False)" in result.diagnostics[0].message


def test_misspelled_schedule_key_is_an_unknown_key_with_a_suggestion(registry) -> None:
    result = validate_paths([INVALID / "misspelled-schedule-key.yaml"], registry=registry, now=NOW)
    [diagnostic] = result.diagnostics
    assert (diagnostic.message, diagnostic.hint) == ("unknown key 'crn'", "did you mean 'cron'?")


def test_argument_of_the_wrong_type_names_parameter_hint_and_value(registry) -> None:
    result = validate_paths([INVALID / "bad-argument-type.yaml"], registry=registry, now=NOW)
    [diagnostic] = result.diagnostics
    assert diagnostic.message == (
        "argument 'include_drafts' of project.tasks.send_digest expects bool, got str 'yes please'"
    )


def test_unsafe_tag_is_never_executed(tmp_path: Path, registry) -> None:
    marker = tmp_path / "pwned"
    (tmp_path / "evil.yaml").write_text(
        "tasks:\n  evil:\n    task: !!python/object/apply:os.system "
        f"[\"touch {marker}\"]\n    every: 30\n"
    )
    result = validate_paths([tmp_path], registry=registry, now=NOW)
    assert [d.code for d in result.diagnostics] == ["unsafe-tag"]
    assert not marker.exists()


def test_defaults_timezone_is_not_forced_on_interval_tasks(tmp_path: Path, registry) -> None:
    (tmp_path / "s.yaml").write_text(
        "defaults: {timezone: Europe/Paris}\ntasks:\n  i:\n    task: project.tasks.heartbeat\n    every: 30\n"
    )
    assert validate_paths([tmp_path], registry=registry, now=NOW).diagnostics == ()


def test_timezone_on_an_interval_is_an_error(tmp_path: Path, registry) -> None:
    (tmp_path / "s.yaml").write_text(
        "tasks:\n  i:\n    task: project.tasks.heartbeat\n    every: 30\n    timezone: UTC\n"
    )
    [diagnostic] = validate_paths([tmp_path], registry=registry, now=NOW).diagnostics
    assert diagnostic.code == "schema" and "cron" in diagnostic.message


def test_oversized_file_is_refused(tmp_path: Path, registry, settings) -> None:
    from reconciler.declare import load

    path = tmp_path / "big.yaml"
    path.write_text("tasks: {}\n" + "#" * 100 + "\n")
    document = load.load_file(path, max_bytes=50)
    assert [d.code for d in document.diagnostics] == ["file-too-large"]
    assert "split it" in document.diagnostics[0].message


def test_example_schedules_are_valid(registry) -> None:
    from django.conf import settings

    result = validate_paths([Path(settings.RECONCILER_SCHEDULES_DIR)], registry=registry, now=NOW)
    assert result.diagnostics == ()
    kinds = {t.spec.schedule.kind for t in result.declared.tasks}
    assert kinds == {"cron", "interval", "at", "solar"}


def test_declarations_with_equal_options_share_one_object_of_each(tmp_path: Path, registry) -> None:
    """What writes ownership encodes each option set once per object (``core.options.shared``)."""
    options = (
        "    overlap: skip\n    max_runtime: 10m\n    monitor: {owner: growth, grace: 1m}\n"
        "    until: '2031-01-01T00:00:00Z'\n"
    )
    (tmp_path / "s.yaml").write_text("tasks:\n" + "".join(
        f"  t{i}:\n    task: project.tasks.heartbeat\n    every: {30 + i}\n{options}" for i in range(3)
    ))
    result = validate_paths([tmp_path], registry=registry, now=NOW, use_cache=False)
    assert result.diagnostics == ()
    first, *others = [task.spec for task in result.declared.tasks]
    assert first.policy.overlap == "skip" and first.monitor.owner == "growth" and first.calendar.until
    for spec in others:
        assert spec.policy is first.policy and spec.monitor is first.monitor and spec.calendar is first.calendar
