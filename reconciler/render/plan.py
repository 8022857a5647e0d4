"""A Plan rendered as text (Terraform-like), JSON (the stable contract) and Markdown (a
pull-request comment). Pure functions of the plan."""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ..core.plan import Action, Change, FieldChange, Plan
from . import markdown as md
from .diagnostics import escape_data, escape_property
from .words import count, schedule_change_words, show_field, shown_alone

__all__ = ["RENDERERS", "render_json", "render_markdown", "render_text", "summary_line"]


def _shown(change: Change, f: FieldChange) -> str:
    """The field's change, its moments in the declaration's zone; a deleted row's field as it was."""
    if change.action is Action.CREATE:
        return show_field(f.field, f.new, change.desired)
    if change.action in (Action.DELETE, Action.RETAIN) and f.new is None:
        return show_field(f.field, f.old, change.desired)
    return f"{show_field(f.field, f.old, change.desired)} → {show_field(f.field, f.new, change.desired)}"


def _field_lines(change: Change, f: FieldChange, memo: dict[tuple[Any, ...], list[str]] | None = None) -> list[str]:
    """The field's lines; with ``memo``, those of a value shown alone (``shown_alone``) made once
    per value: a first apply of 100,000 tasks shows 500,000 fields, most of them a few values."""
    value = _single(change, f)
    if memo is None or value is _BOTH or not shown_alone(f.field, value):
        return _lines(change, f)
    key = (f.field, type(value), value)  # the type too: True == 1, but shows otherwise
    lines = memo.get(key)
    if lines is None:
        lines = memo[key] = _lines(change, f)
    return lines


_BOTH = object()  # a change shown as old → new


def _single(change: Change, f: FieldChange) -> Any:
    """The one value ``_shown`` shows, or ``_BOTH``."""
    if change.action is Action.CREATE:
        return f.new
    if change.action in (Action.DELETE, Action.RETAIN) and f.new is None:
        return f.old
    return _BOTH


def _lines(change: Change, f: FieldChange) -> list[str]:
    lines = [f"      {f.field}: {_shown(change, f)}"]
    words = schedule_change_words(change, f)
    if words:
        lines.append(f"        in words: {words}")
    return lines


def _header(change: Change) -> str:
    where = f"  {change.source}" if change.source and change.source.line else (
        f"  {change.source.file}" if change.source else ""
    )
    label = "" if change.action in (Action.CREATE, Action.UPDATE, Action.DELETE) else f" [{change.action.value}]"
    return f"  {change.action.symbol} {change.name}{label}  ({change.task}){where}"


_BUT_NEWLINE = "\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"  # control characters
_CONTROL = re.compile(f"[\n{_BUT_NEWLINE}]")
_CONTROL_BUT_NEWLINE = re.compile(f"[{_BUT_NEWLINE}]")


def one_line(text: str) -> str:
    """A text line with its control characters escaped (``\\n``, ``\\x1b``, ``\\u202e``): a user's
    string (a name, a reason, a file name) can never start a line of its own or reorder one."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _text_block(change: Change, memo: dict[tuple[Any, ...], list[str]]) -> str:
    lines = [_header(change)]
    for field_change in change.fields:
        lines.extend(_field_lines(change, field_change, memo))
    lines.extend(f"      # {reason.words}" for reason in change.reasons)
    block = "\n".join(lines)
    if block.count("\n") == len(lines) - 1 and not _CONTROL_BUT_NEWLINE.search(block):
        return block  # no line holds a control character: one scan instead of one per line
    return "\n".join(one_line(line) for line in lines)


EXTRAS = (("conflict", "conflict", "conflicts"), ("retain", "retained", "retained"),
          ("suspended", "suspended", "suspended"))


def summary_line(plan: Plan) -> str:
    if not plan.changes:
        return "No changes. The database matches the declarations."
    s = plan.summary()
    line = f"Plan: {s['create']} to create, {s['update']} to update, {s['delete']} to delete."
    extras = [count(s[k], one, many) for k, one, many in EXTRAS if s.get(k)]
    return line + (f" ({', '.join(extras)})" if extras else "")


def unchanged_line(plan: Plan) -> str:
    return f"{count(len(plan.unchanged), 'task')} unchanged."


def render_text(plan: Plan) -> str:
    memo: dict[tuple[Any, ...], list[str]] = {}
    blocks = [_text_block(c, memo) for c in plan.changes]
    blocks += [one_line(f"  ! warning: {w}") for w in plan.warnings]
    unchanged = unchanged_line(plan)
    if plan.scope.within is not None:
        unchanged += "\n" + one_line(f"Scope: {plan.scope.describe()}.")
    return "\n\n".join([*blocks, unchanged + "\n" + summary_line(plan)]) + "\n"


def render_json(plan: Plan) -> str:
    return json.dumps(plan.to_json(), indent=2, ensure_ascii=False) + "\n"


def _markdown_row(change: Change) -> str:
    fields = "<br>".join(_markdown_field(change, f) for f in change.fields)
    notes = "<br>".join(md.text(r.words) for r in change.reasons)
    details = "<br>".join(part for part in (fields, notes) if part)
    action = f"{md.code(change.action.symbol)} {change.action.value}"
    return f"| {action} | {md.code(change.name)} | {md.code(change.task)} | {details} |"


def _markdown_field(change: Change, f: FieldChange) -> str:
    if change.action is Action.CREATE or (change.action in (Action.DELETE, Action.RETAIN) and f.new is None):
        value = md.code(_shown(change, f))
    else:
        old, new = (show_field(f.field, v, change.desired) for v in (f.old, f.new))
        value = f"{md.code(old)} → {md.code(new)}"
    words = schedule_change_words(change, f)
    return f"{md.code(f.field)}: {value}" + (f", in words: {md.text(words)}" if words else "")


def render_markdown(plan: Plan) -> str:
    lines = ["### Schedules plan", "", f"**{summary_line(plan)}**", ""]
    if plan.changes:
        lines += ["| Action | Name | Task | Details |", "|---|---|---|---|"]
        lines += [_markdown_row(c) for c in plan.changes]
        lines.append("")
    if plan.warnings:
        lines += [*(f"> ⚠️ {md.text(w)}" for w in plan.warnings), ""]
    lines.append(f"<sub>{unchanged_line(plan)}</sub>")
    return "\n".join(lines) + "\n"


def _field_words(change: Change, f: FieldChange) -> str:
    words = schedule_change_words(change, f)
    return f"{f.field}: {_shown(change, f)}" + (f", in words: {words}" if words else "")


def render_github(plan: Plan) -> str:
    """GitHub Actions workflow commands: each change as a notice on its declaration's line
    (a conflict as an error), then the summary line."""
    lines = []
    for change in plan.changes:
        level = "error" if change.action is Action.CONFLICT else "notice"
        props = []
        if change.source:
            props.append(f"file={escape_property(change.source.file)}")
            if change.source.line:
                props.append(f"line={change.source.line}")
        props.append(f"title={escape_property(f'{change.action.symbol} {change.action.value} {change.name}')}")
        details = "; ".join([*(_field_words(change, f) for f in change.fields), *(r.words for r in change.reasons)])
        lines.append(f"::{level} {','.join(props)}::{escape_data(f'{change.name} ({change.task}) {details}'.strip())}")
    lines.append(summary_line(plan))
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[[Plan], str]] = {
    "text": render_text, "json": render_json, "markdown": render_markdown, "github": render_github,
}
