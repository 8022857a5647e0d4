"""The run-time policies end to end (docs/policies.md): a real `celery beat` with our scheduler,
real workers (prefork pools of several processes, several workers), Redis, the database of the
current pass. The demo task ``project.tasks.long_running`` writes a line when it starts and one
when it ends, with the slot it serves (the ``scheduled_time`` header, and ``as_of`` where a
``scheduled_time_kwarg`` names it); the run state is read from the tables beat and the workers
write (``RunLease``, ``SkippedRun``, ``SkipTotal``). Schedules run every second or two: each
test lasts seconds, not minutes.

Each test runs in one of the two passes (``only_backend``), both backends getting some: the
run state is the same code on both, and the whole file twice would take six minutes of the
suite's fifteen. PostgreSQL takes those where its own machinery acts (the finish's NOTIFY that
sends a held run at once, the advisory-lock failover); SQLite the rest."""
from __future__ import annotations

import json
import signal
import sqlite3
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.policy import Policy
from tests.support.processes import CELERY, Stack, live_stack, wait_for

pytestmark = [pytest.mark.db_backend, pytest.mark.services]

ANCHOR = "2026-01-01T00:00:00+00:00"  # a past start_time: interval slots fall on whole multiples of `every`
TOLERANCE = 1.0  # seconds between a send and the worker's start line, on a loaded machine


def declaration(name: str, *, every: str = "1s", seconds: float = 0.0, **options: str) -> str:
    lines = [f"  {name}:", "    task: project.tasks.long_running", f"    every: {every}",
             f"    kwargs: {{seconds: {seconds}, label: {name}}}"]
    lines += [f"    {key}: {value}" for key, value in options.items()]
    return "\n".join(lines) + "\n"


def declare(stack: Stack, *declarations: str) -> None:
    (stack.schedules / "policies.yaml").write_text("tasks:\n" + "".join(declarations))


def apply(stack: Stack) -> None:
    result = stack.manage("reconcile", "apply")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def start_pool_worker(stack: Stack, name: str, concurrency: int) -> None:
    """A worker as most deployments run one: a prefork pool of ``concurrency`` processes."""
    stack.start(
        name, CELERY, "-A", "project", "worker", "-l", "info", "--pool", "prefork", "-c", str(concurrency),
        "--without-heartbeat", "--without-gossip", "--without-mingle", "-n", f"{name}@%h",
    )


@dataclass(frozen=True)
class Run:
    task_id: str
    slot: datetime  # the scheduled_time header
    as_of: str | None  # the scheduled_time keyword, where declared
    worker: str
    started: datetime
    ended: datetime | None  # None: still running, or its worker was killed


def moment(text: str | None) -> datetime:
    assert text, "a run without a scheduled_time header: not sent by our scheduler"
    return datetime.fromisoformat(text).astimezone(UTC)


def runs(stack: Stack, name: str) -> list[Run]:
    """The runs of one schedule the workers recorded, in the order they started."""
    lines = [line for line in stack.runs("long_running") if line["label"] == name]
    ends = {line["task_id"]: moment(line["at"]) for line in lines if line["phase"] == "end"}
    found = [
        Run(line["task_id"], moment(line["scheduled_time"]), line["as_of"], line["worker"], moment(line["at"]),
            ends.get(line["task_id"]))
        for line in lines if line["phase"] == "start"
    ]
    return sorted(found, key=lambda run: run.started)


def finished(found: Sequence[Run]) -> list[Run]:
    return [run for run in found if run.ended is not None]


def overlaps(found: Sequence[Run]) -> list[tuple[Run, Run]]:
    """Pairs of runs of which the second started before the first ended."""
    return [(a, b) for a, b in pairwise(found) if a.ended is None or b.started < a.ended]


def query(stack: Stack, sql: str) -> list[tuple[Any, ...]]:
    """Rows of the stack's database, read as another process would (no Django in between)."""
    url = stack.env["DATABASE_URL"]
    if url.startswith("sqlite:///"):
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"), timeout=20)) as conn:
            return conn.execute(sql).fetchall()
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()  # type: ignore[arg-type]


def as_utc(value: Any) -> datetime | None:
    if value is None or (isinstance(value, datetime) and value.tzinfo is not None):
        return value
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC)  # SQLite: Django stores UTC without an offset


