"""One schedules folder, several deployments: selection, overrides, defaults with overrides,
validation of every environment; apply of the active one on SQLite and PostgreSQL."""
from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.core.schedule import Crontab, Interval
from reconciler.declare.environments import UnknownEnvironment
from reconciler.pipeline import plan_paths, validate_paths
from tests.support.cli import manage
from tests.support.engine import NOW, apply_yaml, registry

ENVS = ["staging", "production"]
YAML = """defaults:
  queue: reports
  overrides:
    staging: {queue: reports-staging}
tasks:
  digest:
    task: project.tasks.send_digest
    cron: "0 8 * * *"
    args: [staff]
    overrides:
      staging: {enabled: false}
      production: {cron: "0 3 * * *", timezone: Europe/Berlin}
  only-in-production:
    task: project.tasks.heartbeat
    every: 1h
    environments: [production]
  faster-in-staging:
    task: project.tasks.heartbeat
    cron: "*/30 * * * *"
    timezone: Europe/Paris
    overrides:
      staging: {every: 5m}
"""


@pytest.fixture
def folder(tmp_path: Path, settings) -> Path:  # type: ignore[no-untyped-def]
    settings.RECONCILER_ENVIRONMENTS = ENVS
    settings.RECONCILER_ENV = None
    (tmp_path / "s.yaml").write_text(YAML)
    return tmp_path


def specs(folder: Path, env: str):  # type: ignore[no-untyped-def]
    result = validate_paths([folder], registry=registry(), now=NOW, env=env)
    assert result.valid, result.diagnostics
    return {t.name: t.spec for t in result.declared.tasks}


def test_each_environment_sees_its_own_declarations(folder: Path) -> None:
    staging, production = specs(folder, "staging"), specs(folder, "production")
    assert sorted(staging) == ["digest", "faster-in-staging"]
    assert sorted(production) == ["digest", "faster-in-staging", "only-in-production"]
    assert (staging["digest"].enabled, staging["digest"].queue) == (False, "reports-staging")
    assert production["digest"].schedule == Crontab("0", "3", timezone="Europe/Berlin")
    assert (production["digest"].enabled, production["digest"].queue) == (True, "reports")
    assert staging["faster-in-staging"].schedule == Interval(300), "an override's schedule replaces it whole"
    assert production["faster-in-staging"].schedule == Crontab.canonical("Europe/Paris", minute="*/30")


PROBLEMS = [
    ("unknown-in-overrides", "    overrides:\n      stagng: {enabled: false}\n", "unknown-environment", "stagng",
     "did you mean 'staging'?"),
    ("unknown-in-limit", "    environments: [prod]\n", "unknown-environment", "prod", "did you mean 'production'?"),
    ("bad-only-in-staging", "    overrides:\n      staging: {every: soon}\n", "bad-duration",
     "(in environment staging)", None),
]


@pytest.mark.parametrize(("case", "extra", "code", "in_message", "hint"), PROBLEMS, ids=[p[0] for p in PROBLEMS])
def test_validate_checks_every_environment(
    folder: Path, case: str, extra: str, code: str, in_message: str, hint: str | None,
) -> None:
    (folder / "s.yaml").write_text(f"tasks:\n  x:\n    task: project.tasks.heartbeat\n    every: 1h\n{extra}")
    result = validate_paths([folder], registry=registry(), now=NOW)
    [problem] = result.diagnostics
    assert (problem.code, problem.source.line) == (code, 6 if "overrides" in extra else 5)
    assert in_message in problem.message
    if hint is not None:
        assert problem.hint == hint


BASE = "tasks:\n  x:\n    task: project.tasks.send_digest\n    every: 1h\n    args: [staff]\n"
# (case, YAML after the base declaration ("": a defaults override before it), code, line and column)
LOCATED = [
    ("unknown-task-in-override", "    overrides:\n      staging:\n        task: project.tasks.nope\n",
     "unknown-task", (8, 15)),
    ("unexpected-kwarg-in-override", "    overrides:\n      staging:\n        kwargs: {bogus: 1}\n",
     "bad-arguments", (8, 18)),
    ("args-in-override", "    overrides:\n      staging:\n        args: [1, 2, 3]\n", "bad-arguments", (8, 15)),
    ("kwarg-in-defaults-override", "", "bad-arguments", (3, 24)),
]
DEFAULTS_OVERRIDE = "defaults:\n  overrides:\n    staging: {kwargs: {bogus: 1}}\n"


@pytest.mark.parametrize(("case", "extra", "code", "where"), LOCATED, ids=[c[0] for c in LOCATED])
def test_a_problem_found_after_an_override_is_reported_where_the_override_writes_it(
    folder: Path, case: str, extra: str, code: str, where: tuple[int, int],
) -> None:
    (folder / "s.yaml").write_text(BASE + extra if extra else DEFAULTS_OVERRIDE + BASE)
    [problem] = validate_paths([folder], registry=registry(), now=NOW).diagnostics
    assert problem.code == code and "(in environment staging)" in problem.message
    assert (problem.source.line, problem.source.column) == where, problem


