"""End to end with real components: a `celery beat` using the database scheduler and a
`celery worker`, on Redis and the database of the current pass; the reconciler applies
YAML while beat keeps running."""
from __future__ import annotations

import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.processes import REPO, Stack, live_stack, wait_for

pytestmark = [pytest.mark.db_backend, pytest.mark.services]

SCHEDULER = "reconciler.scheduler:ReconcilingScheduler"
HEARTBEAT = """tasks:
  heartbeat:
    task: project.tasks.heartbeat
    every: 1s
    kwargs: {{label: {label}}}
{extra}"""
HOURLY = """  hourly:
    task: project.tasks.cleanup_sessions
    every: 1h
"""
ONE_OFF = """  once:
    task: project.tasks.heartbeat
    at: "{at}"
    kwargs: {{label: once}}
"""


def declare(stack: Stack, text: str) -> None:
    (stack.schedules / "live.yaml").write_text(text)


def apply(stack: Stack) -> str:
    result = stack.manage("reconcile", "apply")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout


def labels(stack: Stack) -> list[str]:
    return [run["label"] for run in stack.runs("heartbeat")]


def test_beat_and_worker_follow_the_declarations(tmp_path: Path, redis_broker: str) -> None:
    with live_stack(tmp_path, redis_broker) as stack:
        declare(stack, HEARTBEAT.format(label="v1", extra=HOURLY))
        apply(stack)
        stack.start_worker()
        stack.start_beat(scheduler=SCHEDULER)
        assert wait_for(lambda: labels(stack).count("v1") >= 2, timeout=60), stack.log("beat").read_text()[-3000:]

        declare(stack, HEARTBEAT.format(label="v2", extra=HOURLY))
        apply(stack)
        assert wait_for(lambda: "v2" in labels(stack), timeout=30), "beat did not pick up the changed args"
        assert stack.processes["beat"].poll() is None  # no restart was needed

        declare(stack, "tasks:\n" + HOURLY)
        apply(stack)
        time.sleep(3)  # a send already in flight may still land
        settled = len(labels(stack))
        time.sleep(4)
        assert len(labels(stack)) == settled, "the deleted declaration kept running"


def test_a_one_off_runs_exactly_once_across_applies_and_a_beat_restart(tmp_path: Path, redis_broker: str) -> None:
    with live_stack(tmp_path, redis_broker) as stack:
        moment = datetime.now(UTC) + timedelta(seconds=6)
        declare(stack, "tasks:\n" + HOURLY + ONE_OFF.format(at=moment.isoformat()))
        stack.start_worker()  # no apply: the scheduler applies the declarations when beat starts
        stack.start_beat(scheduler=SCHEDULER)
        assert wait_for(lambda: stack.runs("heartbeat"), timeout=60), stack.log("beat").read_text()[-3000:]
        time.sleep(3)
        assert len(stack.runs("heartbeat")) == 1
        out = apply(stack)
        assert "nothing to do" in out, out  # completion is not drift: not re-armed
        stack.stop("beat")
        stack.start_beat("beat2", SCHEDULER)
        time.sleep(8)
        assert len(stack.runs("heartbeat")) == 1


@pytest.mark.only_backend("sqlite")  # the watcher process alone; on PostgreSQL: the outage tests' watchers
def test_the_watcher_applies_edits_and_survives_an_invalid_one(tmp_path: Path, redis_broker: str) -> None:
    with live_stack(tmp_path, redis_broker) as stack:
        declare(stack, HEARTBEAT.format(label="w1", extra=""))
        stack.start("watch", sys.executable, str(REPO / "manage.py"), "reconcile", "watch")
        watch_log = stack.log("watch")
        assert wait_for(lambda: "applied: +1" in watch_log.read_text(), timeout=30), watch_log.read_text()

        declare(stack, HEARTBEAT.format(label="w2", extra=""))
        assert wait_for(lambda: "applied: +0 ~1 -0" in stack.log("watch").read_text(), timeout=15)

        declare(stack, "tasks:\n  heartbeat:\n    task: project.tasks.heartbeat\n    every: never\n")
        assert wait_for(lambda: "error[bad-duration]" in stack.log("watch").read_text(), timeout=15)
        assert stack.processes["watch"].poll() is None
        declare(stack, HEARTBEAT.format(label="w2", extra=""))
        time.sleep(1.5)
        assert stack.log("watch").read_text().count("applied:") == 2  # the invalid edit changed nothing

        declare(stack, HEARTBEAT.format(label="w3", extra=""))
        assert wait_for(lambda: stack.log("watch").read_text().count("applied:") == 3, timeout=15)
        stack.stop("watch", signal.SIGTERM)
        assert "stopped" in stack.log("watch").read_text()


