"""Failing by runs in a row: the pure rule over a table of histories, and the newest runs of
many schedules read in one window-function query (SQLite and PostgreSQL)."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from celery import states

from reconciler.core.monitor import Monitor
from reconciler.observe.streaks import failing_by_streaks, newest_outcomes, read_streaks, window
from tests.support.engine import NOW, apply_yaml
from tests.support.observe import record_run

F, S, R = states.FAILURE, states.SUCCESS, states.REVOKED


@pytest.mark.parametrize(
    ("oldest_first", "failure_threshold", "recovery_threshold", "failing"),
    [
        ("", 1, 1, False),
        ("F", 1, 1, True),
        ("FS", 1, 1, False),
        ("SF", 1, 1, True),
        ("FF", 3, 1, False),
        ("FFS", 3, 1, False),
        ("FFF", 3, 1, True),
        ("FFR", 3, 1, True),  # revoked is a failure (Celery's PROPAGATE_STATES)
        ("FFFS", 3, 1, False),
        ("FFFS", 3, 2, True),  # recovering: one success of two
        ("FFFSS", 3, 2, False),
        ("FFFSFS", 3, 2, True),  # a failure restarts the recovery, without being three in a row
        ("FFSFFSFFS", 3, 2, False),  # never three failures in a row: never failing
        ("SSFF", 3, 2, False),
        ("FF", 2, 3, True),
        ("FFSSFF", 2, 3, True),
        ("FFSSS", 2, 3, False),
    ],
    ids=lambda value: str(value),
)
def test_failing_by_streaks(oldest_first: str, failure_threshold: int, recovery_threshold: int, failing: bool) -> None:
    outcomes = [{"F": F, "S": S, "R": R}[c] for c in reversed(oldest_first)]
    assert failing_by_streaks(outcomes, failure_threshold, recovery_threshold) is failing


def test_every_prefix_of_two_failures_then_a_success_with_a_threshold_of_three_is_not_failing() -> None:
    history = [F, F, S]
    assert not any(failing_by_streaks(list(reversed(history[:n])), 3, 1) for n in range(len(history) + 1))


def test_the_window_holds_a_whole_streak_of_each_kind_twice() -> None:
    assert window(3, 2) == 10
    assert window(1, 1) == 4


YAML = "tasks:\n" + "".join(
    f"  job-{i}:\n    task: project.tasks.flaky\n    every: 10m\n" for i in range(3)
)


@pytest.mark.django_db
@pytest.mark.db_backend
def test_the_newest_finished_runs_of_many_schedules_in_one_query(
    tmp_path: Path, django_assert_num_queries,  # type: ignore[no-untyped-def]
) -> None:
    apply_yaml(tmp_path, YAML)
    for n in range(6):  # job-0: F S F S F S (oldest first), then one still running
        record_run("job-0", "project.tasks.flaky", F if n % 2 == 0 else S, NOW + timedelta(minutes=n))
    record_run("job-0", "project.tasks.flaky", states.STARTED, NOW + timedelta(minutes=7))
    for n in range(3):
        record_run("job-1", "project.tasks.flaky", F, NOW + timedelta(minutes=n))
    same = NOW + timedelta(minutes=9)  # two runs at the same moment: the later stored counts as newer
    for state in (S, F):
        record_run("job-2", "project.tasks.flaky", state, same)
    with django_assert_num_queries(1):
        found = newest_outcomes({"job-0": 4, "job-1": 2, "job-2": 5, "nothing": 3})
    assert found == {"job-0": (S, F, S, F), "job-1": (F, F), "job-2": (F, S)}
    with django_assert_num_queries(1):
        verdicts = read_streaks({"job-1": Monitor(failure_threshold=3), "job-2": Monitor(failure_threshold=2),
                                 "nothing": Monitor(failure_threshold=2)})
    assert verdicts == {"job-1": True, "job-2": False, "nothing": False}
