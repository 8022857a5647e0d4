"""A Plan rendered as text (Terraform-like), JSON (the stable contract) and Markdown (a
pull-request comment). Pure functions of the plan."""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from ..plan import Action, Change, FieldChange, Plan
from . import markdown as md


@lru_cache(maxsize=1024)
def cron_words(expression: str) -> str:
    """cron-descriptor's words; Celery and cron-descriptor both count Sunday as 0."""
    try:
        from cron_descriptor import get_description

        return str(get_description(expression))
    except Exception:
        return ""


def show(value: Any) -> str:
    """One field value as people read it."""
    if isinstance(value, dict) and "kind" in value:
        return _show_schedule(value)
    if value is None:
        return "(none)"
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else _show_text(value)


def _show_text(value: str) -> str:
    return value if value.startswith(("[", "{")) else json.dumps(value, ensure_ascii=False)


def _show_schedule(schedule: dict[str, Any]) -> str:
    kind = schedule["kind"]
    if kind == "cron":
        return f'cron "{schedule["expression"]}" ({schedule["timezone"]})'
    if kind == "interval":
        from ..specs import format_duration

        return f"every {format_duration(schedule['every'])}"
    if kind == "at":
        return f"at {schedule['at']}"
    if kind == "solar":
        return f"solar {schedule['event']} at {schedule['latitude']}, {schedule['longitude']}"
    return "no schedule"


def _schedule_words(change: FieldChange) -> str | None:
    old, new = change.old, change.new
    words = [cron_words(v["expression"]) if isinstance(v, dict) and v.get("kind") == "cron" else "" for v in (old, new)]
    if not any(words):
        return None
    if old is None:
        return words[1]
    return f"{words[0] or show(old)} → {words[1] or show(new)}"


def _field_lines(change: FieldChange, action: Action) -> list[str]:
    if action is Action.CREATE:
        lines = [f"      {change.field}: {show(change.new)}"]
    else:
        lines = [f"      {change.field}: {show(change.old)} → {show(change.new)}"]
    if change.field == "schedule":
        words = _schedule_words(change)
        if words:
            lines.append(f"        ({words})")
    return lines


def _header(change: Change) -> str:
    where = f"  {change.source}" if change.source and change.source.line else (
        f"  {change.source.file}" if change.source else ""
    )
    label = "" if change.action in (Action.CREATE, Action.UPDATE, Action.DELETE) else f" [{change.action.value}]"
    return f"  {change.action.symbol} {change.name}{label}  ({change.task}){where}"


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def one_line(text: str) -> str:
    """A text line with its control characters escaped (``\\n``, ``\\x1b``, ``\\u202e``): a user's
    string (a name, a reason, a file name) can never start a line of its own or reorder one."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _text_block(change: Change) -> str:
    lines = [_header(change)]
    for field_change in change.fields:
        lines.extend(_field_lines(field_change, change.action))
    lines.extend(f"      # {reason}" for reason in change.reasons)
    return "\n".join(one_line(line) for line in lines)


def summary_line(plan: Plan) -> str:
    if not plan.changes:
        return "No changes. The database matches the declarations."
    s = plan.summary()
    line = f"Plan: {s['create']} to create, {s['update']} to update, {s['delete']} to delete."
    extras = [f"{s[k]} {k}" for k in ("conflict", "retain", "suspended") if s.get(k)]
    return line + (f" ({', '.join(extras)})" if extras else "")


def render_text(plan: Plan) -> str:
    blocks = [_text_block(c) for c in plan.changes]
    blocks += [one_line(f"  ! warning: {w}") for w in plan.warnings]
    unchanged = f"{len(plan.unchanged)} task(s) unchanged."
    if plan.scope.within is not None:
        unchanged += "\n" + one_line(f"Scope: {plan.scope.describe()}.")
    return "\n\n".join([*blocks, unchanged + "\n" + summary_line(plan)]) + "\n"


def render_json(plan: Plan) -> str:
    return json.dumps(plan.to_json(), indent=2, ensure_ascii=False) + "\n"


def _markdown_row(change: Change) -> str:
    fields = "<br>".join(
        f"{md.code(f.field)}: {md.code(show(f.new))}" if change.action is Action.CREATE
        else f"{md.code(f.field)}: {md.code(show(f.old))} → {md.code(show(f.new))}"
        for f in change.fields
    )
    notes = "<br>".join(md.text(r) for r in change.reasons)
    details = "<br>".join(part for part in (fields, notes) if part)
    action = f"{md.code(change.action.symbol)} {change.action.value}"
    return f"| {action} | {md.code(change.name)} | {md.code(change.task)} | {details} |"


def render_markdown(plan: Plan) -> str:
    lines = ["### Schedules plan", "", f"**{summary_line(plan)}**", ""]
    if plan.changes:
        lines += ["| Action | Name | Task | Details |", "|---|---|---|---|"]
        lines += [_markdown_row(c) for c in plan.changes]
        lines.append("")
    if plan.warnings:
        lines += [*(f"> ⚠️ {md.text(w)}" for w in plan.warnings), ""]
    lines.append(f"<sub>{len(plan.unchanged)} task(s) unchanged.</sub>")
    return "\n".join(lines) + "\n"


def _field_words(change: FieldChange, action: Action) -> str:
    if action is Action.CREATE:
        return f"{change.field}: {show(change.new)}"
    return f"{change.field}: {show(change.old)} → {show(change.new)}"


def render_github(plan: Plan) -> str:
    """GitHub Actions workflow commands: each change as a notice on its declaration's line
    (a conflict as an error), then the summary line."""
    from .diagnostics import escape_data, escape_property

    lines = []
    for change in plan.changes:
        level = "error" if change.action is Action.CONFLICT else "notice"
        props = []
        if change.source:
            props.append(f"file={escape_property(change.source.file)}")
            if change.source.line:
                props.append(f"line={change.source.line}")
        props.append(f"title={escape_property(f'{change.action.symbol} {change.action.value} {change.name}')}")
        details = "; ".join([*(_field_words(f, change.action) for f in change.fields), *change.reasons])
        lines.append(f"::{level} {','.join(props)}::{escape_data(f'{change.name} ({change.task}) {details}'.strip())}")
    lines.append(summary_line(plan))
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[[Plan], str]] = {
    "text": render_text, "json": render_json, "markdown": render_markdown, "github": render_github,
}