def beats_sending(stack: Stack, names: tuple[str, ...]) -> list[str]:
    return [name for name in names if "acquired the beat lock" in stack.log(name).read_text()]


def test_two_beats_one_schedules_and_the_standby_takes_over_without_double_fire(
    tmp_path: Path, redis_broker: str
) -> None:
    with live_stack(tmp_path, redis_broker) as stack:
        declare(stack, HEARTBEAT.format(label="ha", extra="").replace("every: 1s", "every: 2s"))
        stack.start_worker()
        stack.start_beat("beat-a", SCHEDULER)
        stack.start_beat("beat-b", SCHEDULER)
        names = ("beat-a", "beat-b")
        assert wait_for(lambda: len(stack.runs("heartbeat")) >= 3, timeout=60), stack.log("beat-a").read_text()[-2000:]
        [active] = beats_sending(stack, names)
        standby = next(name for name in names if name != active)
        first = len(stack.runs("heartbeat"))
        time.sleep(10)
        sent = len(stack.runs("heartbeat")) - first
        assert 3 <= sent <= 7, f"{sent} runs in 10 s of an every-2s task: a double fire" if sent > 7 else sent
        assert "Sending due task" not in stack.log(standby).read_text(), "the standby sent while the lock was held"

        stack.stop(active, signal.SIGKILL)
        # The timeout bounds the wait only; the takeover's duration is a figure of bench/failover.py.
        assert wait_for(lambda: "acquired the beat lock" in stack.log(standby).read_text(), timeout=30), \
            stack.log(standby).read_text()[-2000:]
        before = len(stack.runs("heartbeat"))
        time.sleep(10)
        after = len(stack.runs("heartbeat")) - before
        assert 3 <= after <= 7, after
        assert "Sending due task heartbeat" in stack.log(standby).read_text(), "the runs came from the new holder"


POPULATE_3000 = """
from datetime import UTC, datetime, timedelta
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask
n = 1000
intervals = IntervalSchedule.objects.bulk_create([IntervalSchedule(every=3600 + i, period="seconds") for i in range(n)])
crontabs = CrontabSchedule.objects.bulk_create(
    [CrontabSchedule(minute=str(i % 60), hour=str((i // 60) % 24), day_of_month="1") for i in range(n)])
start = datetime.now(UTC) + timedelta(days=30)
clockeds = ClockedSchedule.objects.bulk_create(
    [ClockedSchedule(clocked_time=start + timedelta(minutes=i)) for i in range(n)])
PeriodicTask.objects.bulk_create([
    PeriodicTask(name=f"{kind}-{i}", task="project.tasks.cleanup_sessions", one_off=kind == "clocked", **{kind: row})
    for kind, rows in (("interval", intervals), ("crontab", crontabs), ("clocked", clockeds))
    for i, row in enumerate(rows)
], batch_size=500)
"""


def test_beat_starts_on_3000_distinct_schedules_and_sends_a_due_task(tmp_path: Path, redis_broker: str) -> None:
    with live_stack(tmp_path, redis_broker) as stack:
        populated = stack.manage("shell", "-c", POPULATE_3000)
        assert populated.returncode == 0, populated.stderr
        declare(stack, HEARTBEAT.format(label="big", extra=""))
        stack.start_worker()
        stack.start_beat(scheduler=SCHEDULER)
        assert wait_for(lambda: "big" in labels(stack), timeout=60), stack.log("beat").read_text()[-3000:]
        assert "loaded 3001 schedule entries" in stack.log("beat").read_text()