@dataclass(frozen=True)
class Skip:
    reason: str
    slot: datetime  # the latest slot not sent
    first_slot: datetime  # the earliest
    count: int
    at: datetime  # the moment beat decided: for a catch-up, its first evaluation of the schedule

    def slots(self, every: timedelta) -> list[datetime]:
        return [self.first_slot + i * every for i in range(self.count)]


def skips(stack: Stack, name: str, reason: str) -> list[Skip]:
    rows = query(stack, f"SELECT reason, slot, first_slot, count, at FROM reconciler_skippedrun "
                        f"WHERE name = '{name}' AND reason = '{reason}'")
    found = [Skip(r, as_utc(s), as_utc(f) or as_utc(s), int(c), as_utc(a))  # type: ignore[arg-type]
             for r, s, f, c, a in rows]
    return sorted(found, key=lambda skip: skip.slot)


def skip_total(stack: Stack, name: str, reason: str) -> int:
    rows = query(stack, f"SELECT total FROM reconciler_skiptotal WHERE name = '{name}' AND reason = '{reason}'")
    return int(rows[0][0]) if rows else 0


def tail(stack: Stack, *names: str) -> str:
    return "\n".join(f"--- {name}\n{stack.log(name).read_text()[-2500:]}" for name in names)


# --- overlap -------------------------------------------------------------------------------------

def assert_one_at_a_time_with_skips(stack: Stack, name: str, at_least: int) -> list[Run]:
    found = runs(stack, name)
    assert not overlaps(found), overlaps(found)
    recorded = skips(stack, name, "overlap")
    assert sum(skip.count for skip in recorded) >= at_least, recorded
    assert skip_total(stack, name, "overlap") == sum(skip.count for skip in recorded)  # the counter agrees
    return found


@pytest.mark.only_backend("sqlite")
def test_overlap_skip_never_runs_two_at_once_and_records_the_skips(tmp_path: Path, redis_broker: str) -> None:
    with live_stack(tmp_path, redis_broker) as stack:
        declare(stack, declaration("sync", seconds=2.5, overlap="skip", max_runtime="30s", catchup="skip"))
        apply(stack)
        start_pool_worker(stack, "worker", concurrency=3)  # room for three runs at once: only beat holds back
        stack.start_beat()
        assert wait_for(lambda: len(finished(runs(stack, "sync"))) >= 3, timeout=60), tail(stack, "beat", "worker")
        found = assert_one_at_a_time_with_skips(stack, "sync", at_least=3)
        gaps = {(b.slot - a.slot) % timedelta(seconds=1) for a, b in pairwise(found)}
        assert gaps == {timedelta(0)}, "each run carries its slot (whole periods apart), not beat's clock"


@pytest.mark.only_backend("postgresql")
def test_queue_one_holds_one_run_and_sends_it_when_the_running_one_ends(tmp_path: Path, redis_broker: str) -> None:
    with live_stack(tmp_path, redis_broker) as stack:
        declare(stack, declaration("report", seconds=2.5, overlap="queue_one", max_runtime="30s", catchup="skip"))
        apply(stack)
        start_pool_worker(stack, "worker", concurrency=3)
        stack.start_beat()
        assert wait_for(lambda: len(finished(runs(stack, "report"))) >= 4, timeout=60), tail(stack, "beat", "worker")
        found = assert_one_at_a_time_with_skips(stack, "report", at_least=1)  # a second one waiting is a skip
        for running, held in pairwise(found):
            assert running.ended is not None
            assert held.slot < running.ended, "the next run's slot came due while the previous one ran: it was held"
            # PostgreSQL: the worker's NOTIFY wakes beat; SQLite: beat polls every second while a run is held.
            assert (held.started - running.ended).total_seconds() < 1.5 + TOLERANCE, (running, held)


@pytest.mark.only_backend("postgresql")
def test_overlap_skip_holds_across_two_workers_of_two_processes(tmp_path: Path, redis_broker: str) -> None:
    with live_stack(tmp_path, redis_broker) as stack:
        declare(stack, declaration("ingest", seconds=2.5, overlap="skip", max_runtime="30s", catchup="skip"))
        apply(stack)
        start_pool_worker(stack, "worker-a", concurrency=2)
        start_pool_worker(stack, "worker-b", concurrency=2)
        stack.start_beat()
        assert wait_for(lambda: len(finished(runs(stack, "ingest"))) >= 3, timeout=60), \
            tail(stack, "beat", "worker-a", "worker-b")
        assert_one_at_a_time_with_skips(stack, "ingest", at_least=3)


