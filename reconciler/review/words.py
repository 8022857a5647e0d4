"""Schedules and run times as a reviewer reads them: the words are ``render.words``' (their one
home); here, why a task has no next run."""
from __future__ import annotations

from datetime import datetime

from ..core.specs import Clocked, TaskSpec
from ..render.words import both_zones, change_words, clock, cron_words, says_more, schedule_words

__all__ = ["both_zones", "change_words", "clock", "cron_words", "no_runs_reason", "says_more", "schedule_words"]


def no_runs_reason(spec: TaskSpec | None, now: datetime) -> str:
    if spec is None:
        return "none: not declared"
    if isinstance(spec.schedule, Clocked) and spec.schedule.at <= now:
        return "none: the one-off moment is past"
    if not spec.enabled:
        return "none: disabled"
    return "none"
