"""``manage.py reconcile``: a new process imports only the subcommand it runs, and the
command line still reads as one parser (help, choices, errors)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.management.commands.reconcile import SUBCOMMANDS
from tests.support.cli import REPO, manage


def imported(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """``manage.py ARGS`` as a new process, and every module it had imported at exit."""
    out = tmp_path / "modules.json"
    script = (
        "import atexit, json, runpy, sys\n"
        f"atexit.register(lambda: open({str(out)!r}, 'w').write(json.dumps(sorted(sys.modules))))\n"
        f"sys.argv = ['manage.py', *{list(args)!r}]\n"
        "runpy.run_path('manage.py', run_name='__main__')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )
    return proc, set(json.loads(out.read_text())) if out.exists() else set()


def test_a_subcommand_imports_its_own_module_only(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    proc, modules = imported(tmp_path, "reconcile", "validate", "--path", str(tmp_path / "empty"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    cli = {m for m in modules if m.startswith("reconciler.cli.")}
    assert cli == {"reconciler.cli.validate", "reconciler.cli.common"}


def test_help_still_lists_every_subcommand() -> None:
    proc = manage("reconcile", "--help")
    assert proc.returncode == 0, proc.stderr
    for name in SUBCOMMANDS:
        assert name in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("reconcile", "nosuch"), "invalid choice: 'nosuch'"),
        (("reconcile", "validate", "--bogus"), "unrecognized arguments: --bogus"),
    ],
    ids=["unknown-subcommand", "unknown-option"],
)
def test_usage_errors_are_argparse_s(args: tuple[str, ...], message: str) -> None:
    proc = manage(*args)
    assert proc.returncode != 0 and message in proc.stderr
