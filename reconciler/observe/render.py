"""Health and runs rendered as text (a table for people) and JSON (the contract the API and
scripts reuse). Pure functions of their values."""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ..render.words import iso
from .health import Health, ScheduleHealth
from .runs import Run

FORMAT_VERSION = 1


def when(value: datetime | None) -> str:
    """A moment written as everywhere (``render.words.iso``): ISO 8601 in UTC, whole seconds."""
    return iso(value, UTC) if value else "-"


def ago(value: datetime | None, now: datetime) -> str:
    if value is None:
        return ""
    seconds = int((now - value).total_seconds())
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if abs(seconds) >= size:
            return f"{seconds // size}{unit} ago" if seconds >= 0 else f"in {-seconds // size}{unit}"
    return f"{seconds}s ago" if seconds >= 0 else f"in {-seconds}s"


def health_counts(schedules: Sequence[ScheduleHealth]) -> dict[str, int]:
    found = Counter(str(s.health) for s in schedules)
    return {h.value: found[h.value] for h in Health if found[h.value]}


def render_status_text(schedules: Sequence[ScheduleHealth], now: datetime, runs: Sequence[Run] | None = None) -> str:
    header = ("NAME", "HEALTH", "LAST RUN", "STATE", "NEXT RUN", "QUEUE", "TASK")
    rows = [
        (s.name, str(s.health), f"{when(s.last_run_at)} {ago(s.last_run_at, now)}" if s.last_run_at else "never",
         s.last_state or "-", when(s.next_run_at), s.queue or "-", s.task)
        for s in schedules
    ]
    lines = _table(header, rows)
    counts = ", ".join(f"{n} {h}" for h, n in health_counts(schedules).items())
    lines.append(f"{len(schedules)} schedule{'s' if len(schedules) != 1 else ''}: {counts or 'none'}")
    if runs is not None and len(schedules) == 1:
        lines.extend(_detail(schedules[0], runs))
    return "\n".join(lines) + "\n"


def _detail(schedule: ScheduleHealth, runs: Sequence[Run]) -> list[str]:
    lines = ["", f"expected run: {when(schedule.expected_at)} (grace {schedule.grace_seconds:g}s)",
             f"last success: {when(schedule.last_success_at)}", ""]
    if schedule.suspended_at is not None:
        lines[1:1] = [f"suspended since {when(schedule.suspended_at)}: `reconcile resume {schedule.name}` ends it"]
    if not runs:
        return [*lines, "no runs recorded"]
    header = ("STARTED", "STATE", "RUNTIME", "WORKER", "EXCEPTION")
    rows = [
        (when(r.started_at), r.state, f"{r.runtime_seconds:.3f}s" if r.runtime_seconds is not None else "-",
         r.worker or "-", r.exception or "")
        for r in runs
    ]
    return [*lines, f"last {len(runs)} runs:", *_table(header, rows)]


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    return [
        "  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in (header, *rows)
    ]


def status_json(
    schedules: Sequence[ScheduleHealth], now: datetime, runs: Sequence[Run] | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "format_version": FORMAT_VERSION, "now": now.isoformat(), "counts": health_counts(schedules),
        "schedules": [s.to_json() for s in schedules],
    }
    if runs is not None:
        payload["runs"] = [r.to_json() for r in runs]
    return payload


def render_status_json(schedules: Sequence[ScheduleHealth], now: datetime, runs: Sequence[Run] | None = None) -> str:
    return json.dumps(status_json(schedules, now, runs), indent=2, ensure_ascii=False) + "\n"
