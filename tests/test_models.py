"""The reconciler's models match its migrations, and the admin shows history read-only."""

from __future__ import annotations

import io

import pytest
from django.contrib import admin
from django.core.management import call_command

from reconciler.models import ApplyRecord, ManagedTask


@pytest.mark.django_db
def test_models_match_migrations() -> None:
    out = io.StringIO()
    call_command("makemigrations", "reconciler", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.parametrize("model", [ApplyRecord, ManagedTask], ids=["history", "ownership"])
def test_admin_is_read_only(model, rf) -> None:  # type: ignore[no-untyped-def]
    model_admin = admin.site._registry[model]
    request = rf.get("/")
    request.user = type(
        "U", (), {"is_active": True, "is_staff": True, "is_superuser": True, "has_perm": lambda *a: True}
    )()
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


@pytest.mark.django_db
@pytest.mark.db_backend
def test_ownership_recorded_before_sources_is_claimed_by_the_configured_folder(settings) -> None:  # type: ignore[no-untyped-def]
    import importlib
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection
    from django.utils import timezone
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    migration = importlib.import_module("reconciler.migrations.0005_ownership_source")
    every = IntervalSchedule.objects.create(every=60, period=IntervalSchedule.SECONDS)
    row = PeriodicTask.objects.create(name="old", task="project.tasks.heartbeat", interval=every)
    ManagedTask.objects.create(periodic_task=row, spec_hash="x", applied_at=timezone.now(), source="")
    settings.RECONCILER_SOURCE_NAME = "main-schedules"
    editor = SimpleNamespace(connection=connection)  # RunPython hands it the schema editor; it reads .connection
    migration.claim_for_default_source(apps, editor)
    assert ManagedTask.objects.get(periodic_task=row).source == "main-schedules"
