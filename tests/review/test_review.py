"""plan --against REF on real git repositories, with no database reachable.

In process, pytest-django refuses any database access (no ``django_db`` mark); the command
runs once more as a process with DATABASE_URL pointing at a server that does not exist.
"""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.pipeline import default_registry
from reconciler.review.against import Review, plan_against
from reconciler.review.comment import MARKER
from reconciler.review.gitref import GitError
from reconciler.review.markdown import COLLAPSE_OVER
from reconciler.review.render import RENDERERS
from tests.render.test_diagnostics import assert_golden
from tests.support.cli import REPO
from tests.support.gitrepo import Repo

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
UNREACHABLE_DB = {"DATABASE_URL": "postgres://postgres@127.0.0.1:1/nope"}

BASE_A = """\
tasks:
  nightly-cleanup:
    task: project.tasks.cleanup_sessions
    cron: "30 2 * * *"
    timezone: Europe/Berlin
  heartbeat-old:
    task: project.tasks.heartbeat
    every: 30s
  hourly-sync:
    task: project.tasks.sync_inventory
    every: 1h
    args: [main]
  paused-later:
    task: project.tasks.heartbeat
    cron: "0 */6 * * *"
    timezone: UTC
"""
HEAD_A = """\
tasks:
  nightly-cleanup:
    task: project.tasks.cleanup_sessions
    cron: "0 3 * * *"
    timezone: Europe/Berlin
  heartbeat:
    task: project.tasks.heartbeat
    every: 30s
    renamed_from: heartbeat-old
  paused-later:
    task: project.tasks.heartbeat
    cron: "0 */6 * * *"
    timezone: UTC
    enabled: false
  "launch|<!--x-->`y`":
    task: project.tasks.generate_report
    at: "2026-12-01T09:00:00+01:00"
    args: [launch]
"""
REPORTS = """\
defaults:
  timezone: Europe/Paris
tasks:
  staff-digest:
    task: project.tasks.send_digest
    cron: "30 7 * * mon-fri"
    args: [staff]
"""
STEADY = """\
tasks:
  steady:
    task: project.tasks.heartbeat
    every: 5m
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """main: four files; branch feature: one file edited, one deleted, one moved (git mv)."""
    repo = Repo(tmp_path / "project")
    repo.write("schedules/a.yaml", BASE_A)
    repo.write("schedules/reports.yaml", REPORTS)
    repo.write("schedules/steady.yaml", STEADY)
    repo.write("README", "not a schedule\n")
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("schedules/a.yaml", HEAD_A)
    repo.git("rm", "-q", "schedules/reports.yaml")
    (repo.root / "schedules" / "moved").mkdir()
    repo.git("mv", "schedules/steady.yaml", "schedules/moved/steady.yaml")
    repo.commit("feature")
    monkeypatch.chdir(repo.root)
    return repo


def review(ref: str = "main", paths: list[Path] | None = None) -> Review:
    return plan_against(ref, paths or [Path("schedules")], registry=default_registry(), now=NOW)


def test_the_plan_uses_the_same_vocabulary_as_the_database_plan(repo: Repo) -> None:
    plan = review().plan
    assert plan is not None
    assert [(c.action.value, c.name) for c in plan.changes] == [
        ("rename", "heartbeat"),
        ("delete", "hourly-sync"),
        ("create", "launch|<!--x-->`y`"),
        ("update", "nightly-cleanup"),
        ("update", "paused-later"),
        ("delete", "staff-digest"),
    ]
    assert plan.unchanged == ("steady",)  # moved to another file: no change
    nightly = plan.changes[3]
    assert [(f.field, f.old["expression"], f.new["expression"]) for f in nightly.fields] == [
        ("schedule", "30 2 * * *", "0 3 * * *")
    ]
    assert tuple(r.words for r in plan.changes[5].reasons) == (
        "no longer declared (was declared in schedules/reports.yaml)",
    )


@pytest.mark.parametrize("fmt", ["text", "markdown", "github"])
def test_renders_like_golden(repo: Repo, fmt: str) -> None:
    sha = repo.git("rev-parse", "main")
    text = RENDERERS[fmt](review()).replace(sha, "<sha>").replace(sha[:12], "<sha>")
    assert_golden(f"review.{ {'markdown': 'md'}.get(fmt, fmt) }", text)


def test_json_is_the_plan_contract_plus_against_and_next_runs(repo: Repo) -> None:
    result = review("main")
    payload = json.loads(RENDERERS["json"](result))
    assert result.plan is not None
    assert set(payload) == {*result.plan.to_json(), "against", "now", "load"}
    assert {"format_version", "summary", "changes", "warnings"} <= set(payload)
    assert payload["against"] == {"ref": "main", "commit": repo.git("rev-parse", "main")}
    assert payload["summary"]["create"] == 1 and payload["summary"]["delete"] == 2
    changes = {c["name"]: c for c in payload["changes"]}
    for change in changes.values():
        assert {"action", "name", "task", "fields", "reasons", "source", "previous_name"} <= set(change)
    assert changes["nightly-cleanup"]["next_runs"] == {
        "before": ["2026-11-25T02:30:00+01:00", "2026-11-26T02:30:00+01:00", "2026-11-27T02:30:00+01:00"],
        "after": ["2026-11-25T03:00:00+01:00", "2026-11-26T03:00:00+01:00", "2026-11-27T03:00:00+01:00"],
    }
    assert changes["paused-later"]["next_runs"]["after"] == []  # disabled
    assert changes["paused-later"]["next_runs"]["before"][0] == "2026-11-24T18:00:00+00:00"
    assert changes["hourly-sync"]["next_runs"] == {
        "before": ["2026-11-24T13:00:00+00:00", "2026-11-24T14:00:00+00:00", "2026-11-24T15:00:00+00:00"],
        "after": [],  # deleted
    }
    as_declared = ["2026-12-01T09:00:00+01:00"]
    assert changes["launch|<!--x-->`y`"]["next_runs"] == {"before": [], "after": as_declared}
    assert "next_runs" not in changes["heartbeat"]  # a rename that does not move the schedule
    assert changes["heartbeat"]["previous_name"] == "heartbeat-old"


def test_no_changes_against_the_same_commit(repo: Repo) -> None:
    result = review("HEAD")
    assert result.plan is not None and not result.plan.changes
    assert RENDERERS["text"](result).startswith("No changes against HEAD (")


def test_any_commit_ish(repo: Repo) -> None:
    by_sha = review(repo.git("rev-parse", "main"))
    by_parent = review("HEAD~1")
    assert by_sha.plan == by_parent.plan == review("main").plan


def test_invalid_files_at_the_ref_are_a_warning_and_the_valid_rest_is_compared(repo: Repo) -> None:
    repo.git("checkout", "-q", "main")
    repo.write("schedules/broken.yaml", "tasks:\n  bad:\n    task: project.tasks.heartbeat\n    cron: '61 * * * *'\n")
    repo.write("schedules/syntax.yaml", "tasks: [\n")
    repo.commit("a broken main")
    repo.git("checkout", "-q", "feature")
    result = review("main")
    assert result.plan is not None
    assert {c.name for c in result.plan.changes} >= {"nightly-cleanup", "staff-digest"}
    first, *details = result.plan.warnings
    assert first.startswith("2 errors at main (") and "schedules/broken.yaml, schedules/syntax.yaml" in first
    assert [w.split("]")[0].rsplit("[", 1)[1] for w in details] == ["bad-cron", "yaml-syntax"]


def test_a_task_the_app_no_longer_registers_still_shows_as_deleted(repo: Repo) -> None:
    repo.git("checkout", "-q", "main")
    repo.write("schedules/old.yaml", "tasks:\n  legacy:\n    task: project.tasks.removed_long_ago\n    every: 1h\n")
    repo.commit("a task whose code is gone")
    repo.git("checkout", "-q", "feature")
    result = review("main")
    assert result.plan is not None
    assert ("delete", "legacy") in {(c.action.value, c.name) for c in result.plan.changes}
    assert not result.base_problems


def test_invalid_working_tree_has_no_plan(repo: Repo) -> None:
    repo.write("schedules/a.yaml", HEAD_A + "  oops:\n    task: project.tasks.heartbeat\n")
    result = review()
    assert result.plan is None and not result.validation.valid
    assert MARKER in RENDERERS["markdown"](result) and "schedule-count" in RENDERERS["markdown"](result)


def test_a_new_schedules_folder_is_all_creates(repo: Repo) -> None:
    repo.write("more/x.yaml", STEADY.replace("steady", "fresh"))
    repo.git("add", "more")
    result = review("main", [Path("more")])
    assert result.plan is not None and [c.action.value for c in result.plan.changes] == ["create"]


def test_more_than_ten_changes_collapse_into_details(repo: Repo) -> None:
    many = "tasks:\n" + "".join(
        f"  t{i:02d}:\n    task: project.tasks.heartbeat\n    every: {i + 1}m\n" for i in range(COLLAPSE_OVER + 1)
    )
    repo.write("schedules/many.yaml", many)
    text = RENDERERS["markdown"](review())
    assert text.count("<details><summary>") == COLLAPSE_OVER + 1 + 6
    assert text.count("</details>") == text.count("<details>")
    assert text.splitlines()[0].startswith("**Schedules:** Plan against main (") and text.endswith(MARKER + "\n")


@pytest.mark.parametrize(
    ("setup", "ref", "path", "reason"),
    [
        (None, "no-such-branch", "schedules", "the git ref 'no-such-branch' does not resolve to a commit"),
        (None, "--output=/tmp/x", "schedules", "the git ref '--output=/tmp/x' does not resolve to a commit"),
        (None, "main", "untracked", "untracked is not in git (neither at main nor in the index)"),
        ("outside", "main", "schedules,../elsewhere", "../elsewhere is outside the git repository"),
        ("no-git", "main", "schedules", "is not in a git repository"),
    ],
    ids=["unknown-ref", "option-like-ref", "untracked-path", "outside-the-repo", "not-a-repo"],
)
def test_git_errors_exit_2_with_one_line(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setup: str | None, ref: str, path: str, reason: str,
) -> None:
    (repo.root / "untracked").mkdir()
    (repo.root / "untracked" / "x.yaml").write_text(STEADY)
    if setup == "outside":
        (tmp_path / "elsewhere").mkdir()
    if setup == "no-git":
        plain = tmp_path / "plain"
        (plain / "schedules").mkdir(parents=True)
        monkeypatch.chdir(plain)
    with pytest.raises(GitError) as raised:
        review(ref, [Path(p) for p in path.split(",")])
    assert reason in str(raised.value) and "\n" not in str(raised.value)
    assert raised.value.exit_code == 2


def run_manage(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, str(REPO / "manage.py"), "reconcile", *args],
        cwd=cwd, env={**os.environ, **UNREACHABLE_DB}, capture_output=True, text=True, timeout=120, check=False,
    )


def test_command_with_no_database_reachable(repo: Repo) -> None:
    common = ["plan", "--against", "main", "--path", "schedules", "--now", "2026-11-24T12:00:00Z"]
    changes = run_manage(repo.root, *common, "--format", "json", "--detailed-exitcode")
    assert changes.returncode == 2, changes.stderr
    assert json.loads(changes.stdout)["against"]["ref"] == "main"
    same = run_manage(repo.root, "plan", "--against", "HEAD", "--path", "schedules", "--detailed-exitcode")
    assert same.returncode == 0 and same.stdout.startswith("No changes against HEAD"), same.stderr
    bad = run_manage(repo.root, "plan", "--against", "nope", "--path", "schedules")
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0
    assert "does not resolve to a commit" in bad.stderr
    as_json = run_manage(repo.root, "plan", "--against", "nope", "--path", "schedules", "--format", "json")
    assert as_json.returncode == 2 and json.loads(as_json.stdout)["error"]["kind"] == "git"
    repo.write("schedules/a.yaml", "tasks:\n  x:\n    task: project.tasks.heartbeat\n")
    invalid = run_manage(repo.root, *common)
    assert invalid.returncode == 1 and "error[schedule-count]" in invalid.stdout


def test_files_are_chosen_at_the_ref_as_in_the_working_tree(repo: Repo) -> None:
    """Any case of the suffix counts; hidden files and folders do not (as ``discover``)."""
    repo.write("schedules/UPPER.YAML", STEADY.replace("steady", "upper"))
    repo.write("schedules/.hidden/x.yaml", STEADY.replace("steady", "hidden"))
    repo.write("schedules/.x.yaml", STEADY.replace("steady", "dotted"))
    repo.commit("more files")
    result = review("HEAD")
    assert result.plan is not None and not result.plan.changes
    assert "upper" in result.plan.unchanged and "hidden" not in result.plan.unchanged
    assert review("HEAD", [Path("schedules/UPPER.YAML")]).plan.unchanged == ("upper",)  # type: ignore[union-attr]


def test_the_comment_says_when_the_busiest_minute_changes(repo: Repo) -> None:
    """Five runs at 18:00 UTC at main (the 30-second heartbeat twice, the hourly sync, the
    six-hourly task, the five-minute one); the change disables one and deletes another."""
    result = review()
    assert result.load is not None and result.load.busiest_changed
    line = "Busiest minute (next 24 h): 2026-11-24T18:00:00+00:00 with 5 runs → 2026-11-25T02:00:00+00:00 with 4 runs"
    assert f"**{line}**" in RENDERERS["markdown"](result)
    assert line in RENDERERS["text"](result)
    load = json.loads(RENDERERS["json"](result))["load"]
    assert load["busiest_minute"] == {
        "before": {"minute": "2026-11-24T18:00:00+00:00", "runs": 5},
        "after": {"minute": "2026-11-25T02:00:00+00:00", "runs": 4},
    }
    assert load["total_runs"]["before"] > load["total_runs"]["after"]


def test_no_busiest_minute_line_when_it_stays(repo: Repo) -> None:
    repo.git("checkout", "-q", "main")
    repo.write("schedules/steady.yaml", STEADY.replace("heartbeat", "cleanup_sessions"))  # same times
    result = review()
    assert result.load is not None and not result.load.busiest_changed
    assert "Busiest minute" not in RENDERERS["markdown"](result)
