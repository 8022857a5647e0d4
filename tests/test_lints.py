"""Lints as a table: a small tree of declarations → the warnings it gets (code, task)."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.lints import lint
from reconciler.load import load_text
from reconciler.pipeline import default_registry, validate_paths
from reconciler.validate import validate_documents

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # a Tuesday


def task(name: str, schedule: str, *, job: str = "project.tasks.heartbeat", extra: str = "") -> str:
    return f"  {name}:\n    task: {job}\n    {schedule}\n{extra}"


def lints_of(body: str, herd_limit: int = 50) -> list[tuple[str, str | None]]:
    validated = validate_documents([load_text("tasks:\n" + body, "t.yaml")], default_timezone="UTC", now=NOW)
    assert not validated.diagnostics, validated.diagnostics
    return sorted((d.code, d.name) for d in lint(validated.declarations, now=NOW, herd_limit=herd_limit))


CASES = [
    ("every-minute", task("a", 'cron: "* * * * *"'), [("every-minute", "a")]),
    ("every-minute-of-an-hour", task("a", 'cron: "* 9 * * *"'), [("every-minute", "a")]),
    ("every-minute-spelled-as-a-step", task("a", 'cron: "*/1 * * * *"'), [("every-minute", "a")]),
    ("every-minute-ignored", task("a", 'cron: "* * * * *"', extra="    ignore: [every-minute]\n"), []),
    ("every-minute-interval-is-explicit", task("a", "every: 1m"), []),
    ("uneven-minute-step", task("a", 'cron: "*/7 * * * *"'), [("uneven-step", "a")]),
    ("uneven-hour-step", task("a", 'cron: "0 */5 * * *"'), [("uneven-step", "a")]),
    ("uneven-weekday-step", task("a", 'cron: "0 0 * * */2"'), [("uneven-step", "a")]),
    ("even-steps", task("a", 'cron: "*/15 */6 * * *"'), []),
    ("day-of-month-step-not-judged", task("a", 'cron: "0 0 */2 * *"'), []),
    ("uneven-step-ignored", task("a", 'cron: "*/7 * * * *"', extra="    ignore: [uneven-step]\n"), []),
    (
        "overlap-same-cron-twice",
        task("a", 'cron: "0 3 * * *"') + task("b", 'cron: "0 3 * * *"'),
        [("overlap", "a"), ("overlap", "b")],
    ),
    (
        "overlap-daily-and-monday",
        task("a", 'cron: "0 3 * * *"') + task("b", 'cron: "0 3 * * mon"'),
        [("overlap", "a"), ("overlap", "b")],
    ),
    (
        "overlap-beyond-the-week-first-of-month-and-monday",
        task("a", 'cron: "0 0 1 * *"') + task("b", 'cron: "0 0 * * mon"'),
        [("overlap", "a"), ("overlap", "b")],
    ),
    (
        "overlap-across-time-zones",
        task("a", 'cron: "0 9 * * *"', extra="    timezone: Europe/Paris\n")
        + task("b", 'cron: "0 8 * * *"', extra="    timezone: UTC\n"),
        [("overlap", "a"), ("overlap", "b")],
    ),
    (
        "overlap-one-off-on-a-cron",
        task("a", 'cron: "0 3 * * *"') + task("b", 'at: "2031-01-01T03:00:00Z"'),
        [("overlap", "a"), ("overlap", "b")],
    ),
    ("overlap-same-interval", task("a", "every: 5m") + task("b", "every: 300"), [("overlap", "a"), ("overlap", "b")]),
    ("no-overlap-different-minutes", task("a", 'cron: "0 3 * * *"') + task("b", 'cron: "5 3 * * *"'), []),
    ("no-overlap-impossible-date", task("a", 'cron: "0 0 31 * *"') + task("b", 'cron: "0 0 * 2,4 *"'), []),
    (
        "no-overlap-other-arguments",
        task("a", 'cron: "0 3 * * *"', extra="    args: [x]\n")
        + task("b", 'cron: "0 3 * * *"', extra="    args: [y]\n"),
        [],
    ),
    (
        "no-overlap-other-task",
        task("a", 'cron: "0 3 * * *"') + task("b", 'cron: "0 3 * * *"', job="project.tasks.cleanup_sessions"),
        [],
    ),
    (
        "no-overlap-when-disabled",
        task("a", 'cron: "0 3 * * *"') + task("b", 'cron: "0 3 * * *"', extra="    enabled: false\n"),
        [],
    ),
    (
        "overlap-ignored-on-one-side",
        task("a", 'cron: "0 3 * * *"') + task("b", 'cron: "0 3 * * *"', extra="    ignore: [overlap]\n"),
        [("overlap", "a")],
    ),
]


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_lints(body: str, expected: list[tuple[str, str]]) -> None:
    assert lints_of(body) == expected


def herd_tree(count: int, *, ignored: int = 0) -> str:
    def extra(i: int) -> str:
        return f"    args: [n{i}]\n" + ("    ignore: [herd]\n" if i < ignored else "")

    return "".join(task(f"t{i:03d}", 'cron: "0 2 * * *"', extra=extra(i)) for i in range(count))


@pytest.mark.parametrize(
    ("count", "ignored", "limit", "expected"),
    [(50, 0, 50, []), (51, 0, 50, [("herd", "t000")]), (51, 1, 50, []), (4, 0, 3, [("herd", "t000")])],
    ids=["at-the-limit", "over-the-limit", "one-left-out-with-ignore", "a-lower-limit"],
)
def test_herd(count: int, ignored: int, limit: int, expected: list[tuple[str, str]]) -> None:
    assert lints_of(herd_tree(count, ignored=ignored), herd_limit=limit) == expected


def test_herd_names_the_minute_and_the_count() -> None:
    validated = validate_documents([load_text("tasks:\n" + herd_tree(60), "t.yaml")], default_timezone="UTC", now=NOW)
    (found,) = lint(validated.declarations, now=NOW)
    assert found.message.startswith(
        "60 tasks are due in the same minute, 2026-11-25 02:00 UTC (more than RECONCILER_HERD_LIMIT=50); "
        "6 other minute(s) of the next 7 days are over it too"
    )


def test_lints_run_in_validation_with_positions_and_the_setting(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.yaml").write_text("tasks:\n" + task("a", 'cron: "*/7 * * * *"') + herd_tree(3))
    settings.RECONCILER_HERD_LIMIT = 2
    result = validate_paths([tmp_path], registry=default_registry(), now=NOW)
    assert result.valid
    assert [(d.code, d.source.line, d.source.column) for d in result.diagnostics if d.source] == [
        ("herd", 2, 3), ("uneven-step", 4, 11),  # "a" fires at 02:00 too: with t000..t002, 4 > 2
    ]


def test_an_unknown_code_in_ignore_is_an_error() -> None:
    body = task("a", 'cron: "0 3 * * *"', extra="    ignore: [every-minutes]\n")
    validated = validate_documents([load_text("tasks:\n" + body, "t.yaml")], default_timezone="UTC", now=NOW)
    assert [d.code for d in validated.diagnostics] == ["schema"]
    assert "every-minute" in validated.diagnostics[0].message


def test_defaults_may_ignore_for_the_whole_file() -> None:
    body = task("a", 'cron: "* * * * *"')
    validated = validate_documents(
        [load_text("defaults:\n  ignore: [every-minute]\ntasks:\n" + body, "t.yaml")], default_timezone="UTC", now=NOW,
    )
    assert lint(validated.declarations, now=NOW) == []


def test_validate_reports_lints_and_fails_on_them_only_with_strict(tmp_path: Path) -> None:
    from .cli import manage

    tree = tmp_path / "a.yaml"
    tree.write_text("tasks:\n" + task("a", 'cron: "*/7 * * * *"'))
    unreachable = {"DATABASE_URL": "postgres://postgres@127.0.0.1:1/nope"}
    lenient = manage("reconcile", "validate", "--path", str(tree), env=unreachable)
    assert lenient.returncode == 0 and "warning[uneven-step]" in lenient.stdout
    strict = manage("reconcile", "validate", "--path", str(tree), "--strict", env=unreachable)
    assert strict.returncode == 1 and "warning[uneven-step]" in strict.stdout
