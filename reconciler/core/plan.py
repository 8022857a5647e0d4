"""Plan types: an immutable value, produced once by ``diff``, rendered, then applied.

A small closed vocabulary of actions, each with its symbol, and one of reasons (drift,
rename, a past one-off …), each with its words. Apply never branches on reasons; grace,
status and the summary branch on a reason's kind, never on its words.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, NamedTuple

from .diagnostics import SourceRange
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


class Why(Enum):
    """Why a change is what it is (Terraform's ``ResourceInstanceChangeActionReason``)."""

    DRIFT = "drift"
    SUSPENDED = "suspended"              # paused by an operator, equal to git otherwise
    SUSPENDED_UPDATE = "suspended-update"  # an update to a paused row: written disabled
    PAST_ONE_OFF = "past-one-off"
    RENAMED = "renamed"
    ADOPTED = "adopted"
    NOT_OWNED = "not-owned"              # conflict: a row the reconciler does not own
    OTHER_SOURCE = "other-source"        # conflict: a row another schedules source owns
    NOT_DECLARED = "not-declared"
    GRACE = "grace"
    NO_PRUNE = "no-prune"
    BLIND = "blind"                      # a partial apply that cannot see the rest of its source
    FIELDS_OMITTED = "fields-omitted"    # the history left a large import's fields out
    UNKNOWN = "unknown"                  # read back from a stored plan: words no kind makes today


# Each kind's words, the text every renderer, the plan JSON and the API show; ``{part}`` is
# filled in by ``reason``. ``plan_from_json`` reads the kind back from them.
WORDS = {
    Why.DRIFT: "drift: reverts a change made outside git (admin, script)",
    Why.SUSPENDED: "{suspension}; resume to re-enable",
    Why.SUSPENDED_UPDATE: "{suspension}; written disabled until resumed",
    Why.PAST_ONE_OFF: "past one-off: created disabled, not armed",
    Why.RENAMED: "renamed from {old}: same row, history kept",
    Why.ADOPTED: "taken over in place (--adopt)",
    Why.NOT_OWNED: (
        "a row with this name exists and the reconciler does not own it: "
        "rename the declaration, delete the row, or apply with --adopt"
    ),
    Why.OTHER_SOURCE: "this name is owned by the schedules source {source} ({file}): a name belongs to one source",
    Why.NOT_DECLARED: "no longer declared{where}",
    Why.GRACE: "deletion waits until the declaration has been missing for the grace period (watch mode)",
    Why.NO_PRUNE: "kept because of --no-prune",
    Why.BLIND: (
        "kept: the rest of its source has errors, so this partial apply cannot tell whether it is "
        "declared elsewhere; fix them, or apply the whole source"
    ),
    Why.FIELDS_OMITTED: (
        "fields not stored in the history (a large import): they are the declaration at the recorded revision"
    ),
    Why.UNKNOWN: "{words}",
}
SUSPENSION = frozenset({Why.SUSPENDED, Why.SUSPENDED_UPDATE})


@dataclass(frozen=True, slots=True)
class Reason:
    kind: Why
    words: str

    def __str__(self) -> str:
        return self.words


def reason(kind: Why, **parts: str) -> Reason:
    return Reason(kind, WORDS[kind].format(**parts) if parts else WORDS[kind])


class FieldChange(NamedTuple):
    """One field, old → new (a NamedTuple: plans of tens of thousands of fields are built fast)."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Change:
    action: Action
    name: str
    task: str
    fields: tuple[FieldChange, ...] = ()
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
        count = {action: len(self.of(action)) for action in Action}
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
            "source": {"name": self.scope.source, "within": list(self.scope.within) if self.scope.within else None},
        }


FIELDS_OMITTED = reason(Why.FIELDS_OMITTED)


def _change_json(change: Change, omit_fields: bool = False) -> dict[str, Any]:
    source = change.source
    reasons = (*change.reasons, FIELDS_OMITTED) if omit_fields else change.reasons
    return {
        "action": change.action.value,
        "name": change.name,
        "task": change.task,
        "fields": {} if omit_fields else {f.field: {"old": f.old, "new": f.new} for f in change.fields},
        "reasons": [r.words for r in reasons],
        "source": {"file": source.file, "line": source.line} if source else None,
        "previous_name": change.previous_name,
    }


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


def read_reason(words: str) -> Reason:
    """A reason back from its words (the plan JSON stores only them): the kind whose words
    match, or UNKNOWN for words no kind makes today (a plan stored by an older version).
    At most one kind matches: each template's fixed text is anchored at a start or an end
    that no other template shares (a suspension's ``describe`` always starts "suspended")."""
    for kind, pattern in _PATTERNS:
        if pattern.fullmatch(words):
            return Reason(kind, words)
    return Reason(Why.UNKNOWN, words)


_PATTERNS = tuple(
    (kind, re.compile(".*".join(map(re.escape, re.split(r"\{\w+\}", WORDS[kind]))), re.DOTALL))
    for kind in Why if kind is not Why.UNKNOWN
)
