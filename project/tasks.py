"""Demo tasks: small, realistic, with typed signatures the validator binds arguments to.

Each task appends a line to ``$PROJECT_VAR_DIR/task-runs.log`` so that a person (or an
end-to-end test) can see that beat sent it and a worker ran it.
"""
from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from celery import shared_task
from django.conf import settings


def _record(task_name: str, **payload: Any) -> None:
    log = Path(os.environ.get("DEMO_TASK_LOG", settings.VAR_DIR / "task-runs.log"))
    log.parent.mkdir(parents=True, exist_ok=True)
    line = {"task": task_name, "at": datetime.now(UTC).isoformat(), **payload}
    with log.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line, sort_keys=True) + "\n")


@shared_task(name="project.tasks.send_digest")
def send_digest(audience: str, *, include_drafts: bool = False) -> str:
    """E-mail the daily digest to one audience ("staff", "customers", ...)."""
    _record("send_digest", audience=audience, include_drafts=include_drafts)
    return f"digest sent to {audience}"


@shared_task(name="project.tasks.cleanup_sessions")
def cleanup_sessions(older_than_days: int = 30) -> int:
    """Delete expired sessions older than the given number of days."""
    _record("cleanup_sessions", older_than_days=older_than_days)
    return 0


@shared_task(name="project.tasks.sync_inventory")
def sync_inventory(warehouse: str, full: bool = False, batch_size: int = 500) -> dict[str, Any]:
    """Pull stock levels for one warehouse from the supplier's API."""
    _record("sync_inventory", warehouse=warehouse, full=full, batch_size=batch_size)
    return {"warehouse": warehouse, "full": full}


@shared_task(bind=True, name="project.tasks.generate_report", max_retries=3)
def generate_report(self: Any, report: str, recipients: list[str] | None = None) -> str:
    """Render a named report and mail it; ``bind=True``: ``self`` is not an argument."""
    _record("generate_report", report=report, recipients=recipients or [])
    return report


@shared_task(name="project.tasks.heartbeat")
def heartbeat(label: str = "beat", **extra: Any) -> str:
    """Write a line every time it runs: the end-to-end tests watch for it."""
    _record("heartbeat", label=label, extra=extra)
    return label


@shared_task(name="project.tasks.open_garden_lights")
def open_garden_lights(zone: str) -> str:
    """Switch the garden lights of a zone on (scheduled at dusk by a solar schedule)."""
    _record("open_garden_lights", zone=zone)
    return zone


@shared_task(name="project.tasks.flaky")
def flaky(message: str = "flaky failed on purpose") -> None:
    """Always raises: a schedule running it shows as ``failing`` (reconcile status, /metrics)."""
    _record("flaky", message=message)
    raise RuntimeError(message)


@shared_task(bind=True, name="project.tasks.long_running")
def long_running(self: Any, seconds: float = 1.0, label: str = "long", as_of: str | None = None) -> str:
    """Takes ``seconds``: a task slower than its interval, for the run-time policies (overlap,
    catch-up). Writes a line when it starts and one when it ends, each with the slot it serves:
    the ``scheduled_time`` header our beat sends, and ``as_of`` when a declaration's
    ``scheduled_time_kwarg`` names it."""
    run = {
        "label": label, "task_id": self.request.id, "worker": self.request.hostname,
        "scheduled_time": self.request.get("scheduled_time"), "as_of": as_of,
    }
    _record("long_running", phase="start", **run)
    time.sleep(seconds)
    _record("long_running", phase="end", **run)
    return label
