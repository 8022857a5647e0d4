"""The watcher's own behaviour on a real folder with real file events: debounce, retry
with backoff, clean stop. (Applying for real is covered end to end in test_live.)"""
from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

from reconciler.core.errors import DatabaseUnavailable
from reconciler.declare.watch import WatchOptions, watch


class Recorder:
    def __init__(self, failures: int = 0) -> None:
        self.calls: list[float] = []
        self.failures = failures

    def __call__(self) -> None:
        self.calls.append(time.monotonic())
        if self.failures:
            self.failures -= 1
            raise DatabaseUnavailable("connection refused")


def start(folder: Path, recorder: Recorder, **options: float) -> tuple[threading.Event, threading.Thread]:
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(
        target=watch, args=([folder], recorder),
        kwargs={"stop": stop, "options": WatchOptions(**options), "on_ready": ready.set}, daemon=True,
    )
    thread.start()
    assert ready.wait(10)
    return stop, thread


def wait_for(predicate, timeout: float = 10) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_a_burst_of_events_is_one_reconcile(tmp_path: Path) -> None:
    recorder = Recorder()
    stop, thread = start(tmp_path, recorder, debounce=0.3)
    assert len(recorder.calls) == 1  # the initial reconcile
    target = tmp_path / "a.yaml"
    for i in range(5):  # what an editor does: temp file, write, rename over, chmod
        temp = tmp_path / f".a.yaml.swp{i}"
        temp.write_text(f"tasks: {{}}  # {i}\n")
        temp.replace(target)
        target.chmod(0o644)
        time.sleep(0.02)
    assert wait_for(lambda: len(recorder.calls) == 2)
    time.sleep(0.6)
    assert len(recorder.calls) == 2
    stop.set()
    thread.join(5)
    assert not thread.is_alive()


def test_unrelated_files_do_not_trigger(tmp_path: Path) -> None:
    recorder = Recorder()
    stop, thread = start(tmp_path, recorder, debounce=0.1)
    (tmp_path / "notes.txt").write_text("x")
    time.sleep(0.5)
    assert len(recorder.calls) == 1
    stop.set()
    thread.join(5)


def test_database_outage_is_retried_with_backoff(tmp_path: Path) -> None:
    recorder = Recorder(failures=3)
    stop, thread = start(tmp_path, recorder, backoff_initial=0.05, backoff_max=1.0)
    assert len(recorder.calls) == 4
    gaps = [b - a for a, b in zip(recorder.calls, recorder.calls[1:], strict=False)]
    assert gaps[0] < gaps[1] < gaps[2]
    stop.set()
    thread.join(5)


def test_stop_interrupts_a_backoff(tmp_path: Path) -> None:
    recorder = Recorder(failures=1000)
    stop = threading.Event()
    thread = threading.Thread(
        target=watch, args=([tmp_path], recorder),
        kwargs={"stop": stop, "options": WatchOptions(backoff_initial=5.0)}, daemon=True,
    )
    thread.start()
    assert wait_for(lambda: len(recorder.calls) >= 1)
    stop.set()
    thread.join(2)
    assert not thread.is_alive()


def test_a_crashing_reconcile_is_logged_and_the_watcher_goes_on(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    calls: list[float] = []

    def reconcile() -> None:
        calls.append(time.monotonic())
        if len(calls) == 2:
            raise ZeroDivisionError("a rule crashed")

    stop, thread = start(tmp_path, reconcile, debounce=0.05)  # type: ignore[arg-type]
    (tmp_path / "a.yaml").write_text("tasks: {}\n")
    assert wait_for(lambda: len(calls) == 2)
    time.sleep(0.2)
    assert thread.is_alive() and "a rule crashed" in caplog.text
    (tmp_path / "a.yaml").write_text("tasks: {} # again\n")
    assert wait_for(lambda: len(calls) == 3)
    stop.set()
    thread.join(5)


def test_a_reconcile_asking_to_run_again_is_called_again_then(tmp_path: Path) -> None:
    calls: list[float] = []

    def reconcile() -> float | None:
        calls.append(time.monotonic())
        return 0.5 if len(calls) == 1 else None

    stop, thread = start(tmp_path, reconcile, debounce=0.05)  # type: ignore[arg-type]
    assert wait_for(lambda: len(calls) == 2, timeout=5)
    assert calls[1] - calls[0] >= 0.45, "called again before the delay it asked for"
    time.sleep(0.8)
    assert len(calls) == 2
    stop.set()
    thread.join(5)


def test_a_removed_folder_is_waited_for_and_followed_again_when_recreated(tmp_path: Path) -> None:
    folder = tmp_path / "schedules"
    folder.mkdir()
    recorder = Recorder()
    stop, thread = start(folder, recorder, debounce=0.05)
    shutil.rmtree(folder)
    time.sleep(1.5)
    assert len(recorder.calls) == 1, "nothing is reconciled while the folder is missing"
    folder.mkdir()
    assert wait_for(lambda: len(recorder.calls) == 2, timeout=5)
    (folder / "a.yaml").write_text("tasks: {}\n")
    assert wait_for(lambda: len(recorder.calls) == 3, timeout=5), "events inside the new folder are seen"
    stop.set()
    thread.join(5)