@pytest.mark.only_backend("postgresql")
def test_a_run_killed_with_its_worker_blocks_the_schedule_until_max_runtime(tmp_path: Path, redis_broker: str) -> None:
    with live_stack(tmp_path, redis_broker) as stack:
        declare(stack, declaration("export", seconds=20, overlap="skip", max_runtime="4s", catchup="skip"))
        apply(stack)
        stack.start_worker("worker-a")
        stack.start_worker("worker-b")  # idle while the other runs: it takes the next run at once
        stack.start_beat()
        assert wait_for(lambda: runs(stack, "export"), timeout=60), tail(stack, "beat", "worker-a", "worker-b")
        killed = runs(stack, "export")[0]
        victim = killed.worker.split("@")[0]
        stack.stop(victim, signal.SIGKILL)  # no signal of the worker fires: the lease stays
        assert wait_for(lambda: len(runs(stack, "export")) >= 2, timeout=30), \
            tail(stack, "beat", "worker-a", "worker-b")
        resumed = runs(stack, "export")[1]
        assert runs(stack, "export")[0].ended is None and resumed.worker != killed.worker
        blocked = (resumed.started - killed.started).total_seconds()
        # The lease expires max_runtime after the run started; the next slot is at most a second later.
        assert 4 - 0.5 <= blocked <= 4 + 1 + TOLERANCE, blocked
        assert sum(skip.count for skip in skips(stack, "export", "overlap")) >= 2  # the slots of the block


# --- catch-up ------------------------------------------------------------------------------------

CATCHING_UP = {"skip": 0, "once": 1, "all": 3}  # runs sent for the missed slots (`all`: catchup_max 3)


@pytest.mark.only_backend("postgresql")
def test_beat_down_for_several_slots_then_started_sends_what_each_catchup_policy_says(
    tmp_path: Path, redis_broker: str
) -> None:
    every = timedelta(seconds=2)
    names = {policy: f"catchup-{policy}" for policy in CATCHING_UP}
    with live_stack(tmp_path, redis_broker) as stack:
        declare(stack, *(
            declaration(name, every="2s", start_time=f'"{ANCHOR}"', catchup=policy, scheduled_time_kwarg="as_of",
                        **({"catchup_max": "3"} if policy == "all" else {}))
            for policy, name in names.items()
        ))
        apply(stack)
        stack.start_worker()
        stack.start_beat("beat-1")
        assert wait_for(lambda: all(len(runs(stack, n)) >= 2 for n in names.values()), timeout=60), \
            tail(stack, "beat-1", "worker")
        stack.stop("beat-1")
        time.sleep(9)  # four or five slots of each schedule pass with no beat
        restarted = datetime.now(UTC)
        stack.start_beat("beat-2")

        def caught_up() -> bool:
            return all(len([r for r in runs(stack, n) if r.started > restarted]) >= max(4, CATCHING_UP[p] + 2)
                       for p, n in names.items())

        assert wait_for(caught_up, timeout=60), tail(stack, "beat-2")
        for policy, name in names.items():
            found = runs(stack, name)
            assert all(run.as_of == run.slot.isoformat() for run in found), found  # the keyword is the header
            slots = [run.slot for run in found]
            assert len(slots) == len(set(slots)), f"{name}: a slot sent twice: {sorted(slots)}"
            last_before = max(run.slot for run in found if run.started < restarted)
            after = sorted((run for run in found if run.slot > last_before), key=lambda run: run.slot)
            dropped = [skip for skip in skips(stack, name, "catchup") if skip.slot > last_before]
            assert len(dropped) == 1, (name, dropped)
            [drop] = dropped
            # The missed slots are exactly: the dropped ones, then the ones sent to catch up.
            assert drop.first_slot == last_before + every, (name, drop, last_before)
            assert drop.slot == drop.first_slot + (drop.count - 1) * every, (name, drop)
            assert [run.slot for run in after[:4]] == [drop.slot + i * every for i in range(1, 5)], (name, after)
            # drop.at is the first evaluation's moment: the missed slots are the ones due then.
            catching_up, regular = after[:CATCHING_UP[policy]], after[CATCHING_UP[policy]]
            assert all(run.slot <= drop.at for run in catching_up), (name, drop, catching_up)
            assert regular.slot > drop.at, (name, "a missed slot was sent beyond the policy's count", drop, regular)
            assert all((run.started - drop.at).total_seconds() < TOLERANCE for run in catching_up), \
                (name, "the catch-up runs are sent at the first evaluation", drop, catching_up)
            assert [run.started for run in catching_up] == sorted(run.started for run in catching_up)  # oldest first
            assert (regular.started - regular.slot).total_seconds() < TOLERANCE, (name, "sent at its slot", regular)


