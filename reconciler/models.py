"""The reconciler's own tables: which PeriodicTask rows it owns, and the history of applies.

Ownership is recorded here — never by squatting on ``description`` or on name prefixes —
so rows created in the admin or by beat itself are never touched.
"""
from __future__ import annotations

from django.db import models
from django_celery_beat.models import PeriodicTask


class ManagedTask(models.Model):
    """One row per PeriodicTask the reconciler owns, with what it last applied."""

    periodic_task = models.OneToOneField(
        PeriodicTask, on_delete=models.CASCADE, related_name="managed_by", primary_key=True,
    )
    source = models.CharField(
        max_length=200, blank=True, db_index=True,
        help_text="the schedules source (folder) whose apply owns this row; only it may prune the row",
    )
    source_file = models.CharField(max_length=500, blank=True)
    source_line = models.PositiveIntegerField(null=True, blank=True)
    spec_hash = models.CharField(max_length=64, help_text="digest of the declaration last applied")
    row_digest = models.CharField(
        max_length=32, blank=True, db_default="",
        help_text="digest of the row (and its schedule) as last written; '' when unknown (``rowdigest``)",
    )
    applied_at = models.DateTimeField()
    applied_revision = models.CharField(max_length=64, blank=True)
    # An operational override (``reconcile suspend``): the row stays disabled, whatever git
    # declares, until it is resumed. Cleared by ``resume``; never set by apply. Database
    # defaults: apply inserts ownership rows as plain tuples, without these columns.
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspended_by = models.CharField(max_length=150, blank=True, db_default="")
    suspend_reason = models.TextField(blank=True, db_default="")
    # The run-time policy last applied (``core.policy.Policy.to_json``: its non-default options,
    # '' for none). Beat reads it with the rows; it is part of ``spec_hash``, not of the row digest.
    policy = models.TextField(blank=True, db_default="")
    # The calendar (``core.calendar``) and the monitoring options (``core.monitor``) last applied,
    # stored the same way (``OptionSet.to_json``).
    calendar = models.TextField(blank=True, db_default="")
    monitor = models.TextField(blank=True, db_default="")

    class Meta:
        verbose_name = "managed task"
        verbose_name_plural = "managed tasks"
        permissions = (
            ("run_schedule", "Can run a schedule or a registered task now"),
            ("suspend_schedule", "Can suspend and resume a managed schedule"),
            ("apply_schedules", "Can apply the schedules folder"),
        )

    def __str__(self) -> str:
        return f"{self.periodic_task_id} ({self.source_file}:{self.source_line})"


class ScheduleSource(models.Model):
    """Where a schedules source's rows come from, recorded by its first apply, so that one
    name never silently stands for two folders (``reconciler.sources``)."""

    name = models.CharField(max_length=200, primary_key=True)
    origin = models.CharField(
        max_length=1000, blank=True,
        help_text="the folder: 'package:path' relative to BASE_DIR, an absolute path outside it, "
        "or '' for a name set explicitly (RECONCILER_SOURCE_NAME)",
    )
    recorded_at = models.DateTimeField()

    class Meta:
        verbose_name = "schedules source"
        verbose_name_plural = "schedules sources"

    def __str__(self) -> str:
        return f"{self.name} ({self.origin or 'named explicitly'})"


class ApplyRecord(models.Model):
    """One apply that changed something (or failed): who, when, what, how long."""

    class Outcome(models.TextChoices):
        APPLIED = "applied"
        FAILED = "failed"
        REFUSED = "refused"

    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField("duration (ms)", default=0)
    os_user = models.CharField("OS user", max_length=150, blank=True)
    django_user = models.CharField("Django user", max_length=150, blank=True)
    host = models.CharField(max_length=255, blank=True)
    revision = models.CharField(max_length=64, blank=True, help_text="git revision of the schedules folder")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    plan = models.JSONField(default=dict)

    class Meta:
        ordering = ("-started_at", "-id")
        verbose_name = "apply record"
        verbose_name_plural = "apply records"

    def __str__(self) -> str:
        started = self.started_at.replace(microsecond=0).isoformat()
        return f"{started} {self.outcome} +{self.created} ~{self.updated} -{self.deleted}"


