"""Beat's side of the overlap policies and of run tracking: just before it sends a run of a
schedule whose policy tracks runs, beat asks ``Overlap.admit`` for the task id to send with;
the answer is None when the previous run is still queued or running (not finished, lease not
expired). ``overlap: skip`` then records the skip; ``queue_one`` keeps that slot as the one run
waiting (in the lease row, so that a standby taking over keeps it) and sends it from
``due_pending`` once the running one finishes — at once on PostgreSQL (the worker's finish
``NOTIFY``s), within ``wait()`` on SQLite. The state is in the database (``runtime.lease``);
in memory only the names with a held run, so that a beat holding nothing queries nothing per
tick. docs/policies.md has the rules and their failure modes.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.utils import timezone

from ..conf import conf
from ..core.policy import Policy
from ..core.sends import Dropped
from ..models import SkippedRun
from ..runtime import lease, skips

log = logging.getLogger("reconciler.beat")
PENDING_POLL = 1.0  # seconds: how soon beat looks again while a queue_one run is held
PRUNE_EVERY = timedelta(hours=1)


class Overlap:
    """Beat's side of the overlap policies and of run tracking."""

    def __init__(self, using: str = "default") -> None:
        self.using = using
        self._held: set[str] | None = None  # None: not read from the database yet
        self._pruned_at: datetime | None = None

    def reload(self) -> None:
        """Read the held runs from the database again at the next ``due_pending``: call it when
        this beat starts scheduling (taking over from another replica, which may have held some)."""
        self._held = None

    def admit(self, name: str, policy: Policy, slot: datetime, now: datetime) -> str | None:
        """Just before beat sends `slot` of a schedule whose policy.tracks_runs: the task_id to send with
        (lease claimed), or None: not sent (overlap skip → SkippedRun recorded; queue_one → held as pending, or
        skipped when one is already held)."""
        if policy.overlap == "allow":
            return lease.claim(name, slot, policy, now, self.using)
        task_id = lease.claim_if_free(name, slot, policy, now, self.using)
        if task_id is not None:
            self._forget(name)  # a claim clears any held run: this send serves the latest slot
            return task_id
        if policy.overlap == "queue_one" and lease.hold(name, slot, self.using):
            self._remember(name)
            log.info("%s: the previous run is still going; %s waits behind it (overlap: queue_one)", name, slot)
            return None
        detail = "a run is already waiting behind it" if policy.overlap == "queue_one" else ""
        skips.record(name, SkippedRun.Reason.OVERLAP, [slot], now, detail, self.using)
        log.info("%s: the previous run is still going; %s not sent (overlap: %s)", name, slot, policy.overlap)
        return None

    def send_failed(self, name: str, task_id: str) -> None:
        """The send of an admitted run raised: free the lease, no worker will ever report it."""
        lease.release(name, task_id, timezone.now(), self.using)

    def due_pending(self, now: datetime, policies: Mapping[str, Policy]) -> list[tuple[str, datetime, str]]:
        """Held queue_one runs that may go now: (name, slot, task_id) with the lease already claimed."""
        self._prune(now)
        if self._held is not None and not self._held:
            return []
        going: list[tuple[str, datetime, str]] = []
        held: set[str] = set()
        for name, slot, ready in lease.pending(now, self.using):
            policy = policies.get(name)
            if policy is None or policy.overlap != "queue_one":
                continue  # no longer scheduled here, or no longer queue_one: the next claim clears it
            if not ready:
                held.add(name)
                continue
            task_id = lease.claim_if_free(name, slot, policy, now, self.using)
            if task_id is None:
                held.add(name)
            else:
                going.append((name, slot, task_id))
        self._held = held
        return going

    def wait(self) -> float | None:
        """How soon beat should call due_pending again: 1.0 while a run is held, else None."""
        return PENDING_POLL if self._held is None or self._held else None

    def skip_catchup(self, name: str, dropped: Dropped, now: datetime) -> None:
        """Missed slots the catch-up policy drops: one SkippedRun (reason catchup) for them all."""
        detail = "count estimated: the missed slots were too many to walk one by one" if dropped.estimated else ""
        skips.record_span(
            name, SkippedRun.Reason.CATCHUP, dropped.first, dropped.last, dropped.count, now, detail, using=self.using,
        )
        log.info("%s: %d missed run(s) not sent (catch-up policy)", name, dropped.count)

    def _remember(self, name: str) -> None:
        if self._held is not None:
            self._held.add(name)

    def _forget(self, name: str) -> None:
        if self._held is not None:
            self._held.discard(name)

    def _prune(self, now: datetime) -> None:
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        skips.prune(now - timedelta(seconds=conf.SKIP_RETENTION), self.using)
