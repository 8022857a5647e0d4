"""The daylight-saving lints of a crontab in a local time zone, once per distinct crontab:
``dst-gap`` (a time the clocks jump over on some day of the next year) and ``dst-repeat`` (a
time they go back over), each saying on which dates and what beat does then (``dst``)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..core.diagnostics import Diagnostic
from ..core.schedule import Crontab
from .dst import Account, Fate, accounts
from .lint_finding import silenced, warn

if TYPE_CHECKING:
    from .shapes import ValidDeclaration

SHOWN = 4  # times named in a list before it is shortened


def dst(declarations: Iterable[ValidDeclaration], now: datetime) -> Iterator[Diagnostic]:
    by_cron: dict[Crontab, list[ValidDeclaration]] = defaultdict(list)
    for d in declarations:
        if isinstance(d.spec.schedule, Crontab) and d.spec.schedule.timezone != "UTC":
            by_cron[d.spec.schedule].append(d)
    for schedule, tasks in by_cron.items():
        for code, (message, hint) in findings(schedule, now).items():
            for d in tasks:
                if not silenced(d, code):
                    yield warn(code, d, message, hint, key="cron")


def findings(schedule: Crontab, now: datetime) -> dict[str, tuple[str, str]]:
    """code → (message, hint) of the cron's changes in the year from ``now``."""
    by_code: dict[str, list[Account]] = defaultdict(list)
    for found in accounts(schedule, now):
        by_code["dst-gap" if found.change.forward else "dst-repeat"].append(found)
    return {code: _words(schedule, found) for code, found in sorted(by_code.items())}


def _words(schedule: Crontab, found: Sequence[Account]) -> tuple[str, str]:
    """One sentence per distinct behaviour, naming every date it happens on."""
    dates: dict[str, list[str]] = defaultdict(list)
    for one in found:
        dates[_sentence(one)].append(f"{one.fates[0].written:%Y-%m-%d}")
    told = "; and ".join(sentence.replace("{dates}", " and ".join(on)) for sentence, on in dates.items())
    start, end = found[0].change.span
    where = f"before {start:%H:%M} or from {end:%H:%M} on"
    if found[0].change.forward:
        hint = (f"a time {where} runs every day at the time written (or declare the task in UTC); "
                "if this is fine, say so with ignore: [dst-gap]")
    else:
        hint = (f"a time {where} happens exactly once every day (or declare the task in UTC); "
                "if this is fine, say so with ignore: [dst-repeat]")
    return f'cron "{schedule.expression}" in {schedule.timezone}: {told}', hint


def _sentence(found: Account) -> str:
    change, fates = found.change, found.fates
    written = _times(f.written for f in fates)
    plural = len(fates) > 1
    if change.forward:
        head = (f"{written} {'do' if plural else 'does'} not exist on {{dates}} (the clocks jump from "
                f"{change.wall_before:%H:%M} to {change.wall_after:%H:%M})")
        parts = _gap_parts(fates)
    else:
        head = (f"{written} {'happen' if plural else 'happens'} twice on {{dates}} (the clocks go back from "
                f"{change.wall_before:%H:%M} to {change.wall_after:%H:%M})")
        parts = _repeat_parts(fates, change.before, change.after)
    if found.lost:
        parts.append(f"does not send {_times(found.lost)} either")
    if found.extra:
        parts.append(f"also sends a run at {_times(found.extra)}")
    return f"{head}: beat {', and '.join(parts)}"


def _gap_parts(fates: Sequence[Fate]) -> list[str]:
    shifted = [f for f in fates if f.outcome == "shifted"]
    skipped = [f for f in fates if f.outcome == "skipped"]
    parts = []
    if shifted:
        assert all(f.sent_at is not None for f in shifted)
        late = _duration(shifted[0].sent_at.replace(tzinfo=None) - shifted[0].written)  # type: ignore[union-attr]
        what = "it" if len(fates) == 1 else f"the run of {_times(f.written for f in shifted)}"
        parts.append(f"sends {what} at {_times(f.sent_at for f in shifted if f.sent_at)}, {late} late")
    if skipped:
        what = "it" if len(fates) == 1 else _times(f.written for f in skipped)
        parts.append(f"skips {what}" + (" (not sent that day)" if len(fates) == 1 else ""))
    return parts


def _repeat_parts(fates: Sequence[Fate], before: timedelta, after: timedelta) -> list[str]:
    words = {
        "first": f"once, at the first (UTC{_offset(before)})",
        "second": f"once, at the second (UTC{_offset(after)})",
        "twice": f"twice (UTC{_offset(before)} and UTC{_offset(after)})",
    }
    by_outcome: dict[str, list[Fate]] = defaultdict(list)
    for f in fates:
        by_outcome[f.outcome].append(f)
    parts = []
    for outcome, group in by_outcome.items():
        what = ("it" if len(fates) == 1 else "each") if len(group) == len(fates) else _times(f.written for f in group)
        parts.append(f"does not send {what}" if outcome == "never" else f"sends {what} {words[outcome]}")
    return parts


def _times(moments: Iterable[datetime]) -> str:
    shown = [f"{at:%H:%M}" for at in moments]
    if len(shown) <= SHOWN:
        return ", ".join(shown)
    return f"{', '.join(shown[:2])}, … {shown[-1]} ({len(shown)} times)"


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds()) // 60
    hours, rest = divmod(minutes, 60)
    if not rest:
        return f"{hours} hour{'s' if hours > 1 else ''}"
    return f"{minutes} minutes" if not hours else f"{hours} h {rest:02d} min"


def _offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign, minutes = ("+" if minutes >= 0 else "-"), abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
