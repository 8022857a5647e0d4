"""Runs not sent (runtime.skips): one row per decision, totals that only grow, pruning."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconciler.models import SkippedRun, SkipTotal
from reconciler.runtime import skips

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def slots(count: int) -> list[datetime]:
    return [T0 + timedelta(minutes=15 * k) for k in range(count)]


def totals() -> list[tuple[str, str, int]]:
    return sorted(SkipTotal.objects.values_list("name", "reason", "total"))


# slots dropped -> (slot, first_slot, count) of the one row
RECORD_CASES = [
    (1, (T0, None, 1)),
    (12, (T0 + timedelta(minutes=165), T0, 12)),
]


@pytest.mark.parametrize(("count", "expected"), RECORD_CASES, ids=["one slot", "twelve slots"])
def test_one_decision_is_one_row(count: int, expected: tuple[datetime, datetime | None, int]) -> None:
    dropped = list(reversed(slots(count)))  # in any order: the row names the latest and the earliest
    skips.record("sync", "catchup", dropped, at=T0 + timedelta(hours=5), detail="beat was down")
    got = SkippedRun.objects.get()
    assert (got.slot, got.first_slot, got.count) == expected
    assert (got.name, got.reason, got.detail, got.at) == ("sync", "catchup", "beat was down", T0 + timedelta(hours=5))
    assert totals() == [("sync", "catchup", count)]


def test_totals_add_up_per_schedule_and_reason() -> None:
    skips.record("sync", "overlap", slots(1), T0)
    skips.record("sync", "overlap", slots(1), T0)
    skips.record("sync", "catchup", slots(3), T0)
    skips.record("other", "overlap", slots(1), T0)
    assert totals() == [("other", "overlap", 1), ("sync", "catchup", 3), ("sync", "overlap", 2)]


def test_no_slot_no_row() -> None:
    assert skips.record("sync", "overlap", [], T0) is None
    assert not SkippedRun.objects.exists() and not SkipTotal.objects.exists()


def test_prune_forgets_old_rows_and_keeps_the_totals() -> None:
    skips.record("sync", "overlap", slots(1), T0 - timedelta(days=8))
    skips.record("sync", "overlap", slots(1), T0)
    assert skips.prune(T0 - timedelta(days=7)) == 1
    assert list(SkippedRun.objects.values_list("at", flat=True)) == [T0]
    assert totals() == [("sync", "overlap", 2)]
