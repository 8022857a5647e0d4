"""Moments as the admin shows them: the current time zone, a 24-hour clock, seconds only for a
schedule that runs more often than once a minute (its runs differ by seconds)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.html import format_html, format_html_join

MINUTE = timedelta(minutes=1)


def moment(value: datetime | None, *, seconds: bool = False, empty: str = "—") -> str:
    if value is None:
        return empty
    shown = timezone.localtime(value) if timezone.is_aware(value) else value
    return shown.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def sub_minute(row: Any) -> bool:
    """Does this PeriodicTask run more often than once a minute (an interval under 60 s)?"""
    interval = getattr(row, "interval", None)
    if interval is None:
        return False
    try:
        return bool(interval.schedule.run_every < MINUTE)
    except (TypeError, ValueError, AttributeError):
        return False


def breakable(text: str, after: str) -> str:
    """``text`` that may wrap after each ``after`` only (a narrow column; long dotted names,
    dates that must not break at their hyphens)."""
    parts = ((part,) for part in text.split(after))
    return format_html_join(format_html("{}<wbr>", after), '<span class="reconciler-nowrap">{}</span>', parts)
