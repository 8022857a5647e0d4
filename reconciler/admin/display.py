"""Moments as the admin shows them: written as everywhere else (``render.words.iso``: ISO 8601 to
the second), in the current time zone; cells that may wrap only where a reader expects it."""
from __future__ import annotations

import re
from datetime import datetime

from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from ..render.words import iso


def moment(value: datetime | None, *, empty: str = "—") -> str:
    if value is None:
        return empty

    return iso(value, timezone.get_current_timezone())


def breakable_moment(text: str) -> str:
    """An ISO 8601 moment that may wrap after its date and before its offset, nowhere else."""
    parts = re.split(r"(?<=T)|(?=[+-]\d\d:\d\d$)", text)
    return format_html_join(mark_safe("<wbr>"), '<span class="reconciler-nowrap">{}</span>', ((p,) for p in parts))


def breakable(text: str, after: str) -> str:
    """``text`` that may wrap after any character of ``after`` only (a narrow column; long dotted
    names, dates that must not break at their hyphens)."""
    parts = re.split(f"(?<=[{re.escape(after)}])", text)
    return format_html_join(mark_safe("<wbr>"), '<span class="reconciler-nowrap">{}</span>', ((p,) for p in parts))
