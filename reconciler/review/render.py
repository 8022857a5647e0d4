"""A review (plan against a git ref) rendered as text, JSON, a pull-request comment, and
GitHub notices. Pure functions of the ``Review``."""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..core.plan import Action, Change
from ..core.schedule import Clocked
from ..core.specs import TaskSpec
from ..observe.forecast import BusyMinute
from ..render import markdown as md
from ..render.diagnostics import diagnostic_json
from ..render.diagnostics import render_markdown as diagnostics_markdown
from ..render.diagnostics import render_text as diagnostics_text
from ..render.plan import _field_lines, _header, render_github
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
from .against import NextRuns, Review
from .comment import MARKER

COLLAPSE_OVER = 10
ICONS = {"create": "➕", "update": "🔄", "rename": "🔄", "delete": "➖", "adopt": "🔄", "retain": "⏸️", "conflict": "⛔"}  # noqa: RUF001


def against_label(review: Review) -> str:
    return f"{review.ref} ({review.commit[:12]})"


def summary_line(review: Review) -> str:
    assert review.plan is not None
    unchanged = len(review.plan.unchanged)
    if not review.plan.changes:
        return f"No changes against {against_label(review)}: {count(unchanged, 'task')} unchanged."
    s = review.plan.summary()
    return (
        f"Plan against {against_label(review)}: {s['create']} to create, {s['update']} to update, "
        f"{s['delete']} to delete, {unchanged} unchanged."
    )


# -- text ---------------------------------------------------------------------------------

def render_text(review: Review) -> str:
    if review.plan is None:
        return _invalid_text(review)
    blocks = [_text_block(review, c) for c in review.plan.changes]
    blocks += [f"  ! warning: {w}" for w in review.plan.warnings]
    busiest = busiest_line(review)
    return "\n\n".join([*blocks, summary_line(review) + (f"\n{busiest}" if busiest else "")]) + "\n"


def busiest_line(review: Review) -> str | None:
    """``Busiest minute (next 24 h): … → …``, when the change moves it or changes its count."""
    load = review.load
    if load is None or not load.busiest_changed:
        return None

    def busy(b: BusyMinute | None) -> str:
        return f"{iso(b.minute)} with {count(b.runs, 'run')}" if b else "none"

    return f"Busiest minute (next {load.hours:g} h): {busy(load.busiest_before)} → {busy(load.busiest_after)}"


def _invalid_text(review: Review) -> str:
    v = review.validation
    return diagnostics_text(v.diagnostics, checked=v.checked)


def _text_block(review: Review, change: Change) -> str:
    lines = [_header(change)]
    for f in change.fields:
        lines.extend(_field_lines(change, f))
    runs = review.runs.get(change.name)
    if runs is not None:
        old, new = _specs(review, change)
        if change.action is not Action.CREATE:
            lines += _text_runs("next runs before", runs.before, old, review.now)
        if change.action is not Action.DELETE:
            lines += _text_runs("next runs after", runs.after, new, review.now)
    lines.extend(f"      # {reason.words}" for reason in change.reasons)
    return "\n".join(lines)


def no_runs_reason(spec: TaskSpec | None, now: datetime) -> str:
    if spec is None:
        return "none: not declared"
    if isinstance(spec.schedule, Clocked) and spec.schedule.at <= now:
        return "none: the one-off moment is past"
    if not spec.enabled:
        return "none: disabled"
    return "none"


def _text_runs(label: str, runs: tuple[datetime, ...], spec: TaskSpec | None, now: datetime) -> list[str]:
    if not runs:
        return [f"      {label + ':':<18}{no_runs_reason(spec, now)}"]
    zone = moment_zone(spec, "schedule")
    lines = []
    for i, run in enumerate(runs):
        local, utc = both_zones(run, zone)
        prefix = f"      {label + ':':<18}" if i == 0 else " " * 24
        lines.append(prefix + local + (f"  = {utc}" if utc else ""))
    return lines


def _specs(review: Review, change: Change) -> tuple[TaskSpec | None, TaskSpec | None]:
    old = None if change.action is Action.CREATE else review.before.get(change.previous_name or change.name)
    return old, change.desired


# -- JSON ---------------------------------------------------------------------------------

def render_json(review: Review) -> str:
    return json.dumps(review_json(review), indent=2, ensure_ascii=False) + "\n"


def review_json(review: Review) -> dict[str, Any]:
    against = {"ref": review.ref, "commit": review.commit}
    if review.plan is None:
        v = review.validation
        return {
            "format_version": 1, "valid": False, "checked": v.checked, "against": against,
            "diagnostics": [diagnostic_json(d) for d in v.diagnostics],
        }
    payload = review.plan.to_json()
    for change, item in zip(review.plan.changes, payload["changes"], strict=True):
        runs = review.runs.get(change.name)
        if runs is not None:
            item["next_runs"] = _runs_json(review, change, runs)
    load = {"load": review.load.to_json()} if review.load is not None else {}
    return {**payload, "against": against, "now": iso(review.now), **load}


def _runs_json(review: Review, change: Change, runs: NextRuns) -> dict[str, list[str]]:
    old, new = _specs(review, change)
    return {
        "before": [iso(r, moment_zone(old, "schedule")) for r in runs.before],
        "after": [iso(r, moment_zone(new, "schedule")) for r in runs.after],
    }


# -- Markdown: the pull-request comment ---------------------------------------------------

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
        old, new = _specs(review, change)
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


# -- GitHub notices -----------------------------------------------------------------------

def render_notices(review: Review) -> str:
    return md.valid_utf8(_notices(review))


def _notices(review: Review) -> str:
    if review.plan is None:
        from ..render.diagnostics import render_github as diagnostics_github

        v = review.validation
        return diagnostics_github(v.diagnostics, checked=v.checked)
    from ..render.diagnostics import escape_data

    notices = render_github(review.plan).rstrip("\n").splitlines()[:-1]
    warnings = [f"::warning title=schedules plan::{escape_data(w)}" for w in review.plan.warnings]
    return "\n".join([*notices, *warnings, summary_line(review)]) + "\n"


def _valid_utf8(render: Callable[[Review], str]) -> Callable[[Review], str]:
    return lambda review: md.valid_utf8(render(review))


RENDERERS: dict[str, Callable[[Review], str]] = {
    "text": _valid_utf8(render_text), "json": _valid_utf8(render_json), "markdown": render_markdown,
    "github": render_notices,
}
