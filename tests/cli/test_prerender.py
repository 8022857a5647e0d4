"""``reconcile apply`` makes a large plan's history record and text in a forked child while it
writes the plan (``cli.prerender``): both are the ones made in-process, and no child outlives
its use."""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.cli import prerender
from reconciler.cli.prerender import InAdvance
from reconciler.engine.history import stored_plan
from reconciler.models import ApplyRecord
from reconciler.render.plan import render_text
from tests.cli.test_engine import env  # noqa: F401 (fixture)
from tests.render.test_plan import sample_plan
from tests.support.cli import manage
from tests.support.engine import apply_yaml, interval_tasks


@pytest.fixture
def every_plan_forks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prerender, "MIN_CHANGES", 1)


def gone(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_the_child_makes_the_record_and_the_text_made_in_process(every_plan_forks: None) -> None:
    plan, text = sample_plan(), InAdvance()
    stored = text.start(plan)
    pid = text._pid
    assert pid and stored is not None, "a child was forked"
    assert stored() == stored_plan(plan)
    assert not gone(pid), "still rendering the text"
    assert text.text(plan) == render_text(plan)
    assert gone(pid), "and reaped"


def test_without_text_the_child_makes_the_record_only_and_is_reaped(every_plan_forks: None) -> None:
    plan, made = sample_plan(), InAdvance(text=False)
    stored = made.start(plan)
    pid = made._pid
    assert stored is not None and stored() == stored_plan(plan)
    assert gone(pid)


def test_a_record_the_child_cannot_make_is_made_here_and_the_text_still_comes(
    every_plan_forks: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(plan: object) -> dict[str, object]:
        raise MemoryError

    plan, text = sample_plan(), InAdvance()
    monkeypatch.setattr(prerender, "stored_plan", broken)  # in the child too: it is forked after this
    stored = text.start(plan)
    assert stored is not None and stored() is None, "None: the apply makes the record itself"
    monkeypatch.setattr(prerender, "render_text", lambda plan: "rendered in the parent")
    assert text.text(plan) != "rendered in the parent"


def test_a_child_that_dies_leaves_both_to_this_process(
    every_plan_forks: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def dies(plan: object) -> dict[str, object]:
        os._exit(3)

    plan, text = sample_plan(), InAdvance()
    monkeypatch.setattr(prerender, "stored_plan", dies)
    stored = text.start(plan)
    pid = text._pid
    assert stored is not None and stored() is None
    assert gone(pid)
    assert text.text(plan) == render_text(plan)


def test_a_file_name_that_is_not_utf8_comes_through_the_pipe(
    every_plan_forks: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan = sample_plan()
    first = plan.changes[0]
    assert first.source is not None
    odd = replace(first, source=replace(first.source, file="schedules/caf\udce9.yaml"))
    plan = replace(plan, changes=(odd, *plan.changes[1:]))
    expected = render_text(plan)
    text = InAdvance()
    text.start(plan)

    def not_here(plan: object) -> str:
        raise AssertionError("rendered in the parent: the child's text was not used")

    monkeypatch.setattr(prerender, "render_text", not_here)
    assert text.text(plan) == expected


def test_another_plan_is_rendered_here_and_the_child_stopped(every_plan_forks: None) -> None:
    first, second = sample_plan(), sample_plan()
    text = InAdvance()
    text.start(first)
    pid = text._pid
    assert text.text(second) == render_text(second)
    assert gone(pid)


def test_the_text_without_the_record_read_first(every_plan_forks: None) -> None:
    plan, text = sample_plan(), InAdvance()
    text.start(plan)
    assert text.text(plan) == render_text(plan)


def test_a_failed_apply_stops_the_child(every_plan_forks: None) -> None:
    text = InAdvance()
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
    plan, text = sample_plan(), InAdvance()
    assert text.start(plan) is None  # raises nothing: the apply it runs inside must go on
    assert not text._pid
    assert text.text(plan) == render_text(plan)


def test_a_small_plan_forks_nothing() -> None:
    text = InAdvance()
    assert text.start(sample_plan()) is None
    assert not text._pid


@pytest.mark.django_db
@pytest.mark.db_backend
def test_an_apply_stores_the_record_the_child_made(tmp_path: Path, every_plan_forks: None) -> None:
    made = InAdvance(text=False)
    outcome = apply_yaml(tmp_path / "s", interval_tasks(3), on_write=made.start)
    assert outcome.result is not None
    stored = ApplyRecord.objects.get(pk=outcome.result.record_id).plan
    assert stored == stored_plan(outcome.result.plan) and stored["summary"]["create"] == 3
    assert not made._pid, "reaped"


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
