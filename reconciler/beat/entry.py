"""The entry beat keeps for each task: django-celery-beat's ``ModelEntry``, deciding by
``core.sends`` (the timeline every prediction reads), whose save writes only beat's own columns.

- **When.** ``is_due`` asks ``core.sends.due``: a row that never ran starts from its baseline
  (not django-celery-beat's "thirty years back when it has a ``start_time``", which sent it at
  once), the first evaluation since this beat started scheduling applies the catch-up policy,
  every send of a slot waits for the policy's jitter. ``decision`` keeps what the last
  evaluation decided: the scheduler sends it (``ReconcilingScheduler.apply_entry``).
- **Last run.** ``__next__`` stores the slot served as ``last_run_at``, not the wall clock:
  slots never drift, and a beat taking over starts from exactly what was served.
- **Save.** django-celery-beat's ``ModelEntry.save`` reads the row, sets beat's columns on it
  and saves the whole row back. An apply that commits between that read and that write is
  undone: the old arguments, schedule and options are written back, and no change marker moves
  (beat's save says ``no_changes``). One ``UPDATE`` of beat's own columns cannot undo what
  another writer changed in the others.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from celery import schedules
from django_celery_beat.schedulers import ModelEntry
from django_celery_beat.utils import NEVER_CHECK_TIMEOUT

from ..core.policy import DEFAULT_POLICY, Policy
from ..core.sends import SCHEDULED_TIME, Decision, due, scheduled_time, starting_point
from ..core.timing import at_moment

BEAT_COLUMNS = ("last_run_at", "total_run_count")  # ``save_fields`` less ``no_changes``, not a column
REENABLE_CHECK = 5.0  # seconds: django-celery-beat's delay before a disabled entry is looked at again


class ScheduledEntry(ModelEntry):
    policy: Policy = DEFAULT_POLICY
    catching_up: bool = True  # until its first evaluation finds nothing due, or it moves on
    decision: Decision | None = None

    def __init__(
        self, model: Any, app: Any = None, policy: Policy | None = None, catching_up: bool = True,
    ) -> None:
        ran = model.last_run_at
        super().__init__(model, app=app)
        self.policy = policy if policy is not None else getattr(model, "run_policy", DEFAULT_POLICY)
        self.catching_up = catching_up
        if getattr(self, "schedule", None) is not None:  # ModelEntry disabled a row without one
            start = starting_point(self.schedule, ran, model.date_changed, model.start_time, self.now())
            model.last_run_at = self.last_run_at = start

    def now(self) -> datetime:
        """The clock the entry decides by (tests stop it here): aware, UTC."""
        moment: datetime = self._default_now()
        return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

    def is_due(self) -> schedules.schedstate:
        model = self.model
        if not model.enabled:
            return schedules.schedstate(False, REENABLE_CHECK)
        now = self.now()
        if model.expires is not None and now >= model.expires:
            self._disable(model)
            return schedules.schedstate(False, NEVER_CHECK_TIMEOUT)
        if model.one_off and model.total_run_count > 0:  # a one-off has run: disabled, as django-celery-beat
            model.enabled, model.total_run_count, model.no_changes = False, 0, False
            model.save()
            return schedules.schedstate(False, NEVER_CHECK_TIMEOUT)
        return self.evaluate(now)

    def evaluate(self, now: datetime) -> schedules.schedstate:
        """``core.sends.due`` at ``now``; the decision is kept for the send and ``__next__``."""
        decision = due(at_moment(self.schedule, now), self.last_run_at, now, self.policy, self.name, self.catching_up)
        self.decision = decision
        if not decision.due:
            self.catching_up = False
        wait = decision.wait(now)
        return schedules.schedstate(decision.due, NEVER_CHECK_TIMEOUT if wait is None else wait)

    def __next__(self) -> ScheduledEntry:
        """The entry after this evaluation's sends: its last run is the latest slot served."""
        decision = self.decision if self.decision is not None else due(
            at_moment(self.schedule, self.now()), self.last_run_at, self.now(), self.policy, self.name,
            self.catching_up,
        )
        self.decision = decision
        self.catching_up = False
        self.model.last_run_at = decision.last
        self.model.total_run_count += len(decision.sends)
        self.model.no_changes = True
        return self.__class__(self.model, app=self.app, policy=self.policy, catching_up=False)

    next = __next__

    def message(self, slot: datetime, task_id: str | None = None) -> ScheduledEntry:
        """A copy of this entry that sends the run of ``slot``: headers ``scheduled_time`` and
        ``periodic_task_name``, the policy's ``time_limit`` and ``scheduled_time_kwarg``, the
        task id the overlap lease was claimed for."""
        moment = scheduled_time(slot)
        options = dict(self.options)
        options["headers"] = {**options.get("headers", {}), SCHEDULED_TIME: moment, "periodic_task_name": self.name}
        if self.policy.time_limit:
            options["time_limit"] = self.policy.time_limit
        if task_id is not None:
            options["task_id"] = task_id
        sendable = object.__new__(type(self))  # not copy.copy: ScheduleEntry's __reduce__ rebuilds a bare entry
        sendable.__dict__.update(self.__dict__, options=options)
        if self.policy.scheduled_time_kwarg:
            sendable.kwargs = {**self.kwargs, self.policy.scheduled_time_kwarg: moment}
        return sendable

    def save(self) -> None:
        """An ``UPDATE`` sends no ``post_save``: the change marker stays put, as ``no_changes`` asks."""
        columns = {column: getattr(self.model, column) for column in BEAT_COLUMNS}
        type(self.model)._default_manager.filter(pk=self.model.pk).update(**columns)
