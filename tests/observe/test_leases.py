"""The tracked run of a schedule: running long by the pure rule, and every lease read from a
real database with the policy applied now, in one query."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from reconciler.observe.leases import RunState, is_running_long, read_runs
from tests.support.engine import NOW, apply_yaml
from tests.support.observe import set_policy, track_run

MIN = timedelta(minutes=1)


def run(sent: int, started: int | None = None, finished: int | None = None, max_runtime: int | None = 600) -> RunState:
    """A run sent (started, finished) that many minutes before NOW."""

    def ago(minutes: int | None) -> datetime | None:
        return None if minutes is None else NOW - minutes * MIN

    return RunState(
        task_id="t1", scheduled_time=NOW - sent * MIN, sent_at=NOW - sent * MIN, started_at=ago(started),
        finished_at=ago(finished), expires_at=NOW, outcome="", pending_slot=None, max_runtime=max_runtime,
    )


@pytest.mark.parametrize(
    ("tracked", "state", "long"),
    [
        (run(sent=5), "queued", False),
        (run(sent=11), "queued", True),  # no worker took it for longer than max_runtime
        (run(sent=30, started=9), "running", False),  # queued long, started 9 minutes ago: counted from the start
        (run(sent=30, started=11), "running", True),
        (run(sent=30, started=29, finished=1), "finished", False),
        (run(sent=30, started=29, max_runtime=None), "running", False),  # the policy has no max_runtime now
        (run(sent=10), "queued", False),  # exactly max_runtime: not yet longer
    ],
    ids=["queued", "queued-long", "running", "running-long", "finished", "no-max-runtime", "at-the-limit"],
)
def test_running_long(tracked: RunState, state: str, long: bool) -> None:
    assert tracked.state == state
    assert is_running_long(tracked, NOW) is long
    assert tracked.at(NOW).running_long is long and tracked.at(NOW).to_json()["running_long"] is long


YAML = """tasks:
  sync:
    task: project.tasks.heartbeat
    every: 15m
  report:
    task: project.tasks.heartbeat
    every: 1h
"""


@pytest.mark.django_db
@pytest.mark.db_backend
def test_every_tracked_run_with_its_policy_in_one_query(tmp_path: Path, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    apply_yaml(tmp_path, YAML)
    set_policy("sync", overlap="skip", max_runtime=600)
    set_policy("report", max_runtime=3600)
    sync_id = track_run("sync", NOW - 20 * MIN, started=NOW - 19 * MIN, pending=NOW - 5 * MIN)
    track_run("report", NOW - 20 * MIN, started=NOW - 19 * MIN, max_runtime=3600)
    track_run("gone", NOW - 20 * MIN)  # a lease left by a schedule deleted since: no policy, never running long
    with django_assert_num_queries(1):
        found = read_runs(None, NOW)
    assert sorted(found) == ["gone", "report", "sync"]
    assert (found["sync"].state, found["sync"].task_id, found["sync"].max_runtime) == ("running", sync_id, 600)
    assert found["sync"].running_long and found["sync"].pending_slot == NOW - 5 * MIN
    assert (found["report"].running_long, found["report"].max_runtime) == (False, 3600)
    assert (found["gone"].running_long, found["gone"].max_runtime) == (False, None)
    assert list(read_runs(["sync", "nope"], NOW)) == ["sync"]
    set_policy("sync", overlap="allow")  # max_runtime removed by a later apply: the run is no longer judged
    assert not read_runs(["sync"], NOW)["sync"].running_long
