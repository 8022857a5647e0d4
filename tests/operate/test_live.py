"""A suspended schedule with a real beat and worker: the RUNNING beat stops sending it (no
restart), a beat restart (which applies the declarations at start) does not re-enable it,
resume brings it back."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.processes import Stack, live_stack, wait_for

# The suspension's SQL runs on both backends (tests/operate/test_suspension.py); this is beat's reaction to
# it, on PostgreSQL, woken by the suspending UPDATE's notification (the marker poll: tests/beat/test_live.py).
pytestmark = [pytest.mark.db_backend, pytest.mark.services, pytest.mark.only_backend("postgresql")]

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


def sends(stack: Stack, beat: str, name: str) -> int:
    """How many times that beat process sent the task (its own log, not the worker's runs)."""
    return stack.log(beat).read_text().count(f"Sending due task {name} ")


def tail(stack: Stack, beat: str = "beat") -> str:
    return stack.log(beat).read_text()[-3000:]


def reconcile(stack: Stack, *args: str) -> str:
    result = stack.manage("reconcile", *args)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout


def test_beat_does_not_send_a_suspended_task(tmp_path: Path, redis_broker: str) -> None:
    with live_stack(tmp_path, redis_broker) as stack:
        (stack.schedules / "live.yaml").write_text(YAML)
        stack.start_worker()
        beat = stack.start_beat("beat", SCHEDULER)  # applies the declarations at start
        assert wait_for(lambda: sends(stack, "beat", "paused") >= 2 and count(stack, "paused") >= 2, timeout=60), \
            tail(stack)

        reconcile(stack, "suspend", "paused", "--reason", "incident 42")
        # Settled: beat has sent the kept task several more times since the suspend, so it has
        # read the change (a send already in flight may still land before that).
        kept = sends(stack, "beat", "kept")
        assert wait_for(lambda: sends(stack, "beat", "kept") >= kept + 6, timeout=60), tail(stack)
        sent, kept = sends(stack, "beat", "paused"), sends(stack, "beat", "kept")
        assert wait_for(lambda: sends(stack, "beat", "kept") >= kept + 5, timeout=60), tail(stack)
        assert sends(stack, "beat", "paused") == sent, "the running beat kept sending the suspended task"
        ran = count(stack, "paused")
        assert ran == sent, "the worker ran what beat sent before the suspend, and nothing else"
        assert beat.poll() is None and stack.processes["beat"] is beat, "the same beat, never restarted"

        stack.stop("beat")
        stack.start_beat("beat2", SCHEDULER)  # its start-up apply must keep it disabled
        assert wait_for(lambda: sends(stack, "beat2", "kept") >= 3, timeout=60), tail(stack, "beat2")
        assert sends(stack, "beat2", "paused") == 0 and count(stack, "paused") == ran, "a restarted beat sent it"
        assert "(1 suspended)" in reconcile(stack, "plan")

        reconcile(stack, "resume", "paused")
        assert wait_for(lambda: count(stack, "paused") > ran, timeout=30), "resume did not bring it back"
