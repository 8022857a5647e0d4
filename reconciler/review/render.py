"""A review (plan against a git ref) rendered as text, JSON, a pull-request comment
(``review.markdown``), and GitHub notices. Pure functions of the ``Review``, chosen from
``RENDERERS``."""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..core.plan import Action, Change
from ..core.specs import TaskSpec
from ..render import markdown as md
from ..render.diagnostics import diagnostic_json, escape_data
from ..render.diagnostics import render_github as diagnostics_github
from ..render.diagnostics import render_text as diagnostics_text
from ..render.plan import _field_lines, _header, render_github
from ..render.words import both_zones, iso, moment_zone
from .against import NextRuns, Review
from .markdown import render_markdown
from .summary import before_after, busiest_line, no_runs_reason, summary_line

# -- text ---------------------------------------------------------------------------------

def render_text(review: Review) -> str:
    if review.plan is None:
        return _invalid_text(review)
    blocks = [_text_block(review, c) for c in review.plan.changes]
    blocks += [f"  ! warning: {w}" for w in review.plan.warnings]
    busiest = busiest_line(review)
    return "\n\n".join([*blocks, summary_line(review) + (f"\n{busiest}" if busiest else "")]) + "\n"


def _invalid_text(review: Review) -> str:
    v = review.validation
    return diagnostics_text(v.diagnostics, checked=v.checked)


def _text_block(review: Review, change: Change) -> str:
    lines = [_header(change)]
    for f in change.fields:
        lines.extend(_field_lines(change, f))
    runs = review.runs.get(change.name)
    if runs is not None:
        old, new = before_after(review, change)
        if change.action is not Action.CREATE:
            lines += _text_runs("next runs before", runs.before, old, review.now)
        if change.action is not Action.DELETE:
            lines += _text_runs("next runs after", runs.after, new, review.now)
    lines.extend(f"      # {reason.words}" for reason in change.reasons)
    return "\n".join(lines)


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
    old, new = before_after(review, change)
    return {
        "before": [iso(r, moment_zone(old, "schedule")) for r in runs.before],
        "after": [iso(r, moment_zone(new, "schedule")) for r in runs.after],
    }


# -- GitHub notices -----------------------------------------------------------------------

def render_notices(review: Review) -> str:
    return md.valid_utf8(_notices(review))


def _notices(review: Review) -> str:
    if review.plan is None:
        v = review.validation
        return diagnostics_github(v.diagnostics, checked=v.checked)
    notices = render_github(review.plan).rstrip("\n").splitlines()[:-1]
    warnings = [f"::warning title=schedules plan::{escape_data(w)}" for w in review.plan.warnings]
    return "\n".join([*notices, *warnings, summary_line(review)]) + "\n"


def _valid_utf8(render: Callable[[Review], str]) -> Callable[[Review], str]:
    return lambda review: md.valid_utf8(render(review))


RENDERERS: dict[str, Callable[[Review], str]] = {
    "text": _valid_utf8(render_text), "json": _valid_utf8(render_json), "markdown": render_markdown,
    "github": render_notices,
}
