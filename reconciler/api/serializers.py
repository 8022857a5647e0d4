"""The shapes of requests and responses: what the OpenAPI schema documents and what the
views return (plain dicts built from the pipeline's values, validated on the way in)."""
from __future__ import annotations

from datetime import datetime

from rest_framework import serializers

from ..observe.health import Health
from ..observe.leases import RUN_STATES
from ..observe.skips import REASONS
from ..observe.sync import STATES
from ..operate.run import eta_problem


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField()


class SuspensionSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    by = serializers.CharField(allow_blank=True)
    reason = serializers.CharField()


class ScheduleSerializer(serializers.Serializer):
    name = serializers.CharField()
    task = serializers.CharField()
    schedule = serializers.CharField()
    schedule_words = serializers.CharField(allow_blank=True, help_text="the schedule in words")
    state = serializers.ChoiceField(choices=STATES)
    managed = serializers.BooleanField()
    enabled = serializers.BooleanField(allow_null=True)
    suspended = SuspensionSerializer(allow_null=True)
    source_file = serializers.CharField(allow_null=True)
    source_line = serializers.IntegerField(allow_null=True)
    source_url = serializers.CharField(allow_null=True)
    last_run_at = serializers.DateTimeField(allow_null=True)
    next_runs = serializers.ListField(child=serializers.DateTimeField(), help_text="the next three runs")
    total_run_count = serializers.IntegerField(allow_null=True)
    reasons = serializers.ListField(child=serializers.CharField())
    health = serializers.ChoiceField(
        choices=[h.value for h in Health], allow_null=True,
        help_text="from the stored runs (reconcile status); null: not in the database yet, or no result store",
    )
    last_run_state = serializers.CharField(allow_null=True, help_text="the Celery state of the last stored run")
    last_success_at = serializers.DateTimeField(allow_null=True, help_text="when the last successful run started")
    owner = serializers.CharField(allow_null=True, help_text="its monitor's owner (monitor: owner); null: none")
    severity = serializers.CharField(allow_null=True, help_text="its monitor's severity, for alert routing")
    grace = serializers.IntegerField(allow_null=True, help_text="its monitor's grace (seconds); null: the global rule")
    grace_seconds = serializers.FloatField(
        allow_null=True, help_text="the grace health applies (its own, or the global rule); null without a health",
    )
    failure_threshold = serializers.IntegerField(help_text="failing after this many failed runs in a row")
    recovery_threshold = serializers.IntegerField(help_text="once failing, ok after this many successes in a row")


class TrackedRunSerializer(serializers.Serializer):
    """The schedule's latest run beat tracked (a policy with overlap or max_runtime)."""

    state = serializers.ChoiceField(choices=RUN_STATES)
    task_id = serializers.CharField()
    scheduled_time = serializers.DateTimeField(help_text="the slot the run serves")
    sent_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    outcome = serializers.CharField(allow_null=True, help_text="success, failure or revoked; null while not finished")
    expires_at = serializers.DateTimeField(help_text="overlap holds the next run back until this moment at most")
    pending_slot = serializers.DateTimeField(allow_null=True, help_text="overlap: queue_one: the run waiting")
    max_runtime = serializers.IntegerField(allow_null=True, help_text="seconds, from the policy applied now")
    running_long = serializers.BooleanField(help_text="unfinished, started (or sent) more than max_runtime ago")


class SkipSerializer(serializers.Serializer):
    """One decision of beat not to send: ``count`` runs, the slots ``first_slot`` to ``slot``."""

    reason = serializers.ChoiceField(choices=REASONS)
    slot = serializers.DateTimeField(help_text="the (latest) slot not sent")
    first_slot = serializers.DateTimeField(allow_null=True, help_text="the earliest, when several")
    count = serializers.IntegerField(min_value=1)
    at = serializers.DateTimeField(help_text="when beat decided")
    detail = serializers.CharField(allow_blank=True)


class SkipSummarySerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="runs not sent in the last 24 hours")
    last_reason = serializers.ChoiceField(choices=REASONS)
    last_at = serializers.DateTimeField()


