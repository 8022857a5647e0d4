"""Why a change is what it is: a closed vocabulary of reasons (drift, rename, a past one-off …),
each with its words. Apply never branches on reasons; grace, status and the summary branch on a
reason's kind, never on its words, which the plan JSON stores and ``read_reason`` reads back."""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Why(Enum):
    """Why a change is what it is (Terraform's ``ResourceInstanceChangeActionReason``)."""

    DRIFT = "drift"
    SUSPENDED = "suspended"              # paused by an operator, equal to git otherwise
    SUSPENDED_UPDATE = "suspended-update"  # an update to a paused row: written disabled
    PAST_ONE_OFF = "past-one-off"
    PAST_UNTIL = "past-until"            # a calendar whose ``until`` has passed: written disabled
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
    Why.PAST_UNTIL: "ended: its until ({until}) has passed, written disabled",
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
