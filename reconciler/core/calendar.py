"""A schedule's calendar: what it adds to the one schedule row django-celery-beat holds: more
crons (a ``cron:`` list is their union; the first is the row's crontab), exclusions (public
holidays of a country, dates and date ranges, crons), an end (``until``) and a number of runs
(``max_runs``). Plain, JSON-able values (crons as canonical 5-field strings, dates as ISO
strings): the evaluation lives with the schedules beat runs, not here. docs/calendars.md."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

from .options import OptionSet


@dataclass(frozen=True)
class Calendar(OptionSet):
    also_cron: tuple[str, ...] = ()  # the crons of a ``cron:`` list after the first, same time zone
    holidays: str | None = None  # "FR", or "DE-BY" with a subdivision (the ``holidays`` library's codes)
    exclude_dates: tuple[str, ...] = ()  # "2026-12-24" or "2026-12-26..2027-01-02" (inclusive)
    exclude_cron: tuple[str, ...] = ()  # no run at a moment one of these matches
    zone: str | None = None  # where dates and excluded crons are read: the cron's time zone, else UTC
    until: str | None = None  # ISO 8601 with offset, UTC: no run after this moment
    max_runs: int | None = None  # then the schedule is complete (like a fired one-off)

    @property
    def holiday_country(self) -> tuple[str, str | None] | None:
        """(country, subdivision or None) of ``holidays``."""
        if not self.holidays:
            return None
        country, _, subdivision = self.holidays.partition("-")
        return country, subdivision or None

    @cached_property
    def end(self) -> datetime | None:
        """``until`` as a moment in UTC; None without one (or unreadable: the next apply rewrites it)."""
        try:
            return datetime.fromisoformat(self.until).astimezone(UTC) if self.until else None
        except ValueError:
            return None

    def ended(self, now: datetime) -> bool:
        """``until`` has passed: nothing more is sent."""
        return self.end is not None and self.end <= now

    def remaining(self, sent: int | None) -> int | None:
        """The runs left after ``sent`` sends (beat's ``total_run_count``); None: no limit."""
        return None if self.max_runs is None else max(self.max_runs - (sent or 0), 0)

    def complete(self, sent: int | None) -> bool:
        """``max_runs`` reached: the schedule is complete (disabled, like a fired one-off)."""
        return self.remaining(sent) == 0


NO_CALENDAR = Calendar()
