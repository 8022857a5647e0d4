"""Beat woken by the database: on PostgreSQL an apply's NOTIFY wakes our scheduler at once,
where the marker poll alone would wait for beat's next tick (here up to 30 s)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from .processes import live_stack, wait_for

# LISTEN/NOTIFY is PostgreSQL's (SQLite keeps the marker poll)
pytestmark = [pytest.mark.db_backend, pytest.mark.services, pytest.mark.only_backend("postgresql")]

HOURLY = "tasks:\n  hourly:\n    task: project.tasks.cleanup_sessions\n    every: 1h\n"
HEARTBEAT = "  heartbeat:\n    task: project.tasks.heartbeat\n    every: 1s\n    kwargs: {label: woken}\n"


def test_an_apply_wakes_a_sleeping_beat_within_a_second_or_two(tmp_path: Path, redis_broker: str) -> None:
    with live_stack(tmp_path, redis_broker) as stack:
        (stack.schedules / "s.yaml").write_text(HOURLY)
        assert stack.manage("reconcile", "apply").returncode == 0
        stack.start_worker()
        stack.start_beat("beat", "reconciler.scheduler:ReconcilingScheduler", "--max-interval", "30", "-l", "debug")
        beat_log = stack.log("beat")
        assert wait_for(lambda: "listening for schedule changes" in beat_log.read_text(), timeout=30), \
            beat_log.read_text()[-3000:]
        time.sleep(2)  # beat is now asleep until its next poll, up to 30 s away

        (stack.schedules / "s.yaml").write_text(HOURLY + HEARTBEAT)
        applied = stack.manage("reconcile", "apply")
        assert applied.returncode == 0, applied.stderr
        started = time.monotonic()
        assert wait_for(lambda: any(r.get("label") == "woken" for r in stack.runs("heartbeat")), timeout=15), \
            beat_log.read_text()[-3000:]
        latency = time.monotonic() - started
        assert "woken by the database" in beat_log.read_text()
        assert latency < 5, f"{latency:.2f} s: the poll, not the notification, picked it up"
