"""Tasks for the run-tracking tests, loaded into a real worker with ``celery worker -I
tests.support.run_tasks``: a run that lasts, a run that fails. Each writes a JSON line to
``DEMO_TASK_LOG`` when it starts (as project/tasks.py does)."""
from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime

from celery import shared_task

SLOW = "tests.support.run_tasks.slow"


def _record(**payload: object) -> None:
    with open(os.environ["DEMO_TASK_LOG"], "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"task": "slow", "at": datetime.now(UTC).isoformat(), **payload}) + "\n")


@shared_task(name=SLOW)
def slow(label: str = "slow", seconds: float = 1.0, fail: bool = False) -> str:
    """Last ``seconds``, then succeed, or raise when ``fail``."""
    _record(label=label, pid=os.getpid())
    time.sleep(seconds)
    if fail:
        raise RuntimeError(f"{label} failed on purpose")
    return label
