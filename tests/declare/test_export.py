"""Export → validate → apply --adopt (same ids) → plan shows no change."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from reconciler.models import ManagedTask
from tests.support.engine import NOW, apply_yaml, plan_yaml, registry

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]


def admin_made_rows() -> dict[str, int]:
    """What a team clicked together in the admin, in every schedule kind, with odd spellings."""
    rows = [
        PeriodicTask(
            name="digest",
            task="project.tasks.send_digest",
            args='["staff"]',
            queue="reports",
            crontab=CrontabSchedule.objects.create(
                minute="00", hour="07", day_of_week="mon-fri", timezone="Europe/Paris"
            ),
            kwargs='{"include_drafts": true}',
            priority=3,
            expire_seconds=600,
        ),
        PeriodicTask(
            name="inventory",
            task="project.tasks.sync_inventory",
            args='["north"]',
            interval=IntervalSchedule.objects.create(every=2, period="hours"),
            enabled=False,
            description="on: yes",
        ),
        PeriodicTask(
            name="once",
            task="project.tasks.heartbeat",
            one_off=True,
            kwargs='{"label": "on"}',
            clocked=ClockedSchedule.objects.create(clocked_time=NOW + timedelta(days=3)),
        ),
        PeriodicTask(
            name="lights",
            task="project.tasks.open_garden_lights",
            args='["front"]',
            solar=SolarSchedule.objects.create(event="sunset", latitude="48.856600", longitude="2.352200"),
        ),
        PeriodicTask(
            name="celery.backend_cleanup",
            task="celery.backend_cleanup",
            crontab=CrontabSchedule.objects.create(minute="0", hour="4"),
        ),
    ]
    for row in rows:
        row.save()
    return {row.name: row.pk for row in rows}


def test_round_trip(tmp_path: Path) -> None:
    ids = admin_made_rows()
    folder = tmp_path / "schedules"
    output = folder / "exported.yaml"
    call_command("reconcile", "export", "--output", str(output))
    text = output.read_text()
    assert "celery.backend_cleanup" not in text  # beat creates that row itself

    from reconciler.pipeline import validate_paths

    validation = validate_paths([folder], registry=registry(), now=NOW)
    assert validation.valid, validation.diagnostics
    assert sorted(t.name for t in validation.declared.tasks) == ["digest", "inventory", "lights", "once"]

    apply_yaml(folder, adopt=True)
    for name in ("digest", "inventory", "lights", "once"):
        assert PeriodicTask.objects.get(name=name).pk == ids[name]
        assert ManagedTask.objects.filter(periodic_task_id=ids[name]).exists()
    assert plan_yaml(folder).changes == ()
    assert not ManagedTask.objects.filter(periodic_task_id=ids["celery.backend_cleanup"]).exists()


def test_default_exports_only_unmanaged_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    apply_yaml(tmp_path, "tasks:\n  mine:\n    task: project.tasks.heartbeat\n    every: 30\n")
    admin_made_rows()
    call_command("reconcile", "export")
    unmanaged = capsys.readouterr().out
    assert "mine:" not in unmanaged and "digest:" in unmanaged
    call_command("reconcile", "export", "--all")
    assert "mine:" in capsys.readouterr().out


def test_policies_round_trip(tmp_path: Path) -> None:
    """An owned row's policy lives in its ownership: export writes it back as the options."""
    folder = tmp_path / "schedules"
    apply_yaml(folder, (
        "tasks:\n  sync:\n    task: project.tasks.sync_inventory\n    every: 15m\n    args: [main]\n"
        "    overlap: queue_one\n    max_runtime: 10m\n    time_limit: 1h\n    catchup: all\n"
        "    catchup_window: 2h\n    catchup_max: 4\n    jitter: 90s\n"
        "  beat:\n    task: project.tasks.heartbeat\n    every: 1m\n    scheduled_time_kwarg: as_of\n"
    ))
    output = tmp_path / "exported.yaml"
    call_command("reconcile", "export", "--all", "--output", str(output))
    text = output.read_text()
    assert "    overlap: queue_one\n    max_runtime: 10m\n    time_limit: 1h\n    catchup: all\n" in text
    assert "    catchup_window: 2h\n    catchup_max: 4\n    jitter: 90s\n" in text
    assert "    scheduled_time_kwarg: as_of\n" in text
    (folder / "s.yaml").write_text(text)

    from reconciler.pipeline import validate_paths

    assert validate_paths([folder], registry=registry(), now=NOW).valid
    assert plan_yaml(folder).changes == ()
