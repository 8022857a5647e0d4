"""The validation cache: an unchanged file is not parsed again, and nothing that changes a
file's verdict (its bytes, a task's signature or default, a deleted task, a corrupt entry,
the moment of the run) is ever answered from it."""
from __future__ import annotations

import dataclasses
import enum
import os
import pickle
import threading
import typing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from reconciler.declare.resolve import Registry, registry_from_app
from reconciler.pipeline import validate_paths
from tests.support.engine import NOW, registry

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


def test_a_policy_comes_from_the_cache_whole(tree: Path) -> None:
    """The cache rebuilds specs without ``__init__``: every field must be stored, the policy too."""
    (tree / "f1.yaml").write_text(good(1) + "    overlap: skip\n    max_runtime: 10m\n    jitter: 1m\n")
    reg = app_with(report)
    cold, warm = run(tree, reg), run(tree, reg)
    assert warm.cached == 3 and warm.declared == cold.declared
    policy = next(t.spec.policy for t in warm.declared.tasks if t.name == "nightly-1")
    assert (policy.overlap, policy.max_runtime, policy.jitter) == ("skip", 600, 60)



def test_a_calendar_and_a_monitor_come_from_the_cache_whole(tree: Path) -> None:
    (tree / "f1.yaml").write_text(good(1).replace('cron: "1 3 * * *"', 'cron: ["1 3 * * *", "0 12 * * 1-5"]') + (
        "    exclude: {holidays: {country: FR}, dates: [\"2026-12-24\"]}\n    max_runs: 4\n"
        "    monitor: {owner: ops, grace: 5m}\n"
    ))
    reg = app_with(report)
    cold, warm = run(tree, reg), run(tree, reg)
    assert warm.cached == 3 and warm.declared == cold.declared
    spec = next(t.spec for t in warm.declared.tasks if t.name == "nightly-1")
    assert (spec.calendar.also_cron, spec.calendar.holidays, spec.calendar.max_runs) == (("0 12 * * 1-5",), "FR", 4)
    assert (spec.monitor.owner, spec.monitor.grace) == ("ops", 300)


def test_a_calendar_that_ends_is_judged_at_each_run_not_cached(tree: Path) -> None:
    """``past-until`` depends on the moment of the run: a warm run at a later moment says so."""
    (tree / "f1.yaml").write_text(good(1) + '    until: "2026-12-01T00:00:00Z"\n')
    reg = app_with(report)
    assert not run(tree, reg).diagnostics
    later = run(tree, reg, now=NOW + timedelta(days=30))
    assert later.cached == 3 and [d.code for d in later.diagnostics] == ["past-until"]

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
    entries = sorted((tmp_path / "cache").rglob("*.json"))
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
    from tests.conftest import FIXTURES

    settings.RECONCILER_CACHE_DIR = tmp_path / "cache"
    for folder in (FIXTURES / "valid", FIXTURES / "invalid"):
        plain = validate_paths([folder], registry=registry(), now=NOW, use_cache=False)
        run(folder, registry())
        warm = run(folder, registry())
        assert (warm.declared, warm.diagnostics) == (plain.declared, plain.diagnostics)
        if folder.name == "valid":  # every file from the cache: the comparison above compared it
            assert warm.cached == len([p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml")]) > 0


def test_another_process_finds_the_entries(tmp_path: Path) -> None:
    """The key is the same in every process (no memory address of a default value in it)."""
    from tests.support.cli import manage

    folder = tmp_path / "schedules"
    folder.mkdir()
    (folder / "a.yaml").write_text("tasks:\n  a:\n    task: project.tasks.heartbeat\n    every: 1h\n")
    env = {"PROJECT_VAR_DIR": str(tmp_path / "var")}
    assert manage("reconcile", "validate", "--path", str(folder), env=env).returncode == 0
    entries = {p: p.stat().st_mtime_ns for p in (tmp_path / "var" / "cache").rglob("*.json")}
    assert len(entries) == 1
    assert manage("reconcile", "validate", "--path", str(folder), env=env).returncode == 0
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "var" / "cache").rglob("*.json")} == entries


