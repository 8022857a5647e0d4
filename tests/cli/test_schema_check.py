"""The schema-only check runs without Django settings or a Celery app."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.support.cli import REPO


def run(*paths: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    code = "import sys; from reconciler.cli.schema_check import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *paths], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )


def test_language_errors_found_without_django() -> None:
    result = run("tests/fixtures/invalid/bad-cron.yaml", "tests/fixtures/invalid/duplicate-name-in-file.yaml")
    assert result.returncode == 1, result.stderr
    assert "bad-cron.yaml:4:11: error[bad-cron]" in result.stdout
    assert result.stdout.count("error[duplicate-name]") == 2


def test_example_schedules_pass_and_django_is_not_imported() -> None:
    code = (
        "import sys; from reconciler.cli.schema_check import main; rc = main(['schedules']); "
        "sys.exit(rc or ('django.conf' in sys.modules and 3))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