# --- start_time in the past: the first send is the predicted one -----------------------------------

def status(stack: Stack) -> dict[str, dict[str, Any]]:
    result = stack.manage("reconcile", "status", "--format", "json")
    assert result.returncode in (0, 1), result.stdout[-2000:] + result.stderr[-2000:]
    return {entry["name"]: entry for entry in json.loads(result.stdout)["schedules"]}


def forecast_busiest(stack: Stack) -> dict[str, Any]:
    result = stack.manage("reconcile", "forecast", "--format", "json", "--hours", "24")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads(result.stdout)["busiest"][0]


PAST = '"2020-01-01T00:00:00+00:00"'
SOLAR = '\n    solar: {event: dusk_civil, latitude: 48.8566, longitude: 2.3522}'


def cron_prediction(predicted: datetime, applied: datetime, asked: datetime) -> datetime:
    """The slot of ``cron: "* * * * *"`` that ``reconcile status`` predicted. Status shows when
    beat sends the next run: the slot while it is ahead; once it has passed unsent (no beat yet),
    "now" in whole seconds, as beat sends it at its next tick (``test_sends``). The minute may
    turn between the apply and the status command (it did in CI): then the prediction is a whole
    second after that minute, and the slot is that minute."""
    assert applied < predicted <= asked + timedelta(minutes=1), (applied, predicted, asked)
    if predicted.second == 0:
        return predicted
    slot = predicted.replace(second=0)
    assert applied < slot < asked and predicted <= asked.replace(microsecond=0) + timedelta(seconds=1), \
        ("a prediction off the minute that is not a due run caught up", applied, predicted, asked)
    return slot


@pytest.mark.only_backend("sqlite")
def test_a_start_time_in_the_past_first_runs_at_the_predicted_slot(tmp_path: Path, redis_broker: str) -> None:
    """The demo's surprise: a row with a past start_time was sent when beat started, whatever
    its schedule, while every prediction showed its next slot."""
    # Slots every 30 s from a start_time years back, the next one 25 s ahead: beat has time to
    # start before it (a slot already past when beat starts would be caught up, late).
    slot = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=25)
    with live_stack(tmp_path, redis_broker) as stack:
        declare(
            stack,
            declaration("past-interval", every="30s", start_time=f'"{(slot - timedelta(days=2000)).isoformat()}"'),
            declaration("past-cron", start_time=PAST).replace("every: 1s", 'cron: "* * * * *"\n    timezone: UTC'),
            declaration("past-solar", start_time=PAST).replace("\n    every: 1s", SOLAR),
        )
        applied = datetime.now(UTC)
        apply(stack)
        shown = {name: entry for name, entry in status(stack).items() if name.startswith("past-")}
        assert all(entry["next_run_at"] for entry in shown.values()), ("a schedule without a next run", shown)
        predicted = {name: moment(entry["next_run_at"]) for name, entry in shown.items()}
        asked = datetime.now(UTC)
        assert all(when > applied for when in predicted.values()), ("a slot before the row existed", predicted)
        assert predicted["past-interval"] == slot, (slot, predicted)  # anchored at the start_time
        cron_slot = cron_prediction(predicted["past-cron"], applied, asked)
        # The forecast is computed the same way: the solar run's minute is its busiest (2 + 1 + 1 runs).
        busiest = forecast_busiest(stack)
        assert moment(busiest["minute"]) == predicted["past-solar"].replace(second=0, microsecond=0), busiest
        assert "past-solar" in [s["name"] for s in busiest["schedules"]], busiest

        stack.start_worker()
        stack.start_beat()
        assert wait_for(lambda: runs(stack, "past-interval"), timeout=60), tail(stack, "beat", "worker")
        # The cron's slot is the next minute: checked as run at its slot when it came within the
        # interval's wait (the worker's start line given 3 s), else as not sent yet. Waiting for
        # it every time cost up to a minute of the suite.
        slots = {"past-interval": slot, "past-cron": cron_slot}
        ran = {"past-interval"} | ({"past-cron"} if cron_slot + timedelta(seconds=3) < datetime.now(UTC) else set())
        for name in sorted(ran):
            assert runs(stack, name), (name, "not sent at its slot", slots[name], tail(stack, "beat"))
            first = runs(stack, name)[0]
            assert first.slot == slots[name], (name, first, slots[name], tail(stack, "beat"))
            assert first.started >= slots[name], (name, "sent before its slot: at beat's start-up", first)
        if "past-cron" not in ran:
            assert all(run.started >= cron_slot for run in runs(stack, "past-cron")), \
                "the cron schedule was sent at beat's start-up"
        assert predicted["past-solar"] > datetime.now(UTC)
        assert not runs(stack, "past-solar"), "the solar schedule was sent at beat's start-up"


