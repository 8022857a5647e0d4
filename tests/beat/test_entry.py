"""Beat's save after a send never undoes an apply (``beat.entry.ScheduledEntry``).

django-celery-beat's own ``ModelEntry.save`` reads the row and writes it back whole: an apply
that commits in between is silently reverted. The interleaving is made exact with a
``pre_save`` receiver, which runs between that read and that write."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.db.models.signals import pre_save
from django.test.utils import CaptureQueriesContext
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from project.celery import app
from reconciler.models import ScheduledTask
from reconciler.scheduler import ReconcilingScheduler
from tests.support.engine import NOW, apply_yaml

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]

YAML = """tasks:
  heartbeat:
    task: project.tasks.heartbeat
    every: 1s
    kwargs: {label: %s}
"""


def kwargs_in_database() -> str:
    return PeriodicTask.objects.get(name="heartbeat").kwargs


@contextmanager
def apply_during_the_save(folder: Path) -> Iterator[None]:
    """Apply v2 once, from inside the next save of the row: after the save's read, before its write."""
    def receiver(sender: object, instance: PeriodicTask, **kwargs: object) -> None:
        pre_save.disconnect(receiver, sender=PeriodicTask)
        apply_yaml(folder, YAML % "v2")

    pre_save.connect(receiver, sender=PeriodicTask)
    try:
        yield
    finally:
        pre_save.disconnect(receiver, sender=PeriodicTask)


def sent(entry: ModelEntry) -> ModelEntry:
    entry.model.last_run_at = NOW + timedelta(seconds=1)
    entry.model.total_run_count += 1
    return entry


def test_django_celery_beats_own_save_reverts_an_apply_made_during_it(tmp_path: Path) -> None:
    apply_yaml(tmp_path, YAML % "v1")
    entry = sent(ModelEntry(ScheduledTask.objects.get(name="heartbeat"), app=app))
    with apply_during_the_save(tmp_path):
        entry.save()
    assert '"v1"' in kwargs_in_database()  # the defect our entry exists for


def test_our_save_keeps_an_apply_made_after_the_entry_was_loaded(tmp_path: Path) -> None:
    apply_yaml(tmp_path, YAML % "v1")
    entry = sent(ReconcilingScheduler.Entry(ScheduledTask.objects.get(name="heartbeat"), app=app))
    with apply_during_the_save(tmp_path):  # our save sends no pre_save: apply right now instead
        apply_yaml(tmp_path, YAML % "v2")
        entry.save()
    row = PeriodicTask.objects.get(name="heartbeat")
    assert '"v2"' in row.kwargs
    assert (row.last_run_at, row.total_run_count) == (NOW + timedelta(seconds=1), 1)


def test_our_save_is_one_update_of_beats_own_columns(tmp_path: Path) -> None:
    apply_yaml(tmp_path, YAML % "v1")
    entry = sent(ReconcilingScheduler.Entry(ScheduledTask.objects.get(name="heartbeat"), app=app))
    with CaptureQueriesContext(connection) as queries:
        entry.save()
    [query] = [q["sql"] for q in queries.captured_queries]
    assert query.startswith("UPDATE")
    assigned = query.split(" SET ", 1)[1].split(" WHERE ", 1)[0]
    assert sorted(part.split("=")[0].strip().strip('"').split(".")[-1].strip('"') for part in assigned.split(", ")) == [
        "last_run_at", "total_run_count",
    ]
