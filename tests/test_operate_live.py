"""A suspended schedule with a real beat and worker: beat stops sending it, a beat restart
(which applies the declarations at start) does not re-enable it, resume brings it back."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from .processes import Stack, live_stack, wait_for

pytestmark = [pytest.mark.db_backend, pytest.mark.services]

SCHEDULER = "reconciler.scheduler:ReconcilingScheduler"
YAML = """tasks:
  kept:
    task: project.tasks.heartbeat
    every: 1s
    kwargs: {label: kept}
  paused:
    task: project.tasks.heartbeat
    every: 1s
    kwargs: {label: paused}
"""


def count(stack: Stack, label: str) -> int:
    return sum(run["label"] == label for run in stack.runs("heartbeat"))


def reconcile(stack: Stack, *args: str) -> str:
    result = stack.manage("reconcile", *args)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout


def test_beat_does_not_send_a_suspended_task(tmp_path: Path, redis_broker: str) -> None:
    with live_stack(tmp_path, redis_broker) as stack:
        (stack.schedules / "live.yaml").write_text(YAML)
        stack.start_worker()
        stack.start_beat(scheduler=SCHEDULER)  # applies the declarations at start
        assert wait_for(lambda: count(stack, "paused") >= 1, timeout=60), stack.log("beat").read_text()[-3000:]

        reconcile(stack, "suspend", "paused", "--reason", "incident 42")
        time.sleep(3)  # beat notices the change at its next tick; a send in flight may still land
        settled = count(stack, "paused")
        kept = count(stack, "kept")
        stack.stop("beat")
        stack.start_beat(scheduler=SCHEDULER)  # its start-up apply must keep it disabled
        assert wait_for(lambda: count(stack, "kept") >= kept + 3, timeout=60), stack.log("beat").read_text()[-3000:]
        assert count(stack, "paused") == settled, "beat sent a suspended task"
        assert "(1 suspended)" in reconcile(stack, "plan")

        reconcile(stack, "resume", "paused")
        assert wait_for(lambda: count(stack, "paused") > settled, timeout=30), "resume did not bring it back"