# -- the folder and the entries: nobody else's data is ever read, let alone run ----------

def test_the_folder_is_created_private(tree: Path, tmp_path: Path) -> None:
    assert run(tree, app_with(report)).cached == 0
    assert (tmp_path / "cache").stat().st_mode & 0o777 == 0o700
    assert run(tree, app_with(report)).cached == 3


def test_a_folder_others_can_write_is_not_used_and_said_once(
    tree: Path, tmp_path: Path, settings, capsys: pytest.CaptureFixture[str],
) -> None:  # type: ignore[no-untyped-def]
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # as a pre-created $TMPDIR/reconciler-cache-<uid> would be
    settings.RECONCILER_CACHE_DIR = shared
    assert [run(tree, app_with(report)).cached for _ in range(2)] == [0, 0]
    assert list(shared.iterdir()) == []
    err = capsys.readouterr().err
    assert err.count(f"the validation cache folder {shared} is not used: others can write in it (mode 777)") == 1


@pytest.mark.skipif(os.getuid() != 0, reason="giving a folder to another user needs root")
def test_a_folder_of_another_user_is_not_used(tree: Path, tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    settings.RECONCILER_CACHE_DIR = theirs
    assert [run(tree, app_with(report)).cached for _ in range(2)] == [0, 0]


def test_a_planted_pickle_is_never_run(tree: Path, tmp_path: Path) -> None:
    from reconciler.declare.cache import ValidationCache
    from reconciler.declare.files import read_sources

    reg = app_with(report)
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Planted(str(marker)))
    cache = ValidationCache.open(tmp_path / "cache", reg, None, ())
    assert cache is not None
    for source in read_sources([tree]):
        entry = cache._path(source)
        entry.parent.mkdir(parents=True, exist_ok=True)
        for path in (entry, entry.with_suffix(".pickle")):
            path.write_bytes(payload)
    result = run(tree, reg)
    assert not marker.exists()
    assert result.valid and result.cached == 0  # each planted entry a miss, then written again
    assert run(tree, reg).cached == 3


class _Planted:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.marker, "w"))


# -- the key: a hint that accepts less is a new key ---------------------------------------

def _enum(*members: str) -> type[enum.Enum]:
    return enum.Enum("Color", {m.upper(): m for m in members}, module=__name__, qualname="Color")  # type: ignore[return-value]


def _dataclass(size: type) -> type:
    return dataclasses.make_dataclass("Options", [("size", size)], namespace={"__module__": __name__})


def _task_with(hint: Any) -> Any:
    def paint(value: Any = None) -> None: ...

    paint.__annotations__ = {"value": hint, "return": None}
    return paint


HINTS = [  # (case, the hint when validated first, the hint now, the value declared)
    ("enum-loses-a-member", _enum("red", "blue"), _enum("red"), "blue"),
    ("enum-inside-a-list", list[_enum("red", "blue")], list[_enum("red")], "[blue]"),  # type: ignore[misc]
    ("literal-loses-a-value", typing.Literal["red", "blue"], typing.Literal["red"], "blue"),
    ("dataclass-field-type", _dataclass(int), _dataclass(str), "{size: 3}"),
]


@pytest.mark.parametrize(("case", "before", "after", "value"), HINTS, ids=[h[0] for h in HINTS])
def test_a_hint_that_no_longer_accepts_the_value_is_never_answered_from_the_cache(
    tree: Path, case: str, before: Any, after: Any, value: str,
) -> None:
    for f in tree.iterdir():
        f.unlink()
    (tree / "paint.yaml").write_text(f"tasks:\n  paint:\n    task: cache.report\n    every: 1h\n"
                                     f"    kwargs: {{value: {value}}}\n")
    assert run(tree, app_with(_task_with(before))).valid
    assert run(tree, app_with(_task_with(before))).cached == 1
    now = run(tree, app_with(_task_with(after)))
    assert now.cached == 0 and [d.code for d in now.diagnostics] == ["bad-arguments"]


