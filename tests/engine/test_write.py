"""The run-time policy is written to ownership and read back (the suite runs this file on
SQLite and on PostgreSQL): a plan after apply is empty, a policy change is an update shown
in words, and beat is told of it."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from reconciler.core.plan import Action
from reconciler.core.policy import DEFAULT_POLICY, Policy
from reconciler.engine.read import read_actual, read_one
from reconciler.models import ManagedTask
from reconciler.render.plan import render_json, render_text
from tests.support.engine import NOW, apply_yaml, marker, plan_yaml

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]


def sync(policy: str = "") -> str:
    lines = "".join(f"    {line}\n" for line in policy.splitlines())
    return f"tasks:\n  sync:\n    task: project.tasks.heartbeat\n    every: 15m\n{lines}"


SKIP = "overlap: skip\nmax_runtime: 10m\ncatchup: all\ncatchup_max: 3\njitter: 2m\nscheduled_time_kwarg: as_of"
SKIP_POLICY = Policy(overlap="skip", max_runtime=600, catchup="all", catchup_max=3, jitter=120,
                     scheduled_time_kwarg="as_of")


def stored() -> str:
    return ManagedTask.objects.get(periodic_task__name="sync").policy


def test_apply_stores_the_policy_and_a_second_plan_is_empty(tmp_path: Path) -> None:
    apply_yaml(tmp_path, sync(SKIP))
    assert json.loads(stored()) == SKIP_POLICY.fields()
    assert plan_yaml(tmp_path).changes == ()
    (read,) = read_actual().tasks  # the full read, not the row digest's shortcut
    assert read.spec.policy == SKIP_POLICY
    one = read_one("sync")
    assert one is not None and one.spec.policy == SKIP_POLICY


def test_a_policy_change_is_an_update_in_words_and_moves_the_marker(tmp_path: Path) -> None:
    apply_yaml(tmp_path, sync())
    assert stored() == ""
    before = marker()
    (tmp_path / "s.yaml").write_text(sync("overlap: skip\nmax_runtime: 10m"))
    plan = plan_yaml(tmp_path)
    (change,) = plan.changes
    assert change.action is Action.UPDATE
    assert [(f.field, f.old, f.new) for f in change.fields] == [
        ("max_runtime", None, 600), ("overlap", "allow", "skip"),
    ]
    text = render_text(plan)
    assert "      max_runtime: (none) → 10m\n" in text and "      overlap: allow → skip\n" in text
    fields = json.loads(render_json(plan))["changes"][0]["fields"]
    assert (fields["overlap"], fields["max_runtime"]) == ({"old": "allow", "new": "skip"}, {"old": None, "new": 600})
    apply_yaml(tmp_path, now=NOW + timedelta(minutes=1))
    assert json.loads(stored()) == {"max_runtime": 600, "overlap": "skip"}
    assert marker() != before  # beat reloads: the policy is what it schedules by
    assert plan_yaml(tmp_path).changes == ()


def test_removing_the_policy_goes_back_to_the_defaults(tmp_path: Path) -> None:
    apply_yaml(tmp_path, sync(SKIP))
    (tmp_path / "s.yaml").write_text(sync())
    (change,) = plan_yaml(tmp_path).changes
    assert ("overlap", "skip", "allow") in [(f.field, f.old, f.new) for f in change.fields]
    apply_yaml(tmp_path)
    assert stored() == ""
    (read,) = read_actual().tasks
    assert read.spec.policy == DEFAULT_POLICY


def test_adopt_stores_the_declared_policy(tmp_path: Path) -> None:
    every = IntervalSchedule.objects.create(every=15, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.create(name="sync", task="project.tasks.heartbeat", interval=every)
    apply_yaml(tmp_path, sync(SKIP), adopt=True)
    assert json.loads(stored()) == SKIP_POLICY.fields()
    assert plan_yaml(tmp_path).changes == ()
