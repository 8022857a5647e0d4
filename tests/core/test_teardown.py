"""``core/teardown``: a command-line run ends with ``os._exit`` once its output is flushed and
its exit functions have run; everything else exits the normal way. Each case runs in a
process of its own (it ends the process), its output read through pipes."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PRELUDE = """\
import atexit, sys, threading, time
from reconciler.core import teardown
atexit.register(lambda: sys.stderr.write("exit functions ran\\n"))
"""

# (id, the body run inside ``teardown.skipped()``, exit code, stdout, stderr)
CASES = [
    ("returns", 'sys.stdout.write("no newline, still buffered")', 0, "no newline, still buffered", ""),
    ("exit-code", 'print("out"); sys.exit(3)', 3, "out\n", ""),
    ("exit-none", "sys.exit(None)", 0, "", ""),
    ("exit-message", 'sys.exit("a message")', 1, "", "a message\n"),
    ("exit-out-of-range", "sys.exit(2 ** 40)", 0, "", ""),  # as the interpreter's own exit: no OverflowError
    # A thread still running: the normal exit waits for it (os._exit would cut it short).
    ("thread", 'threading.Thread(target=lambda: (time.sleep(0.3), print("thread done"))).start()', 0,
     "thread done\n", ""),
]


@pytest.mark.parametrize(("body", "code", "out", "err"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_command_line_run_ends_with_its_code_its_output_and_its_exit_functions(
    body: str, code: int, out: str, err: str,
) -> None:
    script = PRELUDE + "with teardown.skipped():\n" + textwrap.indent(body, "    ") + "\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert (done.returncode, done.stdout) == (code, out), done.stderr
    assert done.stderr == err + "exit functions ran\n"


def test_the_ending_is_os_exit_with_what_was_kept_still_held() -> None:
    """Kept objects are never freed (a normal exit frees them when it clears the modules); an
    object dropped before the end is; outside a command-line run, ``keep`` holds nothing."""
    script = PRELUDE + textwrap.dedent("""\
        import os
        class Big:
            def __init__(self, name): self.name = name
            def __del__(self): os.write(1, f"{self.name} freed\\n".encode())
        outside = Big("outside")
        teardown.keep(outside)
        del outside
        with teardown.skipped():
            kept, dropped = Big("kept"), Big("dropped")
            teardown.keep(kept)
            del kept, dropped
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["outside freed", "dropped freed"]


def test_reconcile_from_the_command_line_exits_with_its_code_and_whole_output(tmp_path: Path) -> None:
    (tmp_path / "tasks.yaml").write_text("tasks:\n  nightly:\n    task: project.tasks.no_such_task\n    every: 1h\n")
    done = subprocess.run(
        [sys.executable, "manage.py", "reconcile", "validate", "--path", str(tmp_path), "--format", "json"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert '"unknown-task"' in done.stdout and done.stdout.rstrip().endswith("}"), done.stdout[-500:]
