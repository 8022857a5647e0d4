"""Plan types: an immutable value, produced once by ``diff``, rendered, then applied.

A small closed vocabulary of actions, each with its symbol; a change carries reasons
(``core.reasons``), which apply never branches on.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple, overload

from .diagnostics import SourceRange
from .reasons import Reason, Why, read_reason, reason
from .specs import TaskSpec

FORMAT_VERSION = 1


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    RENAME = "rename"
    ADOPT = "adopt"
    DELETE = "delete"
    RETAIN = "retain"      # owned, no longer declared, kept because of --no-prune
    CONFLICT = "conflict"  # declared name held by a row the reconciler does not own
    SUSPENDED = "suspended"  # owned, paused by an operator: disabled, equal to git otherwise

    @property
    def symbol(self) -> str:
        return SYMBOLS[self]

    @property
    def writes(self) -> bool:
        return self in WRITING


SYMBOLS = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.RENAME: "~",
    Action.ADOPT: "~",
    Action.DELETE: "-",
    Action.RETAIN: "=",
    Action.CONFLICT: "!",
    Action.SUSPENDED: "‖",
}
WRITING = frozenset({Action.CREATE, Action.UPDATE, Action.RENAME, Action.ADOPT, Action.DELETE})


class FieldChange(NamedTuple):
    """One field, old → new (a NamedTuple: plans of tens of thousands of fields are built fast)."""

    field: str
    old: Any
    new: Any


NOT_SHOWN_ON_CREATE = (None, "", "[]", "{}")  # a field of a new row with one of these values is not shown
CREATE_DEFAULTS = {"enabled": (True,), "one_off": (False,), "task": ()}  # these are shown when they differ


class CreatedFields(Sequence[FieldChange]):
    """A create's fields, each from nothing to the desired spec's value, those a new row has
    anyway left out: a tuple of ``FieldChange``, built on first use rather than by the diff.
    A text apply of 100,000 creates never uses them in the process that writes (the plan's text
    is rendered in a forked child: ``cli/prerender``), where building them took 0.8 s of the
    diff. Equal to, and pickled as, the plain tuple."""

    __slots__ = ("_built", "_spec")

    def __init__(self, spec: TaskSpec) -> None:
        self._spec = spec
        self._built: tuple[FieldChange, ...] | None = None

    def _items(self) -> tuple[FieldChange, ...]:
        if self._built is None:
            new = tuple.__new__  # not NamedTuple's keyword-argument __new__: half a million at 100,000 creates
            self._built = tuple([new(FieldChange, (k, None, v)) for k, v in self._spec.fields().items()
                                 if v not in CREATE_DEFAULTS.get(k, NOT_SHOWN_ON_CREATE)])
        return self._built

    @overload
    def __getitem__(self, index: int) -> FieldChange: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[FieldChange, ...]: ...

    def __getitem__(self, index: int | slice) -> FieldChange | tuple[FieldChange, ...]:
        return self._items()[index]

    def __len__(self) -> int:
        return len(self._items())

    def __iter__(self) -> Iterator[FieldChange]:
        return iter(self._items())

    def __eq__(self, other: object) -> bool:
        return self._items() == (other._items() if isinstance(other, CreatedFields) else other)

    def __hash__(self) -> int:
        return hash(self._items())

    def __repr__(self) -> str:
        return repr(self._items())

    def __reduce__(self) -> tuple[Any, ...]:
        return tuple, (self._items(),)


@dataclass(frozen=True)
class Change:
    action: Action
    name: str
    task: str
    fields: Sequence[FieldChange] = ()  # a tuple, or a create's ``CreatedFields``
    reasons: tuple[Reason, ...] = ()
    source: SourceRange | None = None
    pk: int | None = None               # the existing row (update, rename, adopt, delete)
    desired: TaskSpec | None = None     # what to write (create, update, rename, adopt)
    previous_name: str | None = None    # rename

    def has(self, kind: Why) -> bool:
        return any(r.kind is kind for r in self.reasons)


@dataclass(frozen=True)
class Scope:
    """What one plan may prune: the rows owned by ``source`` and, when only part of the source
    is applied (one file, a sub-folder), only those declared under ``within`` there.
    ``legacy`` also claims rows recorded before sources existed (source "")."""

    source: str = ""
    within: tuple[str, ...] | None = None  # files or folders, as ownership's source_file spells them
    legacy: bool = True
    # With ``within``: every name the whole source declares (a row moved to another file of the
    # source is never pruned by a partial apply); None: unknown (the rest of the source has
    # errors), so a partial apply prunes nothing and says why.
    elsewhere: frozenset[str] | None = frozenset()

    def declares(self, name: str) -> bool:
        """Declared somewhere in the source, outside the applied part (never pruned)."""
        return self.within is not None and self.elsewhere is not None and name in self.elsewhere

    @property
    def blind(self) -> bool:
        """A partial apply that cannot see the rest of its source: it must not prune."""
        return self.within is not None and self.elsewhere is None

    @property
    def sources(self) -> tuple[str, ...]:
        """The sources whose rows this scope may touch (``""``: rows recorded before sources)."""
        return (self.source, "") if self.legacy and self.source else (self.source,)

    def claims(self, owned: Any) -> bool:  # owned: specs.Ownership
        if owned.source != self.source and not (self.legacy and owned.source == ""):
            return False
        return self.within is None or any(
            owned.source_file == part or owned.source_file.startswith(part.rstrip("/") + "/") for part in self.within
        )

    def describe(self) -> str:
        name = self.source or "(unnamed)"
        if self.within is None:
            return f"source {name}"
        return f"source {name}, only {', '.join(self.within)} (rows declared elsewhere in it are left alone)"


UNSCOPED = Scope()


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...] = ()
    unchanged: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    scope: Scope = UNSCOPED

    def of(self, *actions: Action) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action in actions)

    @property
    def has_changes(self) -> bool:
        return any(c.action.writes for c in self.changes)

    @property
    def conflicts(self) -> tuple[Change, ...]:
        return self.of(Action.CONFLICT)

    def summary(self) -> dict[str, int]:
        count = Counter(c.action for c in self.changes)  # one pass (a first apply: 100,000 changes)
        return {
            "create": count[Action.CREATE],
            "update": count[Action.UPDATE] + count[Action.RENAME] + count[Action.ADOPT],
            "delete": count[Action.DELETE],
            "unchanged": len(self.unchanged),
            "conflict": count[Action.CONFLICT],
            "retain": count[Action.RETAIN],
            "rename": count[Action.RENAME],
            "adopt": count[Action.ADOPT],
            "drift": sum(1 for c in self.changes if c.has(Why.DRIFT)),
            "suspended": count[Action.SUSPENDED],
        }

    def to_json(self, *, created_fields_limit: int | None = None) -> dict[str, Any]:
        """The stable machine contract (what ``plan --format json`` prints, what the apply
        history stores and the API returns). The history keeps the fields of at most
        ``created_fields_limit`` created rows: an initial import of 100,000 tasks would
        otherwise store a row of tens of megabytes; the others say their fields were left out."""
        limit = len(self.changes) if created_fields_limit is None else created_fields_limit
        creates = 0
        changes = []
        for change in self.changes:
            creates += change.action is Action.CREATE
            changes.append(_change_json(change, change.action is Action.CREATE and creates > limit))
        return {
            "format_version": FORMAT_VERSION,
            "summary": self.summary(),
            "changes": changes,
            "warnings": list(self.warnings),
            "source": self.source_json(),
        }

    def source_json(self) -> dict[str, Any]:
        """The plan JSON's ``source``: the schedules source planned, and the part of it."""
        return {"name": self.scope.source, "within": list(self.scope.within) if self.scope.within else None}


