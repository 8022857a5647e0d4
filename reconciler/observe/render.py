"""Health and runs rendered as text (a table for people) and JSON (the contract the API and
scripts reuse). Pure functions of their values."""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..render.words import iso
from .health import Health, ScheduleHealth
from .leases import RunState
from .runs import Run
from .skips import RECENT, Skip, SkipSummary

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


def render_status_text(
    schedules: Sequence[ScheduleHealth], now: datetime, runs: Sequence[Run] | None = None,
    skips: Mapping[str, SkipSummary] | None = None, skipped: Sequence[Skip] | None = None,
) -> str:
    header: tuple[str, ...] = ("NAME", "HEALTH", "LAST RUN", "STATE", "NEXT RUN", "QUEUE", "TASK")
    rows: list[tuple[str, ...]] = [
        (s.name, str(s.health), f"{when(s.last_run_at)} {ago(s.last_run_at, now)}" if s.last_run_at else "never",
         s.last_state or "-", when(s.next_run_at), s.queue or "-", s.task)
        for s in schedules
    ]
    if any(s.owner for s in schedules):  # a column only where some schedule names its owner
        header, rows = (*header, "OWNER"), [(*row, s.owner or "-") for row, s in zip(rows, schedules, strict=True)]
    lines = _table(header, rows)
    counts = ", ".join(f"{n} {h}" for h, n in health_counts(schedules).items())
    lines.append(f"{len(schedules)} schedule{'s' if len(schedules) != 1 else ''}: {counts or 'none'}")
    lines.extend(skip_lines(schedules, skips or {}, now))
    if runs is not None and len(schedules) == 1:
        lines.extend(_detail(schedules[0], runs, now))
    if skipped is not None and len(schedules) == 1:
        lines.extend(skipped_lines(skipped))
    return "\n".join(lines) + "\n"


def skip_lines(schedules: Sequence[ScheduleHealth], skips: Mapping[str, SkipSummary], now: datetime) -> list[str]:
    """One line per schedule with runs skipped recently (``skips.RECENT``), in the table's order."""
    found = [(s.name, skips[s.name]) for s in schedules if s.name in skips]
    if not found:
        return []
    width = max(len(name) for name, _ in found)
    hours = int(RECENT.total_seconds() // 3600)
    return [f"runs skipped in the last {hours} h:", *(
        f"  {name.ljust(width)}  {summary.count} run{'s' if summary.count != 1 else ''} (last: {summary.last_reason}, "
        f"{when(summary.last_at)} {ago(summary.last_at, now)})"
        for name, summary in found
    )]


def run_line(run: RunState, now: datetime) -> str:
    """The tracked run in words: ``running since ... (task id ...)``."""
    limit = f", max_runtime {run.max_runtime}s" if run.max_runtime is not None else ""
    words = f"{run.state} since {when(run.since)} {ago(run.since, now)}"
    if run.state == "finished":
        words += f" ({run.outcome or 'no outcome'})"
    line = f"tracked run: {words}, slot {when(run.scheduled_time)}, task id {run.task_id}{limit}"
    if run.running_long:
        line += ": RUNNING LONG"
    if run.pending_slot is not None:
        line += f"; one run waiting (slot {when(run.pending_slot)})"
    return line


def skipped_lines(skipped: Sequence[Skip]) -> list[str]:
    if not skipped:
        return ["", "no skipped runs recorded"]
    header = ("DECIDED", "REASON", "RUNS", "SLOT", "DETAIL")
    rows = [
        (when(k.at), k.reason, str(k.count),
         when(k.slot) if k.first_slot is None else f"{when(k.first_slot)} .. {when(k.slot)}", k.detail)
        for k in skipped
    ]
    return ["", f"last {len(skipped)} skipped-run decisions:", *_table(header, rows)]


def _detail(schedule: ScheduleHealth, runs: Sequence[Run], now: datetime) -> list[str]:
    lines = ["", f"expected run: {when(schedule.expected_at)} (grace {schedule.grace_seconds:g}s)",
             f"last success: {when(schedule.last_success_at)}", ""]
    if schedule.run is not None:
        lines[3:3] = [run_line(schedule.run, now)]
    if schedule.suspended_at is not None:
        lines[1:1] = [f"suspended since {when(schedule.suspended_at)}: `reconcile resume {schedule.name}` ends it"]
    if not schedule.monitor.is_default:
        lines[1:1] = [monitor_line(schedule)]
    if not runs:
        return [*lines, "no runs recorded"]
    header = ("STARTED", "STATE", "RUNTIME", "WORKER", "EXCEPTION")
    rows = [
        (when(r.started_at), r.state, f"{r.runtime_seconds:.3f}s" if r.runtime_seconds is not None else "-",
         r.worker or "-", r.exception or "")
        for r in runs
    ]
    return [*lines, f"last {len(runs)} runs:", *_table(header, rows)]


def monitor_line(schedule: ScheduleHealth) -> str:
    """The schedule's monitor in words: who owns it, and how its health is judged."""
    m = schedule.monitor
    parts = [f"owner {m.owner}" if m.owner else "", f"severity {m.severity}" if m.severity else ""]
    if m.grace is not None:
        parts.append(f"late {m.grace:g}s after a missed run")
    if m.failure_threshold > 1:
        parts.append(f"failing after {m.failure_threshold} failed runs in a row")
    if m.recovery_threshold > 1:
        parts.append(f"ok again after {m.recovery_threshold} successes in a row")
    return "monitor: " + ", ".join(part for part in parts if part)


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    return [
        "  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in (header, *rows)
    ]


def status_json(
    schedules: Sequence[ScheduleHealth], now: datetime, runs: Sequence[Run] | None = None,
    skips: Mapping[str, SkipSummary] | None = None, skipped: Sequence[Skip] | None = None,
) -> dict[str, Any]:
    """``recent_skips``: per schedule, runs skipped in the last ``skips.RECENT`` (null: none);
    ``skipped_runs``: the last decisions of the one schedule asked for."""
    recent = skips or {}
    payload: dict[str, Any] = {
        "format_version": FORMAT_VERSION, "now": now.isoformat(), "counts": health_counts(schedules),
        "schedules": [
            {**s.to_json(), "recent_skips": recent[s.name].to_json() if s.name in recent else None}
            for s in schedules
        ],
    }
    if runs is not None:
        payload["runs"] = [r.to_json() for r in runs]
    if skipped is not None:
        payload["skipped_runs"] = [k.to_json() for k in skipped]
    return payload


def render_status_json(
    schedules: Sequence[ScheduleHealth], now: datetime, runs: Sequence[Run] | None = None,
    skips: Mapping[str, SkipSummary] | None = None, skipped: Sequence[Skip] | None = None,
) -> str:
    return json.dumps(status_json(schedules, now, runs, skips, skipped), indent=2, ensure_ascii=False) + "\n"
