"""apply's NOTIFY: sent in the transaction, so delivered only when something was written
and committed (PostgreSQL; the SQLite pass has no notifications to check)."""
from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.wakeup import CHANNEL

from .engine import apply_yaml, interval_tasks

# LISTEN/NOTIFY is PostgreSQL's: the SQLite pass has no notifications to check
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.db_backend, pytest.mark.only_backend("postgresql")]


@pytest.fixture
def listener():  # type: ignore[no-untyped-def]
    import psycopg

    from reconciler.beat_lock import conninfo

    with psycopg.connect(conninfo("default"), autocommit=True) as conn:
        conn.execute(f"LISTEN {CHANNEL}")
        yield lambda: len(list(conn.notifies(timeout=0.5)))


def test_a_change_notifies_once_a_noop_never(tmp_path: Path, listener) -> None:  # type: ignore[no-untyped-def]
    apply_yaml(tmp_path, interval_tasks(3))
    assert listener() == 1
    apply_yaml(tmp_path)
    assert listener() == 0, "a no-op apply writes nothing and wakes no beat"


def test_a_rolled_back_apply_notifies_nobody(tmp_path: Path, listener, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from reconciler import apply as apply_module

    def crash(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the process died half-way")

    monkeypatch.setattr(apply_module, "_record", crash)  # after write() sent the NOTIFY, before the commit
    with pytest.raises(RuntimeError):
        apply_yaml(tmp_path, interval_tasks(3))
    assert listener() == 0
