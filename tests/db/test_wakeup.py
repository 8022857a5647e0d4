"""The wake-up NOTIFY (PostgreSQL; the SQLite pass has no notifications to check): sent by the
triggers of migration 0008 in the writing transaction, so delivered only when something was
written and committed — by an apply, an admin edit, a raw SQL fix."""
from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.db.wakeup import CHANNEL
from tests.support.engine import apply_yaml, interval_tasks

# LISTEN/NOTIFY is PostgreSQL's: the SQLite pass has no notifications to check
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.db_backend, pytest.mark.only_backend("postgresql")]


@pytest.fixture
def listener():  # type: ignore[no-untyped-def]
    import psycopg

    from reconciler.db.lease import conninfo

    with psycopg.connect(conninfo("default"), autocommit=True) as conn:
        conn.execute(f"LISTEN {CHANNEL}")
        yield lambda: len(list(conn.notifies(timeout=0.5)))


def test_a_change_notifies_once_a_noop_never(tmp_path: Path, listener) -> None:  # type: ignore[no-untyped-def]
    apply_yaml(tmp_path, interval_tasks(3))
    assert listener() == 1
    apply_yaml(tmp_path)
    assert listener() == 0, "a no-op apply writes nothing and wakes no beat"


def test_a_rolled_back_apply_notifies_nobody(tmp_path: Path, listener, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from reconciler.engine import apply as apply_module

    def crash(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the process died half-way")

    monkeypatch.setattr(apply_module, "_record", crash)  # after write() sent the NOTIFY, before the commit
    with pytest.raises(RuntimeError):
        apply_yaml(tmp_path, interval_tasks(3))
    assert listener() == 0


# -- the trigger (migration 0008): every change to what beat reads wakes it -------------------

def _unmanaged_crontab_task(name: str = "made-in-the-admin"):  # type: ignore[no-untyped-def]
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    cron = CrontabSchedule.objects.create(minute="0", hour="3")
    return PeriodicTask.objects.create(name=name, task="project.tasks.cleanup_sessions", crontab=cron)


def test_a_raw_sql_fix_of_an_unmanaged_schedule_wakes_beat_and_moves_the_marker(listener) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection

    from tests.support.engine import marker

    row = _unmanaged_crontab_task()
    listener()
    before = marker()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE django_celery_beat_crontabschedule SET hour = '4' WHERE id = %s", [row.crontab_id])
    assert listener() == 1
    after = marker()
    assert after is not None and (before is None or after > before), "beat's poll must see the fix too"


def test_an_orm_save_of_an_unmanaged_task_wakes_beat(listener) -> None:  # type: ignore[no-untyped-def]
    """In one transaction, as the admin saves: one notification (PostgreSQL folds the trigger's
    and the change signal's into one)."""
    from django.db import transaction

    row = _unmanaged_crontab_task()
    listener()
    with transaction.atomic():
        row.kwargs = '{"older_than_days": 3}'
        row.save()
    assert listener() == 1


def test_one_statement_over_many_rows_is_one_notification(listener) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection

    for i in range(3):
        _unmanaged_crontab_task(f"made-in-the-admin-{i}")
    listener()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE django_celery_beat_periodictask SET description = 'fixed'")
    assert listener() == 1


def test_beats_own_bookkeeping_wakes_nobody(listener) -> None:  # type: ignore[no-untyped-def]
    """After every send beat writes last_run_at and total_run_count: no change, no wake-up,
    no reload (else beat would reload its whole schedule after each task it sends)."""
    from django_celery_beat.schedulers import ModelEntry

    from tests.support.engine import marker

    entry = ModelEntry(_unmanaged_crontab_task())
    listener()
    before = marker()
    next(entry).save()  # what beat does for a task it sent: reserve() then sync()
    assert listener() == 0
    assert marker() == before