# -- a file name that is not UTF-8 --------------------------------------------------------

NON_UTF8 = os.fsdecode(b"caf\xe9.yaml")


def test_a_file_name_that_is_not_utf8_validates_and_is_cached(tree: Path) -> None:
    (tree / NON_UTF8).write_text(good(7))
    reg = app_with(report)
    cold, warm = run(tree, reg), run(tree, reg)
    assert cold.valid and (cold.cached, warm.cached) == (0, 4)
    assert "caf\\xe9.yaml" in {t.source.file.rsplit("/", 1)[-1] for t in warm.declared.tasks if t.source}


@pytest.mark.db_backend
def test_plan_and_apply_a_file_whose_name_is_not_utf8(tmp_path: Path) -> None:
    from tests.support.cli import manage
    from tests.support.processes import process_database

    folder = tmp_path / "schedules"
    folder.mkdir()
    (folder / NON_UTF8).write_text("tasks:\n  a:\n    task: project.tasks.heartbeat\n    every: 1h\n")
    with process_database(tmp_path) as url:
        env = {"DATABASE_URL": url, "PROJECT_VAR_DIR": str(tmp_path / "var")}
        assert manage("migrate", "--no-input", "-v", "0", env=env).returncode == 0
        for command in ("validate", "plan", "apply", "plan"):
            done = manage("reconcile", command, "--path", str(folder), env=env)
            assert done.returncode == 0 and "Traceback" not in done.stderr, (command, done.stderr[-2000:])
        assert "No changes" in done.stdout and "1 task unchanged" in done.stdout


# -- entries written once the tree is checked ----------------------------------------------

def cache_files(tmp_path: Path) -> tuple[list[Path], list[Path]]:
    """(the entries, the temporary files) in the cache folder."""
    files = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    return [p for p in files if p.suffix == ".json" and not p.name.startswith(".")], [
        p for p in files if p.name.startswith(".tmp-")]


def test_a_forked_child_writes_the_entries_of_the_files_without_error_only(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On every core, then in a forked child once the tree is checked: an entry for each file
    without error, own or across files (a duplicate name, an argument the task refuses), none
    for the others. The next validation in this process waits for the child before it reads."""
    from reconciler.declare import parallel
    from reconciler.declare import tree as tree_module

    for i in range(3, 12):
        (tree / f"f{i}.yaml").write_text(good(i))
    (tree / "f3.yaml").write_text(good(3).replace("size: 10", "size: ten"))  # resolve refuses it
    (tree / "f4.yaml").write_text(good(5))  # the name of f5.yaml: both files have an error
    (tree / "f6.yaml").write_text("tasks: [")  # its own error
    monkeypatch.setattr(parallel, "_workers", lambda sources: 2)
    monkeypatch.setattr(tree_module, "MIN_FILES", 1)  # this small tree counts as large
    reg = app_with(report)
    cold = run(tree, reg)
    assert {d.source.file.rsplit("/", 1)[-1] for d in cold.diagnostics if d.is_error and d.source} == {
        "f3.yaml", "f4.yaml", "f5.yaml", "f6.yaml"}
    assert len(parallel._pending) == 1, "a child writes the entries"
    assert run(tree, reg).cached == 8
    assert parallel._pending == []
    entries, temporary = cache_files(tmp_path)
    assert len(entries) == 12 - 4 and temporary == []


def test_a_run_that_fails_after_the_workers_keeps_no_entry(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from reconciler.declare import tree as tree_module

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the cross-file checks failed")

    monkeypatch.setattr(tree_module, "combine", broken)
    with pytest.raises(RuntimeError):
        run(tree, app_with(report))
    assert cache_files(tmp_path) == ([], [])