FIELDS_OMITTED = reason(Why.FIELDS_OMITTED)


def _change_json(change: Change, omit_fields: bool = False) -> dict[str, Any]:
    source = change.source
    fields, words = change_record(change, omit_fields)
    return {
        "action": change.action.value,
        "name": change.name,
        "task": change.task,
        "fields": fields,
        "reasons": words,
        "source": {"file": source.file, "line": source.line} if source else None,
        "previous_name": change.previous_name,
    }


def change_record(change: Change, omit_fields: bool = False) -> tuple[dict[str, Any], list[str]]:
    """A change's fields and its reasons' words as the plan JSON holds them (``to_json``, and the
    apply history's columns: ``plan_record.pack_plan``); with ``omit_fields``, no field and a
    reason that says they were left out."""
    if omit_fields:
        return {}, [r.words for r in (*change.reasons, FIELDS_OMITTED)]
    return {f.field: {"old": f.old, "new": f.new} for f in change.fields}, [r.words for r in change.reasons]


@dataclass(frozen=True)
class Grace:
    """The watcher's deletion grace: a declaration that disappears (a file caught half-written
    by an editor or ``git checkout``) is deleted only once it has been missing for ``seconds``,
    so that one coming back keeps its row, its id and beat's history (last run, run count)."""

    seconds: float
    missing_since: tuple[tuple[str, Any], ...] = ()  # (name, datetime first seen missing)

    def holds(self, name: str, now: Any) -> bool:
        since = dict(self.missing_since).get(name)
        return since is None or (now - since).total_seconds() < self.seconds


@dataclass(frozen=True)
class DiffOptions:
    now: Any  # datetime; injected so that the diff stays pure
    prune: bool = True
    adopt: bool = False
    scope: Scope = UNSCOPED
    grace: Grace | None = None


def plan_from_json(payload: dict[str, Any]) -> Plan:
    """A plan back from its JSON form (the apply history stores ``to_json``), to render it
    again with the same renderers. Only the count of unchanged tasks is stored, not their
    names: they come back as that many empty names."""
    changes = tuple(_change_from_json(c) for c in payload.get("changes", ()) if c.get("action") in _ACTIONS)
    unchanged = ("",) * int(payload.get("summary", {}).get("unchanged", 0))
    return Plan(changes, unchanged, tuple(payload.get("warnings", ())))


_ACTIONS = {action.value for action in Action}


def _change_from_json(raw: dict[str, Any]) -> Change:
    source = raw.get("source")
    fields = tuple(FieldChange(name, v.get("old"), v.get("new")) for name, v in raw.get("fields", {}).items())
    reasons = tuple(read_reason(words) for words in raw.get("reasons", ()))
    return Change(
        Action(raw["action"]), raw.get("name", ""), raw.get("task", ""), fields, reasons,
        SourceRange(source["file"], source.get("line")) if source else None,
        previous_name=raw.get("previous_name"),
    )
