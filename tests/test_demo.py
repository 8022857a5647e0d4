"""bin/demo, as a reader runs it: its worker consumes every queue the example schedules use,
its broker files stay under var/, and SIGTERM stops every process it started."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def declared_queues() -> set[str]:
    queues = {"celery"}
    for path in (REPO / "schedules").glob("*.yaml"):
        document = yaml.safe_load(path.read_text()) or {}
        default = (document.get("defaults") or {}).get("queue")
        queues |= {body.get("queue", default) for body in (document.get("tasks") or {}).values()} - {None}
    return queues


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(condition, what: str, demo: subprocess.Popen[bytes], out: Path, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        assert demo.poll() is None, f"bin/demo exited:\n{out.read_text()}"
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}:\n{out.read_text()}")


def _still_running(demo: subprocess.Popen[bytes], logs: Path) -> str:
    """What a stop that hangs leaves to read: the processes left, and the end of each log."""
    ps = subprocess.run(["ps", "-o", "pid,stat,cmd", "-g", str(demo.pid)], capture_output=True, text=True, check=False)
    tails = [f"== {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
             for log in [*sorted(logs.glob("*.log")), logs / "demo.out"] if log.exists()]
    return "\n".join([ps.stdout, *tails])


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_demo_consumes_every_declared_queue_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_", "DJANGO_"))}
    port = _free_port()
    env.update(PROJECT_VAR_DIR=str(tmp_path), DEMO_PORT=str(port))
    out = tmp_path / "demo.out"
    with out.open("wb") as handle:
        demo = subprocess.Popen(
            ["bin/demo"], cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        worker_log = tmp_path / "worker.log"
        _wait_for(lambda: worker_log.exists() and " ready." in worker_log.read_text(), "the worker", demo, out)
        _wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, "runserver", demo, out)
        banner = worker_log.read_text()
        consumed = {line.split()[1] for line in banner.splitlines() if line.strip().startswith(".> ")}
        assert consumed == declared_queues()
        assert (tmp_path / "broker" / "control").is_dir()
        assert not (REPO / "control").exists()

        demo.send_signal(signal.SIGTERM)  # to bin/demo alone, as a supervisor or `kill` does
        try:
            code = demo.wait(timeout=60)
        except subprocess.TimeoutExpired:
            left = _still_running(demo, tmp_path)
            raise AssertionError(f"bin/demo still running 60 s after SIGTERM:\n{left}") from None
        assert code == 143
        deadline = time.monotonic() + 30
        while _group_alive(demo.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _group_alive(demo.pid), subprocess.run(
            ["ps", "-o", "pid,cmd", "-g", str(demo.pid)], capture_output=True, text=True, check=False,
        ).stdout
    finally:
        if _group_alive(demo.pid):
            os.killpg(demo.pid, signal.SIGKILL)
