"""The in-sync memo: an apply whose inputs and database are exactly those of the last apply
that left them in sync has nothing to do, and finds that out from the files' bytes and one
query, without validating, reading the rows or diffing.

A deploy step, a CI job or a cron'd ``reconcile apply`` mostly finds nothing to do; at 100,000
declarations the full check (validate from the cache, read every row's head, diff) costs about
the bare parse of the files, the memo a tenth of it (bench/commands.py).

The memo is a file in the validation cache's private folder (``RECONCILER_CACHE_DIR``), one per
database, source folder and apply options, written after an apply that left the database in
sync with the declarations. It answers only when all of these are unchanged:

- every file's bytes and name, and the set of files;
- the reconciler's code, the Celery registry (every task's name, signature and hints, and the
  ``beat_schedule`` names), the time zone, the environment, every ``RECONCILER_*`` setting;
- the database's markers (``db.marker.database_marker``): beat's change marker, which any
  change to the task and schedule tables moves but beat's bookkeeping (every apply, admin save
  and django-celery-beat signal, and any SQL through the triggers of migrations 0008/0013 on
  PostgreSQL and 0012 on SQLite); the rows' count and newest id; ownership, suspensions,
  sources, the newest apply and operation records;
- the moment: not past the first one-off moment or calendar ``until`` of the declarations
  (the plan changes then), and not older than ``MAX_AGE``.

What it cannot see: a raw SQL edit of the reconciler's own ownership rows that keeps their
count and newest stamps, and any SQL change on a database without those triggers (neither
PostgreSQL nor SQLite). ``MAX_AGE`` bounds that; ``--no-cache`` (or ``RECONCILER_CACHE_DIR =
None``) always checks everything. A memo that cannot be read is a miss: it can cost time, never
hide a change.

After a few files changed and nothing else, the memo also vouches for the other files
(``recall_changed``): ``changed`` applies the changed files alone.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.db import connections

from ..conf import conf
from ..core.errors import ReconcilerError
from ..core.plan import Plan, Scope, plan_from_json
from ..core.schedule import Clocked
from ..core.specs import DeclaredState
from ..db.marker import database_marker, plain
from ..declare.cache import unsafe, write_private
from ..declare.cache_key import code_fingerprint, registry_fingerprint
from ..declare.files import SourceFile
from ..declare.resolve import Registry
from ..declare.tree import cache_dir, environments_for
from ..engine.apply import ApplyOptions, ApplyResult, Rest

FORMAT = "reconciler-insync-2"
MAX_AGE = timedelta(hours=1)
CHANGED_SHARE = 0.1  # past this share of files changed, the full apply is no slower


@dataclass(frozen=True)
class Inputs:
    """Where the memo of one apply lives (``path``), and the hash of everything but the
    database that its outcome depends on (``digest``): of everything but the files
    (``fixed``) and of each file (``files``, name → SHA-256), in the order read."""

    path: Path
    digest: str
    fixed: str = ""
    files: dict[str, str] = field(default_factory=dict)
    single: bool = True  # one environment checked: a file's names in it are all its names


@dataclass(frozen=True)
class FileNames:
    """What the next memo keeps of the declarations: each file's names and ``renamed_from``
    names, and the first moment at which the same declarations plan differently."""

    names: dict[str, list[str]]
    renamed: dict[str, list[str]]
    until: str | None

    @classmethod
    def of(cls, declared: DeclaredState, now: datetime) -> FileNames:
        names: dict[str, list[str]] = {}
        renamed: dict[str, list[str]] = {}
        for task in declared.tasks:
            file = task.source.file if task.source else ""
            names.setdefault(file, []).append(task.name)
            if task.renamed_from:
                renamed.setdefault(file, []).append(task.renamed_from)
        return cls(names, renamed, _until(declared, now))


@dataclass(frozen=True)
class Changed:
    """The memo's answer when only some files changed and the database is as it left it: the
    rest is in sync. ``taken``: the other files' names and ``renamed_from`` names, which a
    changed file may not declare (the checks across files would have to look at them)."""

    files: frozenset[str]  # changed, added or removed
    rest: Rest  # what the apply of the changed files' declarations needs
    taken: frozenset[str]
    kept: FileNames  # the unchanged files' part of the next memo

    def with_changes(self, declared: DeclaredState, now: datetime) -> FileNames:
        """The next memo's names: the unchanged files' and those of ``declared`` (the changed files')."""
        fresh = FileNames.of(declared, now)
        until = min((moment for moment in (self.kept.until, fresh.until) if moment), default=None)
        return FileNames({**self.kept.names, **fresh.names}, {**self.kept.renamed, **fresh.renamed}, until)


def inputs_of(
    folders: Sequence[Path], sources: Sequence[SourceFile], scope: Scope, options: ApplyOptions,
    registry: Registry, env: str | None, using: str,
) -> Inputs | None:
    """None when no memo applies: a dry run, the watcher's deletion grace, part of a source,
    no usable cache folder, a file that cannot be read (the full run reports it). ``sources``:
    the files of ``folders``, read once for the memo and, on a miss, the validation."""
    if options.dry_run or options.grace is not None or scope.within is not None:
        return None
    folder = cache_dir()
    if folder is None or unsafe(folder) is not None:
        return None
    try:
        envs = environments_for(env, need_active=True)
    except ReconcilerError:
        return None
    if any(source.data is None for source in sources):
        return None
    fixed = hashlib.sha256()
    for part in (
        FORMAT, code_fingerprint().hex(), registry_fingerprint(registry).hex(), registry.timezone,
        repr(sorted(registry.beat_schedule_names)), repr((envs.active, envs.names)), _settings(),
        repr((options.prune, options.adopt, options.allow_empty)),
    ):
        fixed.update(part.encode("utf-8", "surrogateescape") + b"\0")
    files = {source.name: hashlib.sha256(source.data or b"").hexdigest() for source in sources}
    digest = hashlib.sha256(fixed.digest())
    for file, sha in files.items():
        digest.update(file.encode("utf-8", "surrogateescape") + b"\0" + bytes.fromhex(sha))
    database = connections[using].settings_dict
    where = repr((FORMAT, using, connections[using].vendor, database.get("NAME"), database.get("HOST"),
                  database.get("PORT"), scope.source, sorted(str(f.resolve()) for f in folders)))
    name = hashlib.sha256(where.encode("utf-8", "surrogateescape")).hexdigest()
    return Inputs(folder / "insync" / f"{name}.json", digest.hexdigest(), fixed.hexdigest(), files,
                  len(envs.checked) <= 1)


def recall(inputs: Inputs, using: str, now: datetime) -> Plan | None:
    """The plan of the last in-sync apply, when nothing it depends on has moved; else None."""
    memo = _current(inputs, now)
    if memo is None or memo["inputs"] != inputs.digest:
        return None
    try:
        plan, columns = plan_from_json(memo["plan"]), memo["columns"]
    except Exception:  # from another version: a miss
        return None
    if plain(database_marker(using)) != memo["marker"]:
        return None
    return _with_columns(plan, columns)


def recall_changed(inputs: Inputs, now: datetime) -> Changed | None:
    """When only some files changed (at most ``CHANGED_SHARE`` of them) since an apply that
    left the database in sync with no change, warning or suspension to show, and nothing else
    but the database may have moved: the rest is in sync if the database did not, which the
    apply checks under its lock (``Rest.marker``), and only the changed files need validating,
    reading and diffing. Else None: the full apply."""
    memo = _current(inputs, now)
    if memo is None or not inputs.single or memo.get("fixed") != inputs.fixed:
        return None
    try:
        stored, names, renamed = dict(memo["files"]), dict(memo["names"]), dict(memo["renamed"])
        clean = not memo["plan"]["changes"] and not memo["plan"]["warnings"]
    except (KeyError, TypeError, ValueError):
        return None
    if not all(_texts(values) for values in (*names.values(), *renamed.values())):
        return None
    changed = {file for file, sha in inputs.files.items() if stored.get(file) != sha} | (stored.keys() - inputs.files)
    if not clean or not changed or len(changed) > CHANGED_SHARE * max(len(stored), len(inputs.files)):
        return None
    kept = FileNames({f: n for f, n in names.items() if f not in changed},
                     {f: n for f, n in renamed.items() if f not in changed}, memo["until"])
    unchanged = tuple(sorted(name for file_names in kept.names.values() for name in file_names))
    taken = frozenset(unchanged).union(*kept.renamed.values())
    old = frozenset(name for file in changed for name in names.get(file, ()))
    return Changed(frozenset(changed), Rest(memo["marker"], old, unchanged), taken, kept)


def _texts(values: object) -> bool:
    return isinstance(values, list) and all(isinstance(value, str) for value in values)


def _current(inputs: Inputs, now: datetime) -> dict[str, Any] | None:
    """The memo, if it can be read, is of this version, and is neither too old nor past its ``until``."""
    try:
        memo = json.loads(inputs.path.read_bytes())
        made = datetime.fromisoformat(memo["made"])
        until = datetime.fromisoformat(memo["until"]) if memo["until"] else None
        if memo["format"] != FORMAT or not isinstance(memo["marker"], list):
            return None
    except Exception:  # missing, truncated, from another version: a miss
        return None
    if not made <= now < made + MAX_AGE or (until is not None and now >= until):
        return None
    return memo  # type: ignore[no-any-return]


def remember(inputs: Inputs, result: ApplyResult, files: FileNames, now: datetime) -> None:
    """After an apply that left the database in sync (``result.marker`` set): the plan the next
    apply would make, if it can be told without diffing. A no-op's plan is itself; after a
    write, every declared task unchanged, when the plan was only writes (no warning, no
    retained row) and no row is suspended: those show again in the next plan."""
    if result.marker is None:
        return
    plan = result.plan
    if result.written:
        if plan.warnings or result.marker.suspended or not all(change.action.writes for change in plan.changes):
            return
        plan = Plan(unchanged=tuple(sorted(name for names in files.names.values() for name in names)),
                    scope=plan.scope)
    memo = {
        "format": FORMAT, "inputs": inputs.digest, "made": now.isoformat(), "until": files.until,
        "marker": plain(result.marker), "plan": plan.to_json(),
        "columns": [change.source.column if change.source else None for change in plan.changes],
        "fixed": inputs.fixed, "files": inputs.files, "names": files.names, "renamed": files.renamed,
    }
    with contextlib.suppress(TypeError, ValueError, OSError):
        write_private(inputs.path, json.dumps(memo, separators=(",", ":"), allow_nan=False).encode())


def _with_columns(plan: Plan, columns: list[int | None]) -> Plan:
    """The plan's JSON form has each change's file and line; the text shows the column too."""
    changes = tuple(
        replace(change, source=replace(change.source, column=column)) if change.source and column else change
        for change, column in zip(plan.changes, columns, strict=True)
    )
    return replace(plan, changes=changes)


def _until(declared: DeclaredState, now: datetime) -> str | None:
    """The first moment after ``now`` at which the same declarations plan differently: a
    one-off's moment (it fires, then is disabled), a calendar's ``until``."""
    moments = [
        moment for task in declared.tasks
        for moment in (task.spec.schedule.at if isinstance(task.spec.schedule, Clocked) else None,
                       task.spec.calendar.end)
        if moment is not None and moment > now
    ]
    return min(moments).astimezone(UTC).isoformat() if moments else None


def _settings() -> str:
    """Every ``RECONCILER_*`` setting in force. A value printed with its memory address (a
    callable) differs in every process: the memo then never answers, which is only slower."""
    return repr([(name, repr(getattr(conf, name))) for name in dir(conf)])
