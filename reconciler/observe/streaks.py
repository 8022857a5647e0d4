"""Failing by runs in a row: a schedule's ``monitor.failure_threshold`` N and
``monitor.recovery_threshold`` M (``core.monitor``). Failing once N runs in a row have failed;
once failing, ok again only after M runs in a row have succeeded (Sentry's
``failure_issue_threshold`` and ``recovery_threshold``, Cronitor's ``failure_tolerance``).

Decided from each schedule's newest finished runs (``SUCCESS``, ``FAILURE``, ``REVOKED``: a run
in progress or retrying has no outcome yet), at most ``window(N, M)`` of them: the newest streak
that reached its threshold (N failures, or M successes) decides. When no streak in the window
reached one, the schedule is not failing — exact while it has fewer runs than the window (a
schedule starts ok); past that, a schedule that has alternated short streaks for the whole
window is judged ok. Read in one query (one per ``NAME_BATCH`` names) whatever the number of
schedules: a window function (``ROW_NUMBER() OVER (PARTITION BY periodic_task_name ...)``),
on SQLite and PostgreSQL alike. With the default thresholds (1 and 1) the rule is "the last
finished run failed", which health reads from the runs' summaries without this query.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence

from celery import states
from django.db.models import F, Window
from django.db.models.functions import RowNumber

from ..core.monitor import Monitor
from .rows import NAME_BATCH
from .runs import FAILED_STATES, task_results

WINDOW_FACTOR = 2  # runs read per schedule: twice the two thresholds together


def window(failure_threshold: int, recovery_threshold: int) -> int:
    """How many of a schedule's newest finished runs decide: room for a whole streak of each
    kind, twice over (a recovery cut short by one failure, then a fresh one)."""
    return WINDOW_FACTOR * (failure_threshold + recovery_threshold)


def uses_streaks(monitor: Monitor) -> bool:
    return monitor.failure_threshold > 1 or monitor.recovery_threshold > 1


def failing_by_streaks(outcomes: Iterable[str], failure_threshold: int, recovery_threshold: int) -> bool:
    """Whether the schedule is failing, from its finished runs' states, newest first. Pure."""
    for failed, streak in itertools.groupby(outcomes, key=lambda state: state in FAILED_STATES):
        if sum(1 for _ in streak) >= (failure_threshold if failed else recovery_threshold):
            return failed
    return False


def read_streaks(monitors: Mapping[str, Monitor]) -> dict[str, bool]:
    """Failing or not, for each schedule named in ``monitors`` (by its thresholds)."""
    outcomes = newest_outcomes({name: window(m.failure_threshold, m.recovery_threshold)
                                for name, m in monitors.items()})
    return {
        name: failing_by_streaks(outcomes.get(name, ()), m.failure_threshold, m.recovery_threshold)
        for name, m in monitors.items()
    }


def newest_outcomes(limits: Mapping[str, int]) -> dict[str, tuple[str, ...]]:
    """Per schedule, the states of its newest finished runs (newest first), at most its limit."""
    names = sorted(limits)
    found: dict[str, list[str]] = {}
    for start in range(0, len(names), NAME_BATCH):
        batch = names[start:start + NAME_BATCH]
        for name, state, rank in _ranked(batch, max(limits[name] for name in batch)):
            if rank <= limits[name]:
                found.setdefault(name, []).append(state)
    return {name: tuple(states_) for name, states_ in found.items()}


def _ranked(names: Sequence[str], limit: int) -> list[tuple[str, str, int]]:
    """(schedule, state, rank: 1 for the newest) of each schedule's newest ``limit`` finished runs."""
    ranked = task_results().objects.filter(
        periodic_task_name__in=list(names), status__in=sorted(states.READY_STATES),
    ).annotate(rank=Window(
        RowNumber(), partition_by=[F("periodic_task_name")], order_by=[F("date_created").desc(), F("id").desc()],
    ))
    query = ranked.filter(rank__lte=limit).order_by("periodic_task_name", "rank")
    return list(query.values_list("periodic_task_name", "status", "rank"))
