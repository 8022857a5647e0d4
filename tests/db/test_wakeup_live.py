"""Beat woken by the database: on PostgreSQL an apply's NOTIFY wakes our scheduler at once,
where the marker poll alone would wait for beat's next tick (here an hour away)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.processes import live_stack, wait_for

# LISTEN/NOTIFY is PostgreSQL's (SQLite keeps the marker poll)
pytestmark = [pytest.mark.db_backend, pytest.mark.services, pytest.mark.only_backend("postgresql")]

HOURLY = "tasks:\n  hourly:\n    task: project.tasks.cleanup_sessions\n    every: 1h\n"
HEARTBEAT = "  heartbeat:\n    task: project.tasks.heartbeat\n    every: 1s\n    kwargs: {label: woken}\n"
SCHEDULER = "reconciler.scheduler:ReconcilingScheduler"
POLL = 3600  # beat's --max-interval: without the wake-up, the change would wait this long


def test_an_apply_wakes_a_sleeping_beat_before_its_next_poll(tmp_path: Path, redis_broker: str) -> None:
    with live_stack(tmp_path, redis_broker) as stack:
        (stack.schedules / "s.yaml").write_text(HOURLY)
        assert stack.manage("reconcile", "apply").returncode == 0
        stack.start_worker()
        stack.start_beat("beat", SCHEDULER, "--max-interval", str(POLL), "-l", "debug")
        beat_log = stack.log("beat")
        assert wait_for(lambda: "listening for schedule changes" in beat_log.read_text(), timeout=30), \
            beat_log.read_text()[-3000:]
        time.sleep(2)  # beat is now asleep until its next poll, an hour away (the hourly task is not due)

        (stack.schedules / "s.yaml").write_text(HOURLY + HEARTBEAT)
        applied = stack.manage("reconcile", "apply")
        assert applied.returncode == 0, applied.stderr
        # A failure bound only, far below POLL: only the notification can explain a run in time.
        assert wait_for(lambda: any(r.get("label") == "woken" for r in stack.runs("heartbeat")), timeout=60), \
            beat_log.read_text()[-3000:]
        log = beat_log.read_text()
        woken, sent = log.find("woken by the database"), log.find("Sending due task heartbeat")
        assert 0 <= woken < sent, "beat sent the new task without being woken by the database:\n" + log[-3000:]
