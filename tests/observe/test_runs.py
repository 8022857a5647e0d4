"""Runs as django-celery-results stores them, linked to schedules by periodic_task_name."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from celery import states

from reconciler.observe.runs import RunSummary, exception_summary, last_runs, summaries, summarise
from tests.support.observe import record_run

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.django_db
@pytest.mark.db_backend
def test_runs_belong_to_the_schedule_that_sent_them_not_to_the_task() -> None:
    record_run("digest-staff", "project.tasks.send_digest", states.SUCCESS, T0)
    record_run("digest-customers", "project.tasks.send_digest", states.SUCCESS, T0 + timedelta(minutes=1))
    record_run("digest-staff", "project.tasks.send_digest", states.FAILURE, T0 + timedelta(minutes=2),
               error=KeyError("staff"), worker="w2@host")
    record_run(None, "project.tasks.send_digest", states.SUCCESS, T0 + timedelta(minutes=3))  # sent by hand

    staff = last_runs("digest-staff")
    assert [(r.state, r.started_at, r.worker) for r in staff] == [
        (states.FAILURE, T0 + timedelta(minutes=2), "w2@host"),
        (states.SUCCESS, T0, "w1@host"),
    ]
    assert staff[0].exception == "KeyError: staff"
    assert staff[1].runtime_seconds == 1.5 and staff[1].exception == ""
    assert [r.schedule for r in last_runs("digest-customers")] == ["digest-customers"]
    assert len(last_runs("digest-staff", limit=1, offset=1)) == 1

    summary = summaries()
    assert set(summary) == {"digest-staff", "digest-customers"}
    assert summary["digest-staff"] == RunSummary(
        last_run_at=T0 + timedelta(minutes=2), last_state=states.FAILURE, last_success_at=T0,
        last_outcome=states.FAILURE, counts={states.FAILURE: 1, states.SUCCESS: 1},
    )
    assert summaries(["digest-customers"])["digest-customers"].total == 1


@pytest.mark.django_db
@pytest.mark.db_backend
def test_summaries_are_one_query(django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    for i in range(20):
        record_run(f"s{i % 5}", "project.tasks.heartbeat", states.SUCCESS, T0 + timedelta(seconds=i))
    with django_assert_num_queries(1):
        assert len(summaries()) == 5


def test_a_run_in_progress_is_the_last_state() -> None:
    summary = summarise([(states.SUCCESS, 3, T0), (states.STARTED, 1, T0 + timedelta(seconds=5))])
    assert summary.last_state == states.STARTED and summary.last_success_at == T0 and summary.total == 4


@pytest.mark.parametrize(
    ("state", "result", "traceback", "expected"),
    [
        (states.SUCCESS, '"ok"', None, ""),
        (states.FAILURE, '{"exc_type": "ValueError", "exc_message": ["bad", 3]}', None, "ValueError: bad, 3"),
        (states.FAILURE, "not json", "Traceback\n  File x\nRuntimeError: gone\n", "RuntimeError: gone"),
        (states.RETRY, '{"exc_type": "Retry", "exc_message": []}', None, "Retry"),
    ],
    ids=["success", "result-json", "traceback", "retry"],
)
def test_exception_summary(state: str, result: str, traceback: str | None, expected: str) -> None:
    assert exception_summary(state, result, traceback) == expected
