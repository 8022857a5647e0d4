"""The herd lint: too many tasks due in the same minute. A schedule is counted with its
calendar (``Window.fired``): every cron of a ``cron:`` list, not the excluded days and crons,
nothing after ``until``, at most ``max_runs``."""
from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..core.calendar import Calendar
from ..core.diagnostics import Diagnostic
from ..core.schedule import Schedule
from .firing import Window
from .lint_finding import silenced, warn

if TYPE_CHECKING:
    from .shapes import ValidDeclaration

HERD_LIMIT = 50


def herd(declarations: Sequence[ValidDeclaration], window: Window, limit: int) -> list[Diagnostic]:
    by_schedule: dict[tuple[Schedule, Calendar], list[ValidDeclaration]] = defaultdict(list)
    for d in declarations:
        if d.spec.enabled and not silenced(d, "herd"):
            by_schedule[(d.spec.schedule, d.spec.calendar)].append(d)
    due: Counter[int] = Counter()
    for (schedule, calendar), tasks in by_schedule.items():
        for minute in window.fired(schedule, calendar):
            due[minute] += len(tasks)
    crowded = [minute for minute, count in due.items() if count > limit]
    if not crowded:
        return []
    peak = min(crowded, key=lambda m: (-due[m], m))
    there = heapq.nsmallest(
        3, (d for (s, c), tasks in by_schedule.items() if peak in window.fired(s, c) for d in tasks),
        key=lambda d: (d.file, d.source.line or 0, d.name),
    )
    at = datetime.fromtimestamp(peak * 60, UTC)
    others = f"; {len(crowded) - 1} other minute(s) of the next 7 days are over it too" if len(crowded) > 1 else ""
    return [warn(
        "herd", there[0],
        f"{due[peak]} tasks are due in the same minute, {at:%Y-%m-%d %H:%M} UTC (more than "
        f"RECONCILER_HERD_LIMIT={limit}){others}; among them {', '.join(repr(d.name) for d in there[:3])}",
        "spread the schedules: over several minutes, or give them a `jitter: <duration>` such as `jitter: 5m` "
        "(each task then runs at a stable offset in [0, 5m) after its slot); or raise RECONCILER_HERD_LIMIT, "
        "or leave a task out of the count with ignore: [herd]",
    )]
