"""The run lease (runtime.lease) on the database of the pass: each rule one statement, so that
no interleaving of beat and workers leaves a wrong state."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconciler.core.policy import Policy
from reconciler.models import RunLease
from reconciler.runtime import lease

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SKIP = Policy(overlap="skip", max_runtime=600)
QUEUE = Policy(overlap="queue_one", max_runtime=600)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def row(name: str = "sync") -> RunLease:
    return RunLease.objects.get(name=name)


def test_a_claim_writes_a_fresh_lease_that_expires_one_max_runtime_after_the_send() -> None:
    task_id = lease.claim("sync", at(-5), SKIP, T0)
    got = row()
    assert (got.task_id, got.scheduled_time, got.sent_at, got.expires_at) == (task_id, at(-5), T0, at(600))
    assert (got.started_at, got.finished_at, got.outcome, got.pending_slot) == (None, None, "", None)
    assert lease.busy(got, at(599)) and not lease.busy(got, at(600))


# (what happened to the previous run, seconds later the next claim_if_free) -> claimed?
FREE_CASES = [
    ("queued", 10, False),
    ("started", 10, False),
    ("started, then its lease expired", 1300, True),
    ("sent and never started: expired", 600, True),
    ("finished", 10, True),
    ("failed", 10, True),
]


def _previous(state: str) -> str:
    task_id = lease.claim("sync", T0, SKIP, T0)
    if state.startswith("started"):
        assert lease.started(task_id, "sync", at(100))  # the lease now ends at 100 + 600
    if state == "finished":
        assert lease.finished(task_id, "sync", "success", at(5))
    if state == "failed":
        assert lease.finished(task_id, "sync", "failure", at(5))
    return task_id


@pytest.mark.parametrize(("state", "later", "claimed"), FREE_CASES, ids=[c[0] for c in FREE_CASES])
def test_claim_if_free_takes_only_a_free_lease(state: str, later: float, claimed: bool) -> None:
    previous = _previous(state)
    task_id = lease.claim_if_free("sync", at(later), SKIP, at(later))
    assert (task_id is not None) == claimed
    assert row().task_id == (task_id if claimed else previous)
    if claimed:
        assert (row().finished_at, row().started_at, row().outcome) == (None, None, "")


def test_a_start_moves_the_expiry_to_one_lifetime_after_the_start() -> None:
    task_id = lease.claim("sync", T0, SKIP, T0)
    assert lease.started(task_id, "sync", at(100))
    assert (row().started_at, row().expires_at) == (at(100), at(700))


def test_a_stale_run_never_clobbers_a_newer_lease() -> None:
    old = lease.claim("sync", T0, SKIP, T0)
    new = lease.claim("sync", at(700), SKIP, at(700))  # the old one expired; beat sent again
    assert not lease.started(old, "sync", at(701))
    assert not lease.finished(old, "sync", "success", at(702))
    assert (row().task_id, row().started_at, row().finished_at) == (new, None, None)


def test_only_the_first_end_counts() -> None:
    task_id = lease.claim("sync", T0, SKIP, T0)
    assert lease.finished(task_id, "sync", "failure", at(3))  # task_failure
    assert not lease.finished(task_id, "sync", "success", at(4))  # then task_postrun
    assert (row().outcome, row().finished_at) == ("failure", at(3))


def test_a_run_of_a_schedule_without_lease_touches_nothing() -> None:
    assert not lease.started("some-id", "no-lease", T0)
    assert not lease.finished("some-id", "no-lease", "success", T0)
    assert not RunLease.objects.exists()


def test_release_frees_a_claim_whose_send_failed() -> None:
    task_id = lease.claim("sync", T0, SKIP, T0)
    assert lease.release("sync", task_id, at(1))
    assert row().outcome == lease.UNSENT
    assert lease.claim_if_free("sync", at(2), SKIP, at(2)) is not None


def test_queue_one_holds_one_run_and_it_is_ready_when_the_lease_ends() -> None:
    task_id = lease.claim("sync", T0, QUEUE, T0)
    assert lease.hold("sync", at(60))
    assert not lease.hold("sync", at(120)), "one run waits at most"
    assert row().pending_slot == at(60)
    assert lease.ready_pending(at(130)) == []
    lease.finished(task_id, "sync", "success", at(140))
    assert lease.ready_pending(at(141)) == [("sync", at(60))]
    lease.claim("sync", at(60), QUEUE, at(141))
    assert row().pending_slot is None and lease.ready_pending(at(142)) == []


def test_a_held_run_is_ready_when_the_lease_expires() -> None:
    lease.claim("sync", T0, QUEUE, T0)
    lease.hold("sync", at(60))
    assert lease.pending(at(599)) == [("sync", at(60), False)]
    assert lease.pending(at(600)) == [("sync", at(60), True)]


def test_without_max_runtime_the_lease_lives_the_time_limit_or_an_hour() -> None:
    assert lease.lifetime(Policy(overlap="skip", time_limit=90)) == timedelta(seconds=90)
    assert lease.lifetime(Policy(overlap="skip")) == timedelta(seconds=lease.FALLBACK_LIFETIME)


@pytest.fixture
def listener():  # type: ignore[no-untyped-def]
    import psycopg

    from reconciler.db.lease import conninfo
    from reconciler.db.wakeup import CHANNEL

    with psycopg.connect(conninfo("default"), autocommit=True) as conn:
        conn.execute(f"LISTEN {CHANNEL}")
        yield lambda: [n.payload for n in conn.notifies(timeout=0.5)]


@pytest.mark.django_db(transaction=True)  # a NOTIFY is delivered at commit
@pytest.mark.only_backend("postgresql")  # LISTEN/NOTIFY; SQLite's beat polls while a run is held
def test_a_finish_wakes_beat_only_when_a_run_waits_behind_it(listener) -> None:  # type: ignore[no-untyped-def]
    alone = lease.claim("alone", T0, QUEUE, T0)
    assert lease.finished(alone, "alone", "success", at(1))
    assert listener() == [], "nothing waits: beat has nothing to do early"

    running = lease.claim("sync", T0, QUEUE, T0)
    lease.hold("sync", at(60))
    assert lease.finished(running, "sync", "success", at(70))
    assert listener() == ["run-finished:sync"]
    assert not lease.finished(running, "sync", "failure", at(71))
    assert listener() == [], "a second end of the same run is no news"


@pytest.mark.django_db(transaction=True)  # each write its own transaction, as in beat and the worker
@pytest.mark.only_backend("postgresql")  # asynchronous commit is PostgreSQL's
def test_on_their_own_the_writes_commit_asynchronously_and_the_setting_does_not_leak() -> None:
    from django.db import connection

    task_id = lease.claim_if_free("sync", T0, SKIP, T0)
    assert task_id is not None and lease.claim_if_free("sync", at(1), SKIP, at(1)) is None
    assert lease.started(task_id, "sync", at(100))
    assert (row().started_at, row().expires_at) == (at(100), at(700))
    assert lease.finished(task_id, "sync", "success", at(200))
    assert (row().outcome, row().finished_at) == ("success", at(200))
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on", "only each lease write's own transaction commits asynchronously"
