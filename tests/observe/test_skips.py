"""Runs beat did not send: the recent summary per schedule, the decisions newest first, and the
counters Prometheus reads, from a real database in one query each."""
from __future__ import annotations

from datetime import timedelta

import pytest

from reconciler.observe.skips import SkipSummary, last_skips, recent_skips, skip_totals, summarise
from tests.support.engine import NOW
from tests.support.observe import record_skip

MIN = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("groups", "summary"),
    [
        ([("overlap", 3, NOW)], SkipSummary(3, "overlap", NOW)),
        ([("catchup", 12, NOW - MIN), ("overlap", 2, NOW)], SkipSummary(14, "overlap", NOW)),
        ([("overlap", 2, NOW - MIN), ("catchup", 12, NOW)], SkipSummary(14, "catchup", NOW)),
        ([("overlap", 1, NOW), ("catchup", 1, NOW)], SkipSummary(2, "overlap", NOW)),  # a tie: never the db's order
    ],
    ids=["one-reason", "latest-overlap", "latest-catchup", "tie"],
)
def test_summarise(groups: list[tuple[str, int, object]], summary: SkipSummary) -> None:
    assert summarise(groups) == summary  # type: ignore[arg-type]
    assert summarise(list(reversed(groups))) == summary  # type: ignore[arg-type]


@pytest.mark.django_db
@pytest.mark.db_backend
def test_recent_skips_decisions_and_totals(django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    record_skip("sync", "catchup", NOW - 30 * MIN, NOW - 25 * MIN, count=12, first_slot=NOW - 200 * MIN,
                detail="beat was down: catchup skip")
    record_skip("sync", "overlap", NOW - 15 * MIN, NOW - 15 * MIN, detail="task id a1 still running")
    record_skip("sync", "overlap", NOW - 2 * timedelta(days=1), NOW - 2 * timedelta(days=1))  # not recent
    record_skip("report", "overlap", NOW - 5 * MIN, NOW - 5 * MIN)
    record_skip("report", "overlap", NOW + 5 * MIN, NOW + 5 * MIN)  # after "now": not counted at NOW
    with django_assert_num_queries(1):
        recent = recent_skips(None, NOW)
    assert recent == {
        "report": SkipSummary(1, "overlap", NOW - 5 * MIN), "sync": SkipSummary(13, "overlap", NOW - 15 * MIN),
    }
    assert list(recent_skips(["sync", "nope"], NOW)) == ["sync"]
    with django_assert_num_queries(1):
        decisions = last_skips("sync", limit=2)
    assert [(k.reason, k.count, k.at) for k in decisions] == [
        ("overlap", 1, NOW - 15 * MIN), ("catchup", 12, NOW - 25 * MIN)]
    assert decisions[1].to_json() == {
        "reason": "catchup", "slot": (NOW - 30 * MIN).isoformat(), "first_slot": (NOW - 200 * MIN).isoformat(),
        "count": 12, "at": (NOW - 25 * MIN).isoformat(), "detail": "beat was down: catchup skip",
    }
    assert [k.at for k in last_skips("sync", limit=2, offset=2)] == [NOW - 2 * timedelta(days=1)]
    with django_assert_num_queries(1):
        assert skip_totals() == (("report", "overlap", 2), ("sync", "catchup", 12), ("sync", "overlap", 2))
