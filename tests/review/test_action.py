"""action.yml's shell steps run as GitHub would run them (bash, the step's env, the files
GitHub provides), on a real git repository, with no database and no GitHub."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cli import REPO
from tests.support.gitrepo import Repo

ACTION = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
STEPS = {step["name"]: step for step in ACTION["runs"]["steps"]}
EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def run_step(name: str, context: dict[str, str], runner: Path, cwd: Path, job_env: dict[str, str]) -> dict[str, str]:
    """Run one step's script; returns the outputs it wrote to $GITHUB_OUTPUT. What it writes to
    $GITHUB_ENV goes into ``job_env``, which the later steps get."""
    step: dict[str, Any] = STEPS[name]
    env = {key: EXPRESSION.sub(lambda m: context.get(m.group(1), ""), str(value)) for key, value in step["env"].items()}
    output = runner / f"{name}.out"
    output.write_text("")
    files = {key: str(runner / key.lower()) for key in ("GITHUB_ENV", "GITHUB_STEP_SUMMARY")}
    for path in files.values():
        Path(path).touch()
    done = subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, **job_env, **env, **files, "GITHUB_OUTPUT": str(output), "RUNNER_TEMP": str(runner),
             "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nope", "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for line in Path(files["GITHUB_ENV"]).read_text().splitlines():
        key, _, value = line.partition("=")
        job_env[key] = value
    return dict(line.split("=", 1) for line in output.read_text().splitlines())


@pytest.fixture
def checkout(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "checkout")
    repo.write("schedules/a.yaml", "tasks:\n  beat:\n    task: project.tasks.heartbeat\n    every: 1m\n")
    repo.commit("base")
    repo.write("schedules/a.yaml", "tasks:\n  beat:\n    task: project.tasks.heartbeat\n    every: 2m\n")
    repo.commit("the pull request")
    return repo


def context(repo: Repo, **outputs: str) -> dict[str, str]:
    return {
        "inputs.base || github.event.pull_request.base.sha": repo.git("rev-parse", "HEAD~1"),
        "inputs.path": "schedules", "inputs.strict": "false", "inputs.python": sys.executable,
        "inputs.manage": str(REPO / "manage.py"), **outputs,
    }


def test_validate_then_plan_against_the_base_writes_the_comment(checkout: Repo, tmp_path: Path) -> None:
    ctx, job_env = context(checkout), {}
    run_step("Fetch the base commit", ctx, tmp_path, checkout.root, job_env)
    assert job_env == {"SCHEDULES_BASE": checkout.git("rev-parse", "HEAD~1")}
    validated = run_step("Validate the schedules", ctx, tmp_path, checkout.root, job_env)
    planned = run_step("Plan against the base", ctx, tmp_path, checkout.root, job_env)
    assert validated == {"status": "0"}
    assert planned["status"] == "0" and planned["changes"] == "true" and planned["planned"] == "true"
    body = Path(planned["file"]).read_text()
    assert body.startswith("**Schedules:** Plan against ") and "every 1m" in body and "every 2m" in body
    assert body.rstrip().endswith("<!-- schedules-plan -->")
    assert body in (tmp_path / "github_step_summary").read_text()
    verdict = {"steps.validate.outputs.status": "0", "steps.plan.outputs.status": planned["status"]}
    run_step("Verdict", verdict, tmp_path, checkout.root, job_env)


def test_a_bad_base_is_an_error_not_changes(checkout: Repo, tmp_path: Path) -> None:
    planned = run_step("Plan against the base", context(checkout), tmp_path, checkout.root, {"SCHEDULES_BASE": "nope"})
    assert planned["status"] == "2" and planned["changes"] == "false" and planned["planned"] == "false"
