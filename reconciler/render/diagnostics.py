"""Validation results rendered as text (people), JSON (machines) and GitHub annotations."""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from ..core.diagnostics import Diagnostic, has_errors
from . import markdown as md
from .words import count

FORMAT_VERSION = 1


def _location(d: Diagnostic) -> str:
    return str(d.source) if d.source else "<schedules>"


def render_text(diagnostics: Sequence[Diagnostic], *, checked: int) -> str:
    """``file:line:col: severity[code] message``, the source line with a caret, and a hint."""
    blocks = [_text_block(d) for d in diagnostics]
    blocks.append(_summary(diagnostics, checked))
    return "\n".join(blocks) + "\n"


def _text_block(d: Diagnostic) -> str:
    lines = [f"{_location(d)}: {d.severity.value}[{d.code}] {d.message}"]
    if d.snippet is not None and d.source and d.source.line:
        gutter = f"{d.source.line:>5} | "
        snippet, caret = _window(d.snippet, d.source.column or 1)
        lines.append(gutter + snippet)
        lines.append(" " * (len(gutter) - 2) + "| " + " " * (caret - 1) + "^")
    if d.hint:
        lines.append(f"      = hint: {d.hint}")
    return "\n".join(lines)


SNIPPET_WIDTH = 100


def _window(line: str, column: int) -> tuple[str, int]:
    """At most ``SNIPPET_WIDTH`` characters of a source line around the column (a line can be
    megabytes long), and the caret's column within them."""
    if len(line) <= SNIPPET_WIDTH:
        return line, column
    start = max(0, min(column - 1 - SNIPPET_WIDTH // 2, len(line) - SNIPPET_WIDTH))
    head, tail = ("…" if start else ""), ("…" if start + SNIPPET_WIDTH < len(line) else "")
    return head + line[start:start + SNIPPET_WIDTH] + tail, column - start + len(head)


def _summary(diagnostics: Sequence[Diagnostic], checked: int) -> str:
    errors = sum(d.is_error for d in diagnostics)
    warnings = len(diagnostics) - errors
    verdict = "invalid" if errors else "valid"
    return f"{count(checked, 'task')} checked: {verdict}, {count(errors, 'error')}, {count(warnings, 'warning')}."


def diagnostic_json(d: Diagnostic) -> dict[str, object]:
    src = d.source
    return {
        "severity": d.severity.value,
        "code": d.code,
        "message": d.message,
        "file": src.file if src else None,
        "line": src.line if src else None,
        "column": src.column if src else None,
        "name": d.name,
        "hint": d.hint,
    }


def render_json(diagnostics: Sequence[Diagnostic], *, checked: int) -> str:
    payload = {
        "format_version": FORMAT_VERSION,
        "valid": not has_errors(diagnostics),
        "checked": checked,
        "diagnostics": [diagnostic_json(d) for d in diagnostics],
    }
    return json.dumps(payload, indent=2, sort_keys=False) + "\n"


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(diagnostics: Sequence[Diagnostic], *, checked: int) -> str:
    """GitHub Actions workflow commands: each problem shows on its line of the PR's diff."""
    lines = []
    for d in diagnostics:
        props = []
        if d.source:
            props.append(f"file={escape_property(d.source.file)}")
            if d.source.line:
                props.append(f"line={d.source.line}")
            if d.source.column:
                props.append(f"col={d.source.column}")
        props.append(f"title={escape_property(d.code)}")
        message = d.message + (f" ({d.hint})" if d.hint else "")
        lines.append(f"::{d.severity.value} {','.join(props)}::{escape_data(message)}")
    lines.append(_summary(diagnostics, checked))
    return "\n".join(lines) + "\n"


def render_markdown(diagnostics: Sequence[Diagnostic], *, checked: int) -> str:
    """The full report for ``$GITHUB_STEP_SUMMARY`` (GitHub shows ten annotations a step)."""
    lines = ["### Schedules validation", "", _summary(diagnostics, checked), ""]
    if diagnostics:
        lines += ["| | Where | Code | Message |", "|---|---|---|---|"]
        for d in diagnostics:
            icon = "❌" if d.is_error else "⚠️"
            message = md.text(d.message + (f" — {d.hint}" if d.hint else ""))
            lines.append(f"| {icon} | {md.code(_location(d))} | {md.code(d.code)} | {message} |")
    return "\n".join(lines) + "\n"


SCHEDULER = "reconciler.scheduler:ReconcilingScheduler"


def scheduler_notice(names: Sequence[str], *, github: bool = False) -> str:
    """Which declarations need our scheduler (their run-time policies): a notice, not a problem."""
    if not names:
        return ""
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    text = (f"{len(names)} declaration(s) use a run-time policy, which only beat's scheduler {SCHEDULER} "
            f"applies (CELERY_BEAT_SCHEDULER, or beat -S): {shown}")
    return f"::notice title=reconciler-scheduler::{escape_data(text)}\n" if github else f"notice: {text}\n"


Renderer = Callable[..., str]
RENDERERS: dict[str, Renderer] = {"text": render_text, "json": render_json, "github": render_github}
