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
    applied_at = models.DateTimeField()
    applied_revision = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = "managed task"
        verbose_name_plural = "managed tasks"

    def __str__(self) -> str:
        return f"{self.periodic_task_id} ({self.source_file}:{self.source_line})"


class ApplyRecord(models.Model):
    """One apply that changed something (or failed): who, when, what, how long."""

    class Outcome(models.TextChoices):
        APPLIED = "applied"
        FAILED = "failed"
        REFUSED = "refused"

    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    os_user = models.CharField(max_length=150, blank=True)
    django_user = models.CharField(max_length=150, blank=True)
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
        verbose_name = "apply"
        verbose_name_plural = "apply history"

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M:%S} {self.outcome} +{self.created} ~{self.updated} -{self.deleted}"


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


class BeatLease(models.Model):
    """Who schedules, when several beat replicas run (databases without advisory locks)."""

    name = models.CharField(max_length=64, primary_key=True)
    holder = models.CharField(max_length=255)
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = "beat lease"

    def __str__(self) -> str:
        return f"{self.name}: {self.holder} until {self.expires_at:%H:%M:%S}"