def test_a_schedule_in_the_defaults_override_is_every_tasks_schedule_there(folder: Path) -> None:
    (folder / "s.yaml").write_text(
        "defaults:\n  overrides:\n    staging: {every: 5m}\ntasks:\n"
        "  digest:\n    task: project.tasks.heartbeat\n    cron: \"0 8 * * *\"\n    timezone: Europe/Paris\n"
        "  own-override:\n    task: project.tasks.heartbeat\n    cron: \"0 9 * * *\"\n"
        "    overrides:\n      staging: {cron: \"0 10 * * *\"}\n"
    )
    staging, production = specs(folder, "staging"), specs(folder, "production")
    assert staging["digest"].schedule == Interval(300)
    assert staging["own-override"].schedule == Crontab.canonical("UTC", minute="0", hour="10")
    assert production["digest"].schedule == Crontab.canonical("Europe/Paris", minute="0", hour="8")
    (folder / "s.yaml").write_text((folder / "s.yaml").read_text().replace("every: 5m", "every: soon"))
    problems = validate_paths([folder], registry=registry(), now=NOW).diagnostics
    assert {(p.code, p.source.line, p.source.column) for p in problems} == {("bad-duration", 3, 22)}


def test_environment_keys_without_environments_are_an_error(folder: Path, settings) -> None:  # type: ignore[no-untyped-def]
    settings.RECONCILER_ENVIRONMENTS = []
    result = validate_paths([folder], registry=registry(), now=NOW)
    assert {d.code for d in result.diagnostics} == {"unknown-environment"}
    assert "RECONCILER_ENVIRONMENTS" in result.diagnostics[0].hint


def test_plan_needs_a_known_active_environment(folder: Path) -> None:
    with pytest.raises(UnknownEnvironment, match="--env or RECONCILER_ENV"):
        plan_paths([folder], registry=registry(), now=NOW)
    with pytest.raises(UnknownEnvironment, match="did you mean 'staging'"):
        validate_paths([folder], registry=registry(), now=NOW, env="stagin")


def test_the_command_line_names_the_environment(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(YAML)
    env = {"RECONCILER_ENVIRONMENTS": "staging,production", "DATABASE_URL": "postgres://x@127.0.0.1:1/none"}
    assert manage("reconcile", "validate", "--path", str(tmp_path), env=env).returncode == 0
    wrong = manage("reconcile", "plan", "--path", str(tmp_path), "--env", "prod", env=env)
    assert wrong.returncode == 2 and "did you mean 'production'" in wrong.stderr


@pytest.mark.django_db
@pytest.mark.db_backend
def test_apply_uses_the_active_environment(folder: Path, settings) -> None:  # type: ignore[no-untyped-def]
    settings.RECONCILER_ENV = "staging"
    apply_yaml(folder)
    from django_celery_beat.models import PeriodicTask

    assert dict(PeriodicTask.objects.values_list("name", "enabled")) == {"digest": False, "faster-in-staging": True}
    settings.RECONCILER_ENV = "production"
    plan = plan_paths([folder], registry=registry(), now=NOW).plan
    assert plan is not None
    assert [(c.action.value, c.name) for c in plan.changes] == [
        ("update", "digest"), ("update", "faster-in-staging"), ("create", "only-in-production"),
    ]
    apply_yaml(folder)
    assert PeriodicTask.objects.get(name="digest").crontab.hour == "3"


def test_plan_against_a_ref_per_environment(tmp_path: Path) -> None:
    import json
    import subprocess

    repo = tmp_path / "repo"
    folder = repo / "schedules"
    folder.mkdir(parents=True)
    (folder / "s.yaml").write_text(YAML)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for step in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "base"]):
        subprocess.run([*git, *step], check=True)
    (folder / "s.yaml").write_text(YAML.replace('production: {cron: "0 3 * * *"', 'production: {cron: "0 4 * * *"'))
    env = {"RECONCILER_ENVIRONMENTS": "staging,production", "DATABASE_URL": "postgres://x@127.0.0.1:1/none"}
    every = manage("reconcile", "plan", "--against", "HEAD", "--path", str(folder), "--all-envs", "--format", "json",
                   "--now", "2026-11-24T12:00:00+00:00", env=env)
    assert every.returncode == 0, every.stderr
    plans = json.loads(every.stdout)["environments"]
    assert plans["staging"]["changes"] == []
    [change] = plans["production"]["changes"]
    assert (change["action"], change["name"]) == ("update", "digest")
    one = manage("reconcile", "plan", "--against", "HEAD", "--path", str(folder), "--env", "staging",
                 "--detailed-exitcode", env=env)
    assert one.returncode == 0, one.stdout + one.stderr
    none = manage("reconcile", "plan", "--against", "HEAD", "--path", str(folder), env=env)
    assert none.returncode == 2 and "--env or RECONCILER_ENV" in none.stderr
