"""Benchmark: how long a standby beat takes to take over when the active one is killed
(SIGKILL: no clean release), with real processes (two beats, a worker, Redis), on SQLite (a
lease row that must expire) and PostgreSQL (an advisory lock the server frees when the dead
connection goes). Target: under 30 s from the kill to the standby's first send.
(tests/test_live.py asserts the takeover and no double fire; the durations are figures, here.)

Usage: .venv/bin/python bench/failover.py [--backends sqlite,postgres] [--broker redis://127.0.0.1:6379/15]
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.processes import Stack, live_stack, wait_for

SCHEDULER = "reconciler.scheduler:ReconcilingScheduler"
YAML = "tasks:\n  heartbeat:\n    task: project.tasks.heartbeat\n    every: 1s\n    kwargs: {label: ha}\n"
URLS = {"sqlite": "", "postgres": "postgres://postgres@127.0.0.1:5432/reconciler_bench"}
TARGET_S = 30.0


def active_beat(stack: Stack, names: tuple[str, ...]) -> str | None:
    holders = [name for name in names if "acquired the beat lock" in stack.log(name).read_text()]
    return holders[0] if len(holders) == 1 else None


def takeover(broker: str) -> tuple[float, float]:
    """(seconds from the kill to the standby holding the lock, to the standby's first send)."""
    with tempfile.TemporaryDirectory() as tmp, live_stack(Path(tmp), broker) as stack:
        (stack.schedules / "ha.yaml").write_text(YAML)
        stack.start_worker()
        names = ("beat-a", "beat-b")
        for name in names:
            stack.start_beat(name, SCHEDULER)
        active = wait_for(lambda: active_beat(stack, names), timeout=60)
        assert active, "no beat took the lock"
        standby = next(name for name in names if name != active)
        killed = time.monotonic()
        stack.stop(active, signal.SIGKILL)
        assert wait_for(lambda: "acquired the beat lock" in stack.log(standby).read_text(), timeout=120, interval=0.05)
        locked = time.monotonic() - killed
        assert wait_for(lambda: "Sending due task heartbeat" in stack.log(standby).read_text(), timeout=60,
                        interval=0.05)
        return locked, time.monotonic() - killed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--broker", default=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    options = parser.parse_args()
    import redis

    redis.Redis.from_url(options.broker).flushdb()
    for backend in options.backends.split(","):
        os.environ["DATABASE_URL"] = URLS[backend]  # live_stack makes a fresh database of that kind
        locked, sent = takeover(options.broker)
        print(f"{backend}: standby holds the lock {locked:.1f} s after the SIGKILL, "
              f"sends {sent:.1f} s after it (target < {TARGET_S:.0f} s)")


if __name__ == "__main__":
    main()