class OperationRecord(models.Model):
    """One operational action taken outside git: suspend, resume, run now. The schedule is
    named, not referenced: its row may be deleted later, its history stays."""

    class Action(models.TextChoices):
        SUSPEND = "suspend"
        RESUME = "resume"
        RUN = "run"

    at = models.DateTimeField()
    action = models.CharField(max_length=16, choices=Action.choices)
    name = models.CharField(max_length=200, blank=True, help_text="the schedule, or empty for an ad-hoc task run")
    task = models.CharField(max_length=200, blank=True)
    user = models.CharField(max_length=150, blank=True)
    reason = models.TextField(blank=True)
    celery_id = models.CharField("Celery task id", max_length=255, blank=True)
    plan = models.JSONField(default=dict, blank=True, help_text="what a resume wrote (the plan JSON)")

    class Meta:
        ordering = ("-at", "-id")
        verbose_name = "operation"
        verbose_name_plural = "operations"

    def __str__(self) -> str:
        return f"{self.at.replace(microsecond=0).isoformat()} {self.action} {self.name or self.task}"


class RunLease(models.Model):
    """The latest run our beat sent of a schedule whose policy tracks runs (``overlap`` other
    than allow, or a ``max_runtime``), by the schedule's name. Beat writes it at each send; the
    worker's signals mark it started and finished (``runtime.signals``). While it is neither
    finished nor expired the run is queued or running: ``overlap`` holds the next send back.
    The lease expires ``max_runtime`` after the send, and again after the start, so that a run
    whose worker was killed blocks the schedule for a bounded time (docs/policies.md)."""

    name = models.CharField(max_length=200, primary_key=True)
    task_id = models.CharField("Celery task id", max_length=255)
    scheduled_time = models.DateTimeField(help_text="the slot the run serves")
    sent_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(help_text="busy until finished or until this moment")
    outcome = models.CharField(max_length=16, blank=True, help_text="success, failure, revoked; '' while not finished")
    pending_slot = models.DateTimeField(
        null=True, blank=True, help_text="overlap: queue_one: the slot of the one run waiting behind this one",
    )

    class Meta:
        verbose_name = "run lease"
        verbose_name_plural = "run leases"

    def __str__(self) -> str:
        return f"{self.name}: {self.task_id}"


class SkippedRun(models.Model):
    """A run beat did not send, and why: one row per decision (a catch-up that drops twelve
    missed slots is one row with ``count`` 12). Kept ``RECONCILER_SKIP_RETENTION``; the totals
    that Prometheus reads are in ``SkipTotal`` and never shrink."""

    class Reason(models.TextChoices):
        OVERLAP = "overlap"  # the previous run was still queued or running
        CATCHUP = "catchup"  # a slot missed while no beat was scheduling, dropped by the catch-up policy

    name = models.CharField(max_length=200)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    slot = models.DateTimeField(help_text="the (latest) slot not sent")
    first_slot = models.DateTimeField(null=True, blank=True, help_text="the earliest, when several")
    count = models.PositiveIntegerField(default=1)
    at = models.DateTimeField(help_text="when beat decided")
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ("-at", "-id")
        indexes = (models.Index(fields=("name", "at")),)
        verbose_name = "skipped run"
        verbose_name_plural = "skipped runs"

    def __str__(self) -> str:
        return f"{self.name} {self.reason} x{self.count}"


class SkipTotal(models.Model):
    """Runs not sent since the table was created, per schedule and reason: a counter."""

    name = models.CharField(max_length=200)
    reason = models.CharField(max_length=16, choices=SkippedRun.Reason.choices)
    total = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = (models.UniqueConstraint(fields=("name", "reason"), name="skip_total_name_reason"),)
        verbose_name = "skip total"

    def __str__(self) -> str:
        return f"{self.name} {self.reason}: {self.total}"


class ScheduledTask(PeriodicTask):
    """PeriodicTask as our beat scheduler loads it: its celery schedule object can be built
    once per schedule row and shared by every task on that row (``prebuilt_schedule``),
    instead of being parsed again for each task at each reload. Same table, same manager."""

    class Meta:
        proxy = True

    @property
    def schedule(self):  # type: ignore[no-untyped-def, override]
        prebuilt = self.__dict__.get("prebuilt_schedule")
        return prebuilt if prebuilt is not None else super().schedule


class CataloguePage(ManagedTask):
    """No data of its own: the admin index's entry for the task catalogue page (the Django
    way to list a page in an app's section is a registered model)."""

    class Meta:
        proxy = True
        verbose_name = "task catalogue"
        verbose_name_plural = "task catalogue"
        default_permissions = ()


class ForecastPage(ManagedTask):
    """No data of its own: the admin index's entry for the forecast page."""

    class Meta:
        proxy = True
        verbose_name = "forecast"
        verbose_name_plural = "forecast"
        default_permissions = ()


class BeatLease(models.Model):
    """Who schedules, when several beat replicas run (databases without advisory locks)."""

    name = models.CharField(max_length=64, primary_key=True)
    holder = models.CharField(max_length=255)
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = "beat lease"

    def __str__(self) -> str:
        return f"{self.name}: {self.holder} until {self.expires_at:%H:%M:%S}"
