"""Beat's side of the overlap policies (beat.overlap.Overlap) on the database of the pass: what
each policy does with a send while the previous run is busy, the held queue_one run, and the
queries a beat holding nothing does not make."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from reconciler.beat.overlap import PENDING_POLL, Overlap
from reconciler.core.policy import Policy
from reconciler.core.sends import Dropped
from reconciler.models import RunLease, SkippedRun, SkipTotal
from reconciler.runtime import lease

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
POLICIES = {
    "allow": Policy(max_runtime=600),
    "skip": Policy(overlap="skip", max_runtime=600),
    "queue_one": Policy(overlap="queue_one", max_runtime=600),
}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def skipped() -> list[tuple[str, str, datetime, str]]:
    return list(SkippedRun.objects.order_by("id").values_list("name", "reason", "slot", "detail"))


# policy -> (second send admitted?, third send admitted?, skips recorded, held slot)
BUSY_CASES = [
    ("allow", True, True, 0, None),
    ("skip", False, False, 2, None),
    ("queue_one", False, False, 1, at(60)),
]


@pytest.mark.parametrize(("overlap", "second", "third", "skips", "held"), BUSY_CASES, ids=[c[0] for c in BUSY_CASES])
def test_sends_while_the_previous_run_is_busy(overlap: str, second: bool, third: bool, skips: int,
                                              held: datetime | None) -> None:
    beat, policy = Overlap(), POLICIES[overlap]
    first = beat.admit("sync", policy, T0, T0)
    assert first is not None and RunLease.objects.get().task_id == first
    assert (beat.admit("sync", policy, at(60), at(60)) is not None) == second
    assert (beat.admit("sync", policy, at(120), at(120)) is not None) == third
    assert len(skipped()) == skips
    assert SkipTotal.objects.filter(reason="overlap").values_list("total", flat=True).first() == (skips or None)
    assert RunLease.objects.get().pending_slot == held


def test_a_finished_run_frees_the_schedule() -> None:
    beat, policy = Overlap(), POLICIES["skip"]
    first = beat.admit("sync", policy, T0, T0)
    assert first is not None
    lease.finished(first, "sync", "success", at(30))
    assert beat.admit("sync", policy, at(60), at(60)) not in (None, first)
    assert skipped() == []


def test_a_killed_run_blocks_the_schedule_until_its_lease_expires() -> None:
    beat, policy = Overlap(), POLICIES["skip"]
    first = beat.admit("sync", policy, T0, T0)
    assert first is not None
    lease.started(first, "sync", at(5))  # ... and the worker is SIGKILLed: no finish ever comes
    assert beat.admit("sync", policy, at(604), at(604)) is None
    assert beat.admit("sync", policy, at(605), at(605)) is not None


def test_queue_one_sends_the_held_run_once_the_running_one_finishes() -> None:
    beat, policy = Overlap(), POLICIES["queue_one"]
    first = beat.admit("sync", policy, T0, T0)
    assert first is not None
    assert beat.admit("sync", policy, at(60), at(60)) is None
    assert beat.wait() == PENDING_POLL
    assert beat.due_pending(at(61), {"sync": policy}) == []
    lease.finished(first, "sync", "success", at(70))
    [(name, slot, task_id)] = beat.due_pending(at(71), {"sync": policy})
    assert (name, slot) == ("sync", at(60))
    got = RunLease.objects.get()
    assert (got.task_id, got.scheduled_time, got.sent_at, got.pending_slot) == (task_id, at(60), at(71), None)
    assert beat.due_pending(at(72), {"sync": policy}) == []
    assert beat.wait() is None


def test_a_standby_taking_over_sends_the_run_the_failed_beat_held() -> None:
    policy = POLICIES["queue_one"]
    first = Overlap().admit("sync", policy, T0, T0)
    assert first is not None
    Overlap().admit("sync", policy, at(60), at(60))  # held by the beat that then dies
    standby = Overlap()
    assert standby.wait() == PENDING_POLL, "a new beat reads what is held before it trusts its memory"
    assert standby.due_pending(at(61), {"sync": policy}) == []
    assert standby.wait() == PENDING_POLL
    lease.finished(first, "sync", "success", at(70))
    assert [(n, s) for n, s, _ in standby.due_pending(at(71), {"sync": policy})] == [("sync", at(60))]


def test_a_standby_that_read_nothing_held_reads_again_when_it_takes_over() -> None:
    policy, standby = POLICIES["queue_one"], Overlap()
    assert standby.due_pending(T0, {"sync": policy}) == [] and standby.wait() is None
    first = Overlap().admit("sync", policy, T0, T0)  # the active beat sends, then holds one, then dies
    assert first is not None
    Overlap().admit("sync", policy, at(60), at(60))
    lease.finished(first, "sync", "success", at(70))
    standby.reload()  # it took the beat lock
    assert [(n, s) for n, s, _ in standby.due_pending(at(71), {"sync": policy})] == [("sync", at(60))]


def test_a_held_run_of_a_schedule_no_longer_queue_one_is_not_sent() -> None:
    beat, policy = Overlap(), POLICIES["queue_one"]
    first = beat.admit("sync", policy, T0, T0)
    assert first is not None
    beat.admit("sync", policy, at(60), at(60))
    lease.finished(first, "sync", "success", at(70))
    assert beat.due_pending(at(71), {"sync": POLICIES["skip"]}) == []
    assert beat.due_pending(at(72), {}) == []


def test_a_beat_holding_nothing_queries_nothing_per_tick() -> None:
    beat = Overlap()
    beat.due_pending(T0, POLICIES)  # the first call reads what is held (and prunes)
    assert beat.wait() is None
    with CaptureQueriesContext(connection) as queries:
        for second in range(1, 10):
            assert beat.due_pending(at(second), POLICIES) == []
    assert len(queries) == 0


def test_send_failed_frees_the_lease() -> None:
    beat, policy = Overlap(), POLICIES["skip"]
    first = beat.admit("sync", policy, T0, T0)
    assert first is not None
    beat.send_failed("sync", first)
    assert beat.admit("sync", policy, at(60), at(60)) is not None


def test_skip_catchup_records_the_dropped_slots_as_one_row() -> None:
    Overlap().skip_catchup("sync", Dropped(T0, at(1800), 3), at(4000))
    got = SkippedRun.objects.get()
    assert (got.reason, got.count, got.slot, got.first_slot, got.detail) == ("catchup", 3, at(1800), T0, "")


def test_an_estimated_catchup_count_says_so() -> None:
    Overlap().skip_catchup("sync", Dropped(T0, at(86400 * 30), 2_592_000, estimated=True), at(86400 * 31))
    got = SkippedRun.objects.get()
    assert got.count == 2_592_000 and "estimated" in got.detail


@override_settings(RECONCILER_SKIP_RETENTION=3600)
def test_beat_prunes_old_skip_records_at_most_once_an_hour() -> None:
    beat = Overlap()
    beat.skip_catchup("old", Dropped(T0, T0, 1), T0)
    beat.due_pending(at(3601), {})
    assert not SkippedRun.objects.filter(name="old").exists()
    beat.skip_catchup("newer", Dropped(T0, T0, 1), T0)
    beat.due_pending(at(3700), {})  # pruned 99 s ago: not again
    assert SkippedRun.objects.filter(name="newer").exists()
    beat.due_pending(at(3601 + 3600), {})
    assert not SkippedRun.objects.exists()