class ScheduleDetailSerializer(ScheduleSerializer):
    run = TrackedRunSerializer(allow_null=True, help_text="null: its policy tracks no runs, or none sent yet")
    recent_skips = SkipSummarySerializer(allow_null=True, help_text="null: no run skipped in the last 24 hours")
    skipped_runs = SkipSerializer(many=True, help_text="the last skip decisions, newest first (all: skipped-runs/)")


class RunSerializer(serializers.Serializer):
    """One run of a schedule, as django-celery-results stored it."""

    task_id = serializers.CharField()
    schedule = serializers.CharField(allow_blank=True, help_text="the periodic_task_name beat sent it with")
    task = serializers.CharField(allow_blank=True)
    state = serializers.CharField(help_text="Celery's state: SUCCESS, FAILURE, STARTED, RETRY, REVOKED ...")
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    runtime_seconds = serializers.FloatField(allow_null=True)
    worker = serializers.CharField(allow_blank=True)
    exception = serializers.CharField(allow_blank=True, help_text="ExcType: message of a failed run")


class DiagnosticSerializer(serializers.Serializer):
    severity = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()
    file = serializers.CharField(allow_null=True)
    line = serializers.IntegerField(allow_null=True)
    column = serializers.IntegerField(allow_null=True)
    name = serializers.CharField(allow_null=True)
    hint = serializers.CharField(allow_null=True)


class ValidationSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    checked = serializers.IntegerField()
    diagnostics = DiagnosticSerializer(many=True)


class PlanSerializer(serializers.Serializer):
    """``reconcile plan --format json``: the stable contract (format_version 1)."""

    format_version = serializers.IntegerField()
    summary = serializers.DictField(child=serializers.IntegerField())
    changes = serializers.ListField(child=serializers.DictField())
    warnings = serializers.ListField(child=serializers.CharField())


class ApplySerializer(serializers.Serializer):
    written = serializers.BooleanField()
    record_id = serializers.IntegerField(allow_null=True)
    plan = PlanSerializer()


class SuspendSerializer(serializers.Serializer):
    reason = serializers.RegexField(r"\S", max_length=2000, help_text="why (recorded and shown); not blank")


class SuspendedSerializer(serializers.Serializer):
    name = serializers.CharField()
    suspended = SuspensionSerializer()


class ResumedSerializer(serializers.Serializer):
    name = serializers.CharField()
    declared = serializers.BooleanField(help_text="false: no longer in git, the next apply deletes it")
    plan = PlanSerializer()


class SentSerializer(serializers.Serializer):
    name = serializers.CharField(allow_blank=True)
    task = serializers.CharField()
    id = serializers.CharField(help_text="the Celery task id")
    eta = serializers.DateTimeField(allow_null=True, required=False)


class TaskSerializer(serializers.Serializer):
    name = serializers.CharField()
    signature = serializers.CharField(allow_null=True)
    doc = serializers.CharField(allow_blank=True, help_text="the first line of the docstring")
    schedules = serializers.ListField(child=serializers.CharField())


class CatalogueSerializer(serializers.Serializer):
    tasks = TaskSerializer(many=True)


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO-8601 moment that carries its offset: a naive one is refused (400), never taken as
    UTC or as the server's zone."""

    def enforce_timezone(self, value: datetime) -> datetime:
        problem = eta_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return super().enforce_timezone(value)  # type: ignore[no-any-return]


class RunTaskSerializer(serializers.Serializer):
    args = serializers.ListField(child=serializers.JSONField(allow_null=True), required=False, default=list)
    kwargs = serializers.DictField(child=serializers.JSONField(allow_null=True), required=False, default=dict)
    eta = AwareDateTimeField(required=False, allow_null=True, default=None,
                             help_text="ISO-8601 with an offset (a naive moment is refused); null: now")


class ArgumentsRefusedSerializer(serializers.Serializer):
    error = serializers.CharField()
    diagnostics = DiagnosticSerializer(many=True, required=False, help_text="when the arguments do not bind")


class ValidateSerializer(serializers.Serializer):
    """``files``: a mapping of file name to YAML text, or a list of ``{name, text}`` (two files
    may then share a name). Without ``files``: the server's schedules folder."""

    files = serializers.JSONField(required=False)

