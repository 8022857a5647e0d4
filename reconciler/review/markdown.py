"""A review as the pull-request comment a CI bot posts (Markdown). Every user-derived value
goes through ``md``: escaped for where it lands, never carrying the marker."""
from __future__ import annotations

from datetime import datetime

from ..core.plan import Action, Change
from ..core.specs import TaskSpec
from ..render import markdown as md
from ..render.diagnostics import render_markdown as diagnostics_markdown
from ..render.words import (
    both_zones,
    change_words,
    count,
    iso,
    moment_zone,
    schedule_change_words,
    schedule_words,
    show_field,
)
from .against import Review
from .comment import MARKER
from .summary import before_after, busiest_line, no_runs_reason, summary_line

COLLAPSE_OVER = 10
ICONS = {"create": "➕", "update": "🔄", "rename": "🔄", "delete": "➖", "adopt": "🔄", "retain": "⏸️", "conflict": "⛔"}  # noqa: RUF001


def render_markdown(review: Review) -> str:
    """The comment. Every user-derived value goes through ``md`` (escaped for where it lands,
    never carrying the marker); the result is valid UTF-8 whatever the file names were."""
    return md.valid_utf8(_invalid_markdown(review) if review.plan is None else _plan_markdown(review))


def _plan_markdown(review: Review) -> str:
    assert review.plan is not None
    plan = review.plan
    lines = [f"**Schedules:** {md.text(summary_line(review))}", ""]
    busiest = busiest_line(review)
    if busiest:
        lines += [f"**{md.text(busiest)}**", ""]
    if plan.changes:
        lines += ["| | Task | What changes | Next run |", "|---|---|---|---|"]
        lines += [_row(review, c) for c in plan.changes]
        lines.append("")
        collapse = len(plan.changes) > COLLAPSE_OVER
        if not collapse:
            lines += ["#### Details", ""]
        for change in plan.changes:
            lines += _details(review, change, collapse)
    if plan.warnings:
        lines += [*(f"> ⚠️ {md.text(w)}" for w in plan.warnings), ""]
    lines += [
        f"<sub>Declarations at {md.code(review.ref)} ({md.code(review.commit[:12])}) compared with this change, "
        f"at {md.text(iso(review.now))}; no database involved.</sub>",
        "",
        MARKER,
    ]
    return "\n".join(lines) + "\n"


def _invalid_markdown(review: Review) -> str:
    v = review.validation
    errors = sum(d.is_error for d in v.diagnostics)
    head = (
        f"**Schedules:** ❌ the declarations are invalid ({count(errors, 'error')}): "
        f"nothing to plan against {md.code(review.ref)}."
    )
    return "\n".join([head, "", diagnostics_markdown(v.diagnostics, checked=v.checked).rstrip(), "", MARKER]) + "\n"


def _row(review: Review, change: Change) -> str:
    action = f"{ICONS.get(change.action.value, '')} {change.action.value}"
    return f"| {action} | {md.code(change.name)} | {_what(change)} | {_next_cell(review, change)} |"


def _what(change: Change) -> str:
    if change.action is Action.DELETE:
        was = [md.text(f"was: {schedule_words(f.old)}") for f in change.fields if f.field == "schedule"]
        return "<br>".join([*was, md.text(change.reasons[0].words) if change.reasons else "no longer declared"])
    parts = []
    for f in change.fields:
        if f.field == "schedule":
            old = None if change.action is Action.CREATE else f.old
            parts.append(md.text(change_words(old, f.new, shown_in=moment_zone(change.desired, "schedule"))))
        elif change.action is Action.CREATE:
            continue
        elif f.field == "name":
            parts.append(f"renamed from {md.code(str(f.old))}")
        else:
            old, new = (show_field(f.field, v, change.desired) for v in (f.old, f.new))
            parts.append(f"{md.code(f.field)}: {md.code(old)} → {md.code(new)}")
    return "<br>".join(parts) or "—"


def _next_cell(review: Review, change: Change) -> str:
    runs = review.runs.get(change.name)
    if runs is None or change.action is Action.DELETE:
        return "—"
    if not runs.after:
        return md.text(no_runs_reason(change.desired, review.now))
    local, utc = both_zones(runs.after[0], moment_zone(change.desired, "schedule"))
    return md.text(local) + (f"<br>{md.text(utc)}" if utc else "")


def _details(review: Review, change: Change, collapse: bool) -> list[str]:
    title = f"{change.action.symbol} {change.name}"
    where = f" · {md.code(str(change.source), in_table=False)}" if change.source else ""
    body = _detail_items(review, change)
    if collapse:
        summary = f"<code>{md.inline_html(title)}</code> {change.action.value}"
        return [f"<details><summary>{summary}</summary>", "", *body, "", "</details>", ""]
    return [f"**{md.code(title, in_table=False)}** {md.code(change.task, in_table=False)}{where}", "", *body, ""]


def _detail_items(review: Review, change: Change) -> list[str]:
    items = []
    for f in change.fields:
        new = f.old if f.new is None and change.action in (Action.DELETE, Action.RETAIN) else f.new
        value = md.code(show_field(f.field, new, change.desired), in_table=False)
        if change.action not in (Action.CREATE, Action.DELETE, Action.RETAIN):
            value = f"{md.code(show_field(f.field, f.old, change.desired), in_table=False)} → {value}"
        items.append(f"- {md.code(f.field, in_table=False)}: {value}")
        words = schedule_change_words(change, f)
        if words:
            items.append(f"  <br>{md.text(words)}")
    runs = review.runs.get(change.name)
    if runs is not None:
        old, new = before_after(review, change)
        if change.action is not Action.CREATE:
            items.append(f"- next runs before: {_md_runs(runs.before, old, review.now)}")
        if change.action is not Action.DELETE:
            items.append(f"- next runs after: {_md_runs(runs.after, new, review.now)}")
    items += [f"- _{md.text(r.words)}_" for r in change.reasons]
    return items


def _md_runs(runs: tuple[datetime, ...], spec: TaskSpec | None, now: datetime) -> str:
    if not runs:
        return md.text(no_runs_reason(spec, now))
    zone = moment_zone(spec, "schedule")
    shown = []
    for run in runs:
        local, utc = both_zones(run, zone)
        shown.append(md.text(local) + (f" ({md.text(utc)})" if utc else ""))
    return " · ".join(shown)