# --- failover and jitter -----------------------------------------------------------------------------

def jittered_name(jitter: int, offset: int) -> str:
    """A schedule name whose stable jitter offset is ``offset`` seconds (visible, not 0)."""
    return next(f"pulse-{i}" for i in range(1000)
                if Policy(jitter=jitter).jitter_offset(f"pulse-{i}") == timedelta(seconds=offset))


def holder(stack: Stack, names: Sequence[str]) -> str:
    [active] = [name for name in names if "acquired the beat lock" in stack.log(name).read_text()]
    return active


@pytest.mark.only_backend("postgresql")
def test_a_failover_and_a_restart_keep_the_jitter_and_catchup_skip_sends_no_duplicate(
    tmp_path: Path, redis_broker: str
) -> None:
    every, offset = timedelta(seconds=4), timedelta(seconds=2)
    name = jittered_name(jitter=3, offset=2)
    with live_stack(tmp_path, redis_broker) as stack:
        declare(stack, declaration(name, every="4s", start_time=f'"{ANCHOR}"', jitter="3s", catchup="skip"))
        apply(stack)
        stack.start_worker()
        stack.start_beat("beat-a")
        stack.start_beat("beat-b")
        assert wait_for(lambda: len(runs(stack, name)) >= 2, timeout=60), tail(stack, "beat-a", "beat-b")
        active = holder(stack, ("beat-a", "beat-b"))
        standby = "beat-b" if active == "beat-a" else "beat-a"
        stack.stop(active, signal.SIGKILL)
        killed = datetime.now(UTC)
        assert wait_for(lambda: "acquired the beat lock" in stack.log(standby).read_text(), timeout=40), \
            tail(stack, standby)
        assert wait_for(lambda: len([r for r in runs(stack, name) if r.started > killed]) >= 2, timeout=40), \
            tail(stack, standby)
        stack.stop(standby)
        restarted = datetime.now(UTC)
        stack.start_beat("beat-c")
        assert wait_for(lambda: len([r for r in runs(stack, name) if r.started > restarted]) >= 2, timeout=60), \
            tail(stack, "beat-c")

        found = runs(stack, name)
        slots = sorted(run.slot for run in found)
        assert len(slots) == len(set(slots)), f"a slot sent twice: {slots}"
        for run in found:  # on the first replica, on the one that took over, after the restart
            late = (run.started - run.slot - offset).total_seconds()
            assert -0.2 <= late < TOLERANCE, (run, f"sent {late:+.2f}s from its slot + its jitter offset")
        assert any(run.started > killed and run.started < restarted for run in found)  # the standby sent some
        for drop in skips(stack, name, "catchup"):  # a takeover's or the restart's first evaluation
            following = min(slot for slot in slots if slot > drop.slot)
            assert following + offset > drop.at, ("catchup: skip sent a slot missed before", drop, following)
        # Every slot from the first to the last was either sent or dropped by the catch-up: none twice.
        dropped = [slot for skip in skips(stack, name, "catchup") for slot in skip.slots(every)]
        expected = [slots[0] + i * every for i in range(int((slots[-1] - slots[0]) / every) + 1)]
        assert sorted(set(slots) | {s for s in dropped if slots[0] <= s <= slots[-1]}) == expected, (slots, dropped)
