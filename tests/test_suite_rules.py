"""The rules tests/conftest.py enforces on every test run, checked on a real pytest run (a
subprocess, on a throw-away test module that loads the conftest as a plugin):

- under CI=true, any skip whose reason names a service fails, however it was raised;
  the one exception is ``only_backend``'s "runs in the ... pass" skip;
- ``only_backend`` implies ``db_backend``, so the PostgreSQL pass (``-m db_backend``) runs it;
- UPDATE_GOLDEN is refused under CI=true, and a regenerated golden file is reported
  "regenerated" (a skip), never a pass.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.db import connection

from tests.support.cli import REPO

MODULE = '''
import pytest
from django.db import connection

from tests import conftest

OTHER = "postgresql" if connection.vendor == "sqlite" else "sqlite"


def test_redis_skip():
    pytest.skip("Redis went away")


def test_importorskip_of_a_service_client():
    pytest.importorskip("redis_client_that_does_not_exist")


def test_plain_skip():
    pytest.skip("nothing to do here")


@pytest.mark.only_backend(OTHER)
def test_of_the_other_pass():
    raise AssertionError("never runs in this pass")


@pytest.mark.xfail(reason="the beat is known to be wrong here", strict=True)
def test_xfail_naming_a_service():
    raise AssertionError


def test_golden(tmp_path, monkeypatch):
    monkeypatch.setattr(conftest, "GOLDEN", tmp_path)
    (tmp_path / "g.text").write_text("old")
    conftest.assert_golden("g.text", "new")
    conftest.assert_golden("h.text", "second")
    assert (tmp_path / "g.text").read_text() == "new" and (tmp_path / "h.text").read_text() == "second"
'''


def run(tmp_path: Path, *args: str, module_text: str = MODULE, **env: str) -> subprocess.CompletedProcess[str]:
    module = tmp_path / "test_inner.py"
    module.write_text(module_text)
    full_env = {k: v for k, v in os.environ.items() if k not in ("CI", "UPDATE_GOLDEN")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-c", str(REPO / "pyproject.toml"),
         "--rootdir", str(REPO), "-p", "no:cacheprovider", "-q", "-rA", str(module), *args],
        cwd=REPO, env={**full_env, **env}, capture_output=True, text=True, timeout=120, check=False,
    )


def test_under_ci_a_service_skip_fails_and_the_other_pass_skip_does_not(tmp_path: Path) -> None:
    result = run(tmp_path, "-k", "not test_golden", CI="true")
    assert result.returncode == 1, result.stdout[-3000:]
    assert "FAILED" in result.stdout
    lines = result.stdout.splitlines()

    def line_of(name: str) -> str:
        return next((line for line in lines if name in line and line.split(" ")[0].isupper()), "")

    assert line_of("test_redis_skip").startswith("FAILED"), result.stdout[-3000:]
    assert line_of("test_importorskip_of_a_service_client").startswith("FAILED"), result.stdout[-3000:]
    assert "service tests may not be skipped" in result.stdout
    assert "2 failed" in result.stdout, result.stdout[-3000:]
    assert line_of("nothing to do here").startswith("SKIPPED"), result.stdout[-3000:]
    other_pass = "runs in the PostgreSQL pass" if connection.vendor == "sqlite" else "runs in the SQLite pass"
    assert line_of(other_pass).startswith("SKIPPED"), result.stdout[-3000:]
    assert "2 skipped" in result.stdout and "1 xfailed" in result.stdout, result.stdout[-3000:]


def test_outside_ci_those_skips_stay_skips(tmp_path: Path) -> None:
    result = run(tmp_path, "-k", "not test_golden")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "4 skipped" in result.stdout and "1 xfailed" in result.stdout, result.stdout[-3000:]


def test_the_backend_pass_selection_includes_only_backend_tests(tmp_path: Path) -> None:
    result = run(tmp_path, "-m", "db_backend", "--collect-only")
    assert "test_of_the_other_pass" in result.stdout, result.stdout[-3000:]
    assert "test_plain_skip" not in result.stdout
    assert "1/" in result.stdout and "selected" in result.stdout, result.stdout[-3000:]


def test_update_golden_is_refused_under_ci(tmp_path: Path) -> None:
    result = run(tmp_path, "-k", "test_golden", CI="true", UPDATE_GOLDEN="1")
    assert result.returncode == 4, result.stdout[-3000:] + result.stderr[-3000:]  # pytest's usage error
    assert "UPDATE_GOLDEN is set and CI=true" in result.stderr


def test_a_regenerated_golden_file_is_reported_regenerated_not_passed(tmp_path: Path) -> None:
    result = run(tmp_path, "-k", "test_golden", UPDATE_GOLDEN="1")
    assert "1 skipped" in result.stdout and "passed" not in result.stdout, result.stdout[-3000:]
    assert "regenerated tests/golden/g.text (CHANGED), tests/golden/h.text (created)" in result.stdout
    compared = run(tmp_path, "-k", "test_golden")
    assert compared.returncode == 1 and "differs from tests/golden/g.text" in compared.stdout, compared.stdout[-3000:]


def test_under_ci_a_module_skipped_at_import_for_a_service_fails(tmp_path: Path) -> None:
    text = 'import pytest\n\nredis = pytest.importorskip("redis_that_is_not_installed")\n\n\ndef test_x():\n    pass\n'
    assert "1 skipped" in run(tmp_path, module_text=text).stdout
    result = run(tmp_path, module_text=text, CI="true")
    assert result.returncode != 0 and "service tests may not be skipped" in result.stdout, result.stdout[-3000:]
