"""``reconcile apply`` renders a large plan's text in a forked child while it writes the plan
(``cli.prerender``): the text is the one rendered in-process, and no child outlives its use."""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.cli import prerender
from reconciler.cli.prerender import TextInAdvance
from reconciler.render.plan import render_text
from tests.cli.test_engine import env  # noqa: F401 (fixture)
from tests.render.test_plan import sample_plan
from tests.support.cli import manage
from tests.support.engine import interval_tasks


@pytest.fixture
def every_plan_forks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prerender, "MIN_CHANGES", 1)


def gone(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_the_child_renders_the_text_rendered_in_process(every_plan_forks: None) -> None:
    plan, text = sample_plan(), TextInAdvance()
    text.start(plan)
    pid = text._pid
    assert pid, "a child was forked"
    assert text.text(plan) == render_text(plan)
    assert gone(pid), "and reaped"


def test_a_file_name_that_is_not_utf8_comes_through_the_pipe(
    every_plan_forks: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan = sample_plan()
    first = plan.changes[0]
    assert first.source is not None
    odd = replace(first, source=replace(first.source, file="schedules/caf\udce9.yaml"))
    plan = replace(plan, changes=(odd, *plan.changes[1:]))
    expected = render_text(plan)
    text = TextInAdvance()
    text.start(plan)

    def not_here(plan: object) -> str:
        raise AssertionError("rendered in the parent: the child's text was not used")

    monkeypatch.setattr(prerender, "render_text", not_here)
    assert text.text(plan) == expected


def test_another_plan_is_rendered_here_and_the_child_stopped(every_plan_forks: None) -> None:
    first, second = sample_plan(), sample_plan()
    text = TextInAdvance()
    text.start(first)
    pid = text._pid
    assert text.text(second) == render_text(second)
    assert gone(pid)


def test_a_failed_apply_stops_the_child(every_plan_forks: None) -> None:
    text = TextInAdvance()
    text.start(sample_plan())
    pid = text._pid
    text.discard()
    assert gone(pid)
    text.discard()  # twice: nothing left to stop


def test_a_fork_that_fails_leaves_the_text_to_afterwards(
    every_plan_forks: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_fork() -> int:
        raise BlockingIOError("Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    plan, text = sample_plan(), TextInAdvance()
    text.start(plan)  # raises nothing: the apply it runs inside must go on
    assert not text._pid
    assert text.text(plan) == render_text(plan)


def test_a_small_plan_forks_nothing() -> None:
    text = TextInAdvance()
    text.start(sample_plan())
    assert not text._pid


@pytest.mark.db_backend
def test_a_large_apply_prints_the_plan_its_dry_run_prints(tmp_path: Path, env: dict[str, str]) -> None:  # noqa: F811
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "s.yaml").write_text(interval_tasks(prerender.MIN_CHANGES))
    dry = manage("reconcile", "apply", "--path", str(folder), "--dry-run", env=env)  # never forks: nothing written
    applied = manage("reconcile", "apply", "--path", str(folder), env=env)
    assert dry.returncode == 0 and applied.returncode == 0, applied.stderr
    assert f"Plan: {prerender.MIN_CHANGES} to create" in applied.stdout
    assert applied.stdout.rsplit("\n", 2)[0] == dry.stdout.rsplit("\n", 2)[0]
    assert applied.stdout.endswith(f"Apply complete: {prerender.MIN_CHANGES} created, 0 updated, 0 deleted, "
                                   f"0 unchanged in {applied.stdout.rsplit(' in ', 1)[1]}")
