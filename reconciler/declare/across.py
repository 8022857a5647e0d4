"""Files validated on their own → the tree's declarations: plus the checks across files
(duplicate names, renames) and what depends on the moment of the run (past one-offs, a
calendar's end already past, a calendar that never runs from now on), which no file's cached
result may hold. The validate phase as a whole is ``tree``.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ..core.diagnostics import Diagnostic, SourceRange, error, warning
from ..core.schedule import Clocked
from .load import RawDocument
from .positions import KEY, place_in
from .shapes import FileResult, ValidDeclaration


@dataclass(frozen=True)
class Validated:
    declarations: tuple[ValidDeclaration, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    texts: dict[str, str] = field(default_factory=dict)
    seen: int = 0  # task entries read, valid or not
    files: tuple[FileResult, ...] = ()  # the documents validated in this run (not the known ones)


def validate_documents(
    documents: Iterable[RawDocument], *, default_timezone: str, now: datetime,
    env: str | None = None, environments: tuple[str, ...] = (),
    known: Sequence[tuple[FileResult, str]] = (),
) -> Validated:
    """The declarations as they stand in ``env`` (one of ``environments``, or None when the
    project has none), with every problem found on the way. ``known``: files whose result
    is already known (the cache, a worker process), with their text; they take part in the
    checks across files."""
    from .document import validate_document  # start-up: docs/architecture.md, "The import rules"

    fresh = [
        (validate_document(d, default_timezone=default_timezone, now=now, env=env, environments=environments), d.text)
        for d in documents
    ]
    return combine(fresh, known, now)


def combine(
    fresh: Sequence[tuple[FileResult, str]], known: Sequence[tuple[FileResult, str]], now: datetime,
) -> Validated:
    """Files validated on their own → the tree: plus the checks across files (duplicate names,
    renames) and what depends on the moment of the run (past one-offs)."""
    everything = [*fresh, *known]
    texts = {result.name: text for result, text in everything}
    declarations = [d for result, _ in everything for d in result.declarations]
    across = [
        *_duplicate_names(declarations), *_bad_renames(declarations), *_past_one_offs(declarations, now),
        *_calendar_ends(declarations, now),
    ]
    diagnostics = [*(d for result, _ in everything for d in result.diagnostics), *(place_in(d, texts) for d in across)]
    seen = sum(result.seen for result, _ in everything)
    return Validated(tuple(declarations), tuple(diagnostics), texts, seen, tuple(result for result, _ in fresh))


def _duplicate_names(declarations: list[ValidDeclaration]) -> list[Diagnostic]:
    names = [d.spec.name for d in declarations]
    if len(set(names)) == len(names):  # the usual case, in C: no list per name
        return []
    by_name: dict[str, list[ValidDeclaration]] = {}
    for name, declaration in zip(names, declarations, strict=True):
        by_name.setdefault(name, []).append(declaration)
    problems = []
    for name, places in by_name.items():
        if len(places) < 2:
            continue
        files = ", ".join(sorted({p.file for p in places}))
        for place in places:
            problems.append(error(
                "duplicate-name", f"the task name {name!r} is declared {len(places)} times ({files}); "
                "names are unique across all files", source=SourceRange(place.file),
                path=("tasks", name, KEY), name=name,
            ))
    return problems


def _bad_renames(declarations: list[ValidDeclaration]) -> list[Diagnostic]:
    """A rename must name a row that is no longer declared, and only one declaration may
    take it over: otherwise the plan would hide the rename and the next plan recreate it."""
    claims: dict[str, list[ValidDeclaration]] = {}
    for declaration in declarations:
        if declaration.renamed_from is not None:
            claims.setdefault(declaration.renamed_from, []).append(declaration)
    if not claims:
        return []
    names = {d.spec.name for d in declarations}
    problems = []
    for old, claimants in claims.items():
        for declaration in claimants:
            if old in names:
                message = (f"renamed_from {old!r} names a task that is itself declared" if old != declaration.name
                           else "renamed_from names the task itself")
                hint = f"remove renamed_from, or remove the declaration of {old!r}"
            elif len(claimants) > 1:
                others = ", ".join(repr(c.name) for c in claimants if c is not declaration)
                message = f"{old!r} is renamed to more than one task (also {others}); one row can become one task"
                hint = "keep renamed_from on one of them"
            else:
                continue
            problems.append(error(
                "bad-rename", message, source=SourceRange(declaration.file),
                path=("tasks", declaration.name, "renamed_from"), name=declaration.name, hint=hint,
            ))
    return problems


def _past_one_offs(declarations: list[ValidDeclaration], now: datetime) -> list[Diagnostic]:
    """A warning per one-off whose moment is past. Computed over the whole tree at each run
    (it depends on the moment of the run, so it is never part of a cached file's result)."""
    return [
        warning(
            "past-one-off", f"the one-off moment {d.spec.schedule.at.isoformat()} is already past: "
            "it will not be armed", source=SourceRange(d.file), path=d.at_path, name=d.name,
        )
        for d in declarations
        if d.at_path is not None and isinstance(d.spec.schedule, Clocked) and d.spec.schedule.at <= now
    ]


def _calendar_ends(declarations: list[ValidDeclaration], now: datetime) -> list[Diagnostic]:
    """A warning per calendar whose ``until`` is past (as a past one-off: written disabled, nothing
    sent), an error per calendar that never runs from now on (``calendars.never_runs``)."""
    found = []
    for d in declarations:
        calendar = d.spec.calendar
        if not (calendar.until or calendar.holidays or calendar.exclude_dates or calendar.exclude_cron):
            continue  # most declarations: nothing to end or exclude (``never_runs`` says None)
        until = calendar.until
        if calendar.ended(now):
            found.append(warning(
                "past-until", f"until {until} is already past: this schedule sends nothing more (it is written "
                "disabled)", source=SourceRange(d.file), path=d.path_of(("until",)), name=d.name,
                hint="remove the declaration, or move until",
            ))
            continue
        from . import calendars  # start-up: docs/architecture.md, "The import rules"

        never = calendars.never_runs(d.spec, now)
        if never is not None:
            key, message = never
            found.append(error(calendars.CODE, message, source=SourceRange(d.file), path=(*d.path_of((key,)), KEY),
                               name=d.name))
    return found
