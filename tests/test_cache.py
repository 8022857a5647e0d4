"""The validation cache: an unchanged file is not parsed again, and nothing that changes a
file's verdict (its bytes, a task's signature or default, a deleted task, a corrupt entry,
the moment of the run) is ever answered from it."""
from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from reconciler.pipeline import validate_paths
from reconciler.resolve import Registry, registry_from_app

from .engine import NOW, registry

GOOD = "tasks:\n  nightly:\n    task: cache.report\n    cron: \"0 3 * * *\"\n    kwargs: {size: 10}\n"


def good(i: int) -> str:
    return GOOD.replace("nightly", f"nightly-{i}").replace('"0 3', f'"{i} 3')


def app_with(run: Any) -> Registry:
    """A real Celery app whose registry holds one task, ``cache.report``."""
    app = Celery("cache-test", set_as_current=False)
    app.task(name="cache.report", shared=False)(run)
    return registry_from_app(app)


def report(size: int = 5) -> None: ...
def report_other_default(size: int = 6) -> None: ...
def report_renamed_parameter(limit: int = 5) -> None: ...
def report_text(size: str = "5") -> None: ...


@pytest.fixture
def tree(tmp_path: Path, settings) -> Path:  # type: ignore[no-untyped-def]
    settings.RECONCILER_CACHE_DIR = tmp_path / "cache"
    folder = tmp_path / "schedules"
    folder.mkdir()
    for i in range(3):
        (folder / f"f{i}.yaml").write_text(good(i))
    return folder


def run(folder: Path, reg: Registry, **kw: Any):  # type: ignore[no-untyped-def]
    return validate_paths([folder], registry=reg, now=kw.pop("now", NOW), **kw)


def test_unchanged_files_come_from_the_cache_with_the_same_result(tree: Path) -> None:
    reg = app_with(report)
    cold, warm = run(tree, reg), run(tree, reg)
    assert (cold.cached, warm.cached) == (0, 3)
    assert warm.declared == cold.declared and warm.diagnostics == cold.diagnostics and warm.checked == cold.checked
    (tree / "f1.yaml").write_text(good(1).replace("nightly-1", "renamed"))
    changed = run(tree, reg)
    assert changed.cached == 2 and "renamed" in {t.name for t in changed.declared.tasks}
    assert run(tree, reg, use_cache=False).cached == 0


CHANGES = [
    ("signature", report_renamed_parameter, "bad-arguments"),
    ("hint", report_text, "bad-arguments"),
    ("default", report_other_default, None),
    ("deleted-task", None, "unknown-task"),
]


@pytest.mark.parametrize(("case", "now_registered", "code"), CHANGES, ids=[c[0] for c in CHANGES])
def test_a_changed_registry_is_never_answered_from_the_cache(
    tree: Path, case: str, now_registered: Any, code: str | None,
) -> None:
    assert run(tree, app_with(report)).valid
    if now_registered is None:
        changed = registry_from_app(Celery("empty", set_as_current=False))
    else:
        changed = app_with(now_registered)
    result = run(tree, changed)
    assert result.cached == 0
    assert sorted({d.code for d in result.diagnostics if d.is_error}) == ([code] if code else [])


def test_files_with_errors_are_never_stored(tree: Path) -> None:
    (tree / "f0.yaml").write_text(good(0).replace("size: 10", "size: ten"))
    reg = app_with(report)
    assert not run(tree, reg).valid
    again = run(tree, reg)
    assert again.cached == 2 and not again.valid


def test_a_corrupt_entry_is_a_miss_and_is_written_again(tree: Path, tmp_path: Path) -> None:
    reg = app_with(report)
    cold = run(tree, reg)
    entries = sorted((tmp_path / "cache").rglob("*.pickle"))
    assert len(entries) == 3
    entries[0].write_bytes(b"\x80\x05 not a pickle")
    entries[1].write_bytes(b"")
    repaired = run(tree, reg)
    assert repaired.cached == 1 and repaired.declared == cold.declared
    assert run(tree, reg).cached == 3


def test_past_one_off_follows_the_moment_of_the_run(tree: Path) -> None:
    at = (NOW + timedelta(hours=1)).isoformat()
    (tree / "f0.yaml").write_text(f"tasks:\n  once:\n    task: cache.report\n    at: \"{at}\"\n")
    reg = app_with(report)
    assert run(tree, reg).diagnostics == ()
    later = run(tree, reg, now=NOW + timedelta(hours=2))
    assert later.cached == 3 and [d.code for d in later.diagnostics] == ["past-one-off"]
    assert later.diagnostics[0].source.line == 4


def test_concurrent_runs_share_the_folder_safely(tree: Path) -> None:
    reg = app_with(report)
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(run(tree, reg))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 4 and all(r.declared == results[0].declared and r.valid for r in results)
    assert run(tree, reg).cached == 3


def test_the_demo_registry_validates_the_same_with_and_without_cache(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    from .conftest import FIXTURES

    settings.RECONCILER_CACHE_DIR = tmp_path / "cache"
    for folder in (FIXTURES / "valid", FIXTURES / "invalid"):
        plain = validate_paths([folder], registry=registry(), now=NOW, use_cache=False)
        run(folder, registry())
        warm = run(folder, registry())
        assert (warm.declared, warm.diagnostics) == (plain.declared, plain.diagnostics)


def test_another_process_finds_the_entries(tmp_path: Path) -> None:
    """The key is the same in every process (no memory address of a default value in it)."""
    from .cli import manage

    folder = tmp_path / "schedules"
    folder.mkdir()
    (folder / "a.yaml").write_text("tasks:\n  a:\n    task: project.tasks.heartbeat\n    every: 1h\n")
    env = {"PROJECT_VAR_DIR": str(tmp_path / "var")}
    assert manage("reconcile", "validate", "--path", str(folder), env=env).returncode == 0
    entries = {p: p.stat().st_mtime_ns for p in (tmp_path / "var" / "cache").rglob("*.pickle")}
    assert len(entries) == 1
    assert manage("reconcile", "validate", "--path", str(folder), env=env).returncode == 0
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "var" / "cache").rglob("*.pickle")} == entries