# The watcher thread writes beside beat's own connection: SQLite's single writer is the risk;
# beat woken on PostgreSQL is test_beat_and_worker_follow_the_declarations and tests/db/test_wakeup_live.py.
@pytest.mark.only_backend("sqlite")
def test_beat_can_watch_the_folder_itself(tmp_path: Path, redis_broker: str) -> None:
    with live_stack(tmp_path, redis_broker, RECONCILER_BEAT_WATCH="1") as stack:
        declare(stack, HEARTBEAT.format(label="inside-1", extra=""))
        stack.start_worker()
        stack.start_beat(scheduler=SCHEDULER)
        assert wait_for(lambda: "inside-1" in labels(stack), timeout=60), stack.log("beat").read_text()[-3000:]
        declare(stack, HEARTBEAT.format(label="inside-2", extra=""))  # no apply, no restart
        assert wait_for(lambda: "inside-2" in labels(stack), timeout=30), stack.log("beat").read_text()[-3000:]


@pytest.mark.only_backend("postgresql")  # an outage of a database server (SQLite has no server)
def test_the_watcher_rides_out_a_database_outage(tmp_path: Path, redis_broker: str) -> None:
    from tests.support.tcp_proxy import Proxy

    with live_stack(tmp_path, redis_broker) as stack:
        proxy = Proxy(("127.0.0.1", 5432))
        proxy.start()
        stack.env["DATABASE_URL"] = stack.env["DATABASE_URL"].replace(":5432/", f":{proxy.port}/")
        declare(stack, HEARTBEAT.format(label="o1", extra=""))
        stack.start("watch", sys.executable, str(REPO / "manage.py"), "reconcile", "watch")
        watch_log = stack.log("watch")
        assert wait_for(lambda: "applied: +1" in watch_log.read_text(), timeout=30), watch_log.read_text()

        proxy.stop()
        declare(stack, HEARTBEAT.format(label="o2", extra=""))
        assert wait_for(lambda: "retrying in" in watch_log.read_text(), timeout=30), watch_log.read_text()
        time.sleep(2)
        assert stack.processes["watch"].poll() is None  # still running, retrying with backoff
        proxy.start()
        assert wait_for(lambda: "applied: +0 ~1 -0" in watch_log.read_text(), timeout=60), watch_log.read_text()
        proxy.stop()


PULSE = """tasks:
  pulse:
    task: project.tasks.heartbeat
    every: 1s
    kwargs: {{label: pulse}}
    scheduled_time_kwarg: slot
{extra}"""


def test_applies_reload_only_the_changed_rows_and_the_pulse_keeps_its_slots(tmp_path: Path, redis_broker: str) -> None:
    """A real apply (its bulk UPDATE, stamped with its clock, then the marker) read by a real
    beat, woken by PostgreSQL's NOTIFY or its SQLite poll: an edit, an addition and a deletion
    each merged without a full load, and the every-second task runs every slot, on time."""
    with live_stack(tmp_path, redis_broker) as stack:
        declare(stack, PULSE.format(extra=HOURLY))
        apply(stack)
        stack.start_worker()
        stack.start_beat(scheduler=SCHEDULER)
        slots = lambda: sorted(run["extra"]["slot"] for run in stack.runs("heartbeat") if run["label"] == "pulse")  # noqa: E731
        assert wait_for(lambda: len(slots()) >= 2, timeout=60), stack.log("beat").read_text()[-3000:]
        started, before = time.time(), len(stack.log("beat").read_text())
        for extra in (HOURLY.replace("every: 1h", "every: 2h"), HOURLY + ONE_OFF.format(at="2031-01-01T00:00:00Z"), ""):
            declare(stack, PULSE.format(extra=extra))
            apply(stack)
            time.sleep(1.5)
        time.sleep(1.5)
        beat = stack.log("beat").read_text()[before:]
        assert beat.count("reloaded ") >= 3 and beat.count("loaded ") == beat.count("reloaded "), beat[-3000:]
        runs = [run for run in stack.runs("heartbeat") if run["label"] == "pulse"
                and datetime.fromisoformat(run["extra"]["slot"]).timestamp() > started]
        seconds = sorted(int(datetime.fromisoformat(run["extra"]["slot"]).timestamp()) for run in runs)
        assert seconds == list(range(seconds[0], seconds[0] + len(seconds))) and len(seconds) >= 5, seconds
        late = [(datetime.fromisoformat(run["at"]) - datetime.fromisoformat(run["extra"]["slot"])).total_seconds()
                for run in runs]
        assert max(late) < 1.0, late
