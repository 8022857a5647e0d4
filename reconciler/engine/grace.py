"""The watcher's memory of declarations that went missing: when each was first seen gone.

Editors and ``git checkout`` write a file in several steps; for longer than the debounce it
can be valid but truncated. Deleting its missing tasks then, and recreating them a second
later, would lose their ids and beat's history. So in watch mode a deletion is only applied
once the declaration has been missing for ``seconds`` (``Grace``, applied by the pure diff);
this tracker carries the first-seen times from one reconcile to the next.
"""
from __future__ import annotations

from datetime import datetime

from ..core.plan import Action, Grace, Plan
from ..core.reasons import Why


class DeletionGrace:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._missing_since: dict[str, datetime] = {}

    def current(self) -> Grace:
        return Grace(self.seconds, tuple(sorted(self._missing_since.items())))

    def observe(self, plan: Plan, now: datetime) -> None:
        """Remember the names the plan held back; forget those declared again or deleted."""
        held = [c.name for c in plan.of(Action.RETAIN) if c.has(Why.GRACE)]
        self._missing_since = {name: self._missing_since.get(name, now) for name in held}

    def due_in(self, now: datetime) -> float | None:
        """Seconds until the first held deletion is due (then reconcile again), or None."""
        if not self._missing_since:
            return None
        first = min(self._missing_since.values())
        return max(0.0, self.seconds - (now - first).total_seconds())
