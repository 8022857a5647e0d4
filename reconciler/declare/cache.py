"""The validation cache: what validating (and resolving) one file yields, stored by the
file's content, so that an unchanged file is not parsed again.

The key of an entry is a hash of everything its result depends on: the file's bytes and
displayed name, the reconciler's own code (every module of the package: a rule that changes
is a key that changes), the Celery registry (every task name, signature and type hint, an
Enum's members and a Literal's values included: ``cache_key``), the default time zone
and the environment. Only files without errors are stored (an error is found again, never
replayed); what depends on the moment of the run (``past-one-off``) or on other files
(duplicate names, renames, lints) is computed at every run. An entry that cannot be read is
a miss: a corrupt cache can cost time, never hide a problem.

Entries are plain JSON data, never pickles: reading one cannot run code, whoever wrote it.
The folder must be the user's own and writable by nobody else (it is created 0700); any other
folder is not used, and the run says so once. Entries are written atomically (a temporary
file renamed over), so processes that share the folder never read half an entry; only once
the whole tree is checked (``put``), by a forked child on a large tree (``parallel.in_background``).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
import tempfile
import typing
from datetime import datetime
from functools import lru_cache
from operator import attrgetter
from pathlib import Path
from typing import Any

from ..core.calendar import Calendar
from ..core.diagnostics import Diagnostic, Severity, SourceRange, has_errors
from ..core.monitor import Monitor
from ..core.options import OptionSet
from ..core.policy import Policy
from ..core.schedule import Clocked, Crontab, Interval, NoSchedule, Schedule, Solar
from ..core.specs import TaskSpec
from .cache_key import code_fingerprint, registry_fingerprint
from .files import SourceFile
from .resolve import Registry
from .shapes import FileResult, ValidDeclaration

FORMAT = b"reconciler-validation-cache-4"
SUFFIX = ".json"
_warned: set[str] = set()


class ValidationCache:
    def __init__(self, folder: Path, context: bytes) -> None:
        self.folder = folder
        self.context = context

    @classmethod
    def open(
        cls, folder: Path, registry: Registry, env: str | None, environments: tuple[str, ...],
    ) -> ValidationCache | None:
        """The cache in ``folder``, or None (said once) when the folder is not safely ours."""
        problem = unsafe(folder)
        if problem is not None:
            _say_once(folder, problem)
            return None
        parts = [FORMAT, code_fingerprint(), registry_fingerprint(registry), registry.timezone.encode(),
                 repr((env, environments)).encode()]
        return cls(folder, hashlib.sha256(b"\0".join(parts)).digest())

    def _path(self, source: SourceFile) -> Path:
        assert source.data is not None
        name = source.name.encode("utf-8", "surrogateescape")  # a file name need not be UTF-8
        digest = hashlib.sha256(self.context + name + b"\0" + source.data).hexdigest()
        return self.folder / digest[:2] / f"{digest}{SUFFIX}"

    def get(self, source: SourceFile) -> FileResult | None:
        if source.data is None:
            return None
        try:
            found = decode(json.loads(self._path(source).read_bytes()))
        except Exception:  # missing, truncated, unreadable, from another version: a miss
            found = None
        return found if found is not None and found.name == source.name else None

    def put(self, source: SourceFile, result: FileResult, made: bytes | None = None) -> None:
        """Store ``result``'s entry (``made``: made already, where the file was validated): not for
        a file with an error of its own or a value JSON cannot hold; a folder that cannot be
        written is a miss next time."""
        if source.data is None:
            return
        data = made if made is not None else entry(result)
        if data is not None:
            with contextlib.suppress(OSError):
                write_private(self._path(source), data)


def entry(result: FileResult) -> bytes | None:
    """The stored form of ``result`` (with its specs' digests), or None when JSON cannot hold
    one of its values or the file has an error of its own."""
    if has_errors(result.diagnostics):
        return None
    try:
        return json.dumps(encode(result), separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError):
        return None


def write_private(path: Path, data: bytes) -> None:
    """Write ``path`` in the cache's private folder atomically (a temporary file renamed over):
    processes that share the folder never read half a file."""
    temporary = write_temporary(path, data)
    try:
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_temporary(path: Path, data: bytes) -> str:
    """``data`` in a new private file beside ``path`` (a name no reader looks for); its name."""
    path.parent.mkdir(mode=0o700, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return temporary


# -- the folder ----------------------------------------------------------------------------

def unsafe(folder: Path) -> str | None:
    """Why ``folder`` must not hold our cache (None: it may). It is created 0700 when missing;
    an existing one must be a folder of this user that no one else can write."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
    except OSError as exc:
        return f"it cannot be created or read ({exc.strerror or exc})"
    if not stat.S_ISDIR(info.st_mode):
        return "it is not a folder"
    if info.st_uid != os.getuid():
        return f"it belongs to another user (uid {info.st_uid}), who could plant entries in it"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"others can write in it (mode {stat.S_IMODE(info.st_mode):o}), and could plant entries in it"
    return None


def _say_once(folder: Path, problem: str) -> None:
    key = str(folder)
    if key in _warned:
        return
    _warned.add(key)
    sys.stderr.write(
        f"warning: the validation cache folder {folder} is not used: {problem}. Validation goes on without "
        "the cache. Remove the folder (it is recreated, private), `chmod 700` it if it is yours, or set "
        "RECONCILER_CACHE_DIR to a folder of your own.\n"
    )


# -- the entry: plain JSON data ------------------------------------------------------------

_SPEC_FIELDS = (
    "name", "task", "args", "kwargs", "enabled", "one_off", "description", "queue", "exchange", "routing_key",
    "priority", "headers", "expire_seconds",
)


def encode(result: FileResult) -> dict[str, Any]:
    return {
        "name": result.name, "seen": result.seen,
        "declarations": [_declaration(d) for d in result.declarations],
        "diagnostics": [_diagnostic(d) for d in result.diagnostics],
    }


def decode(data: dict[str, Any]) -> FileResult:
    return FileResult(
        data["name"], tuple(_declaration_from(d) for d in data["declarations"]),
        tuple(_diagnostic_from(d) for d in data["diagnostics"]), int(data["seen"]),
    )


_SPEC_VALUES = attrgetter(*_SPEC_FIELDS)
_SOURCE_VALUES = attrgetter("file", "line", "column")


def _declaration(d: ValidDeclaration) -> tuple[Any, ...]:
    """Tuples where the JSON holds arrays (JSON encodes both alike; no list built per value:
    a forked child encodes 100,000 of these after a first apply)."""
    spec = d.spec
    return (
        _SPEC_VALUES(spec), _schedule(spec.schedule), (_iso(spec.expires_at), _iso(spec.start_time)), spec.digest(),
        _SOURCE_VALUES(d.source), d.args, d.kwargs, d.renamed_from, d.at_path, d.ignore, d.moved,
        spec.policy.to_json(), spec.calendar.to_json(), spec.monitor.to_json(),
    )


def _declaration_from(raw: list[Any]) -> ValidDeclaration:
    """Built as pickle built them (``__new__`` and the instance's fields, no ``__init__``):
    tens of thousands per warm run. The values are the frozen instances' own, as stored."""
    values, schedule, times, digest, source, args, kwargs, renamed_from, at_path, ignore, moved, *options = raw
    policy, calendar, monitor = options
    spec = _new(TaskSpec, zip(_SPEC_FIELDS, values, strict=True))
    spec.__dict__.update(
        schedule=_schedule_from(tuple(schedule)), expires_at=_moment(times[0]), start_time=_moment(times[1]),
        policy=_options_from(Policy, policy), calendar=_options_from(Calendar, calendar),
        monitor=_options_from(Monitor, monitor), _digest=digest,
    )
    return _new(ValidDeclaration, {
        "spec": spec, "source": _new(SourceRange, zip(_SOURCE_FIELDS, source, strict=True)), "args": tuple(args),
        "kwargs": kwargs, "renamed_from": renamed_from, "at_path": tuple(at_path) if at_path is not None else None,
        "ignore": tuple(ignore), "moved": tuple((k, tuple(p)) for k, p in moved) if moved else (),
    })


_SOURCE_FIELDS = ("file", "line", "column")
_T = typing.TypeVar("_T")


def _new(cls: type[_T], values: Any) -> _T:
    instance = object.__new__(cls)
    instance.__dict__.update(values)
    return instance


def _schedule(schedule: Schedule) -> list[Any]:
    if isinstance(schedule, Interval):
        return ["interval", schedule.seconds]
    if isinstance(schedule, Crontab):
        return ["cron", schedule.minute, schedule.hour, schedule.day_of_month, schedule.month_of_year,
                schedule.day_of_week, schedule.timezone]
    if isinstance(schedule, Clocked):
        shown = schedule.at.astimezone(schedule.shown_in) if schedule.shown_in else schedule.at
        return ["at", shown.isoformat()]  # with the offset it was declared with (Clocked.shown_in)
    if isinstance(schedule, Solar):
        return ["solar", schedule.event, str(schedule.latitude), str(schedule.longitude)]
    return ["none"]


@lru_cache(maxsize=4096)  # a tree repeats a few policies, calendars and monitors (most: none)
def _options_from(kind: type[OptionSet], stored: str) -> Any:
    return kind.from_json(stored)


@lru_cache(maxsize=4096)  # a tree repeats a few schedules many times; they are immutable
def _schedule_from(raw: tuple[Any, ...]) -> Schedule:
    kind, *values = raw
    if kind == "interval":
        return Interval(int(values[0]))
    if kind == "cron":
        return Crontab(*values)
    if kind == "at":
        return Clocked(datetime.fromisoformat(values[0]))
    if kind == "solar":
        return Solar(*values)
    if kind == "none":
        return NoSchedule()
    raise ValueError(f"unknown schedule kind {kind!r}")


def _diagnostic(d: Diagnostic) -> list[Any]:
    source = [d.source.file, d.source.line, d.source.column] if d.source else None
    return [d.severity.value, d.code, d.message, source, d.name, d.hint, list(d.path), d.snippet]


def _diagnostic_from(raw: list[Any]) -> Diagnostic:
    severity, code, message, source, name, hint, path, snippet = raw
    return Diagnostic(
        Severity(severity), code, message, SourceRange(*source) if source else None, name, hint, tuple(path), snippet,
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None
