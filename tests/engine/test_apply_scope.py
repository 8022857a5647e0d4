"""Ownership by schedules source, partial applies, adopt without writes, absolute expiry and
the apply history's record: on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from reconciler.core.errors import RefusedApply
from reconciler.core.plan import Action
from reconciler.core.plan_record import unpack
from reconciler.declare.export import render_yaml
from reconciler.engine.read import read_actual
from reconciler.models import ApplyRecord, ManagedTask
from tests.engine.test_apply import writes
from tests.support.engine import apply_yaml, plan_yaml, registry

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]

TWO = (
    "tasks:\n  {a}:\n    task: project.tasks.heartbeat\n    every: 60\n"
    "  {b}:\n    task: project.tasks.heartbeat\n    every: 120\n"
)


def files(folder: Path, **texts: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (folder / f"{name}.yaml").write_text(text)
    return folder


def names() -> list[str]:
    return sorted(PeriodicTask.objects.values_list("name", flat=True))


def test_applying_one_file_never_prunes_rows_declared_in_the_others(tmp_path: Path) -> None:
    folder = files(tmp_path / "schedules", a=TWO.format(a="a1", b="a2"), b=TWO.format(a="b1", b="b2"))
    apply_yaml(folder)
    (folder / "a.yaml").write_text(TWO.format(a="a1", b="a3"))
    outcome = apply_yaml(folder / "a.yaml")
    plan = outcome.result.plan
    assert [(c.action, c.name) for c in plan.changes] == [(Action.DELETE, "a2"), (Action.CREATE, "a3")]
    assert plan.scope.within and plan.scope.within[0].endswith("schedules/a.yaml")
    assert names() == ["a1", "a3", "b1", "b2"]


def test_two_sources_over_one_database_prune_only_their_own(tmp_path: Path) -> None:
    billing = files(tmp_path / "billing", s=TWO.format(a="invoice", b="dunning"))
    ops = files(tmp_path / "ops", s=TWO.format(a="backup", b="vacuum"))
    apply_yaml(billing)
    apply_yaml(ops)
    sources = dict(ManagedTask.objects.values_list("periodic_task__name", "source"))
    assert sources == {"invoice": "billing", "dunning": "billing", "backup": "ops", "vacuum": "ops"}
    (billing / "s.yaml").write_text(TWO.format(a="invoice", b="reminder"))
    apply_yaml(billing)
    assert names() == ["backup", "invoice", "reminder", "vacuum"]


def test_a_name_declared_by_two_sources_is_refused(tmp_path: Path) -> None:
    apply_yaml(files(tmp_path / "billing", s=TWO.format(a="shared", b="x")))
    with pytest.raises(RefusedApply, match="shared"):
        apply_yaml(files(tmp_path / "ops", s=TWO.format(a="shared", b="y")))
    assert names() == ["shared", "x"]


def test_adopting_an_equal_row_writes_only_ownership(tmp_path: Path) -> None:
    every = IntervalSchedule.objects.create(every=60, period=IntervalSchedule.SECONDS)
    made_in_admin = PeriodicTask.objects.create(name="a1", task="project.tasks.heartbeat", interval=every)
    PeriodicTask.objects.filter(pk=made_in_admin.pk).update(date_changed=datetime(2026, 1, 1, tzinfo=UTC))
    folder = files(tmp_path / "s", s="tasks:\n  a1:\n    task: project.tasks.heartbeat\n    every: 60\n")
    with CaptureQueriesContext(connection) as queries:
        outcome = apply_yaml(folder, adopt=True)
    [change] = outcome.result.plan.changes
    assert (change.action, change.fields) == (Action.ADOPT, ())
    tables = {sql.split()[2 if sql.upper().startswith(("INSERT", "DELETE")) else 1] for sql in writes(queries)}
    assert not any("periodictask" in t for t in tables), tables
    assert PeriodicTask.objects.get(pk=made_in_admin.pk).date_changed == datetime(2026, 1, 1, tzinfo=UTC)
    assert ManagedTask.objects.filter(periodic_task=made_in_admin).exists()
    assert plan_yaml(folder).changes == ()


def test_absolute_expiry_applies_plans_empty_and_exports(tmp_path: Path) -> None:
    text = ("tasks:\n  promo:\n    task: project.tasks.heartbeat\n    every: 1h\n"
            "    expires: \"2031-03-01T00:00:00+01:00\"\n")
    folder = files(tmp_path / "s", s=text)
    apply_yaml(folder)
    row = PeriodicTask.objects.get(name="promo")
    assert (row.expires, row.expire_seconds) == (datetime(2031, 2, 28, 23, tzinfo=UTC), None)
    assert plan_yaml(folder).changes == ()
    exported = render_yaml(t.spec for t in read_actual().tasks)
    assert "expires: '2031-02-28T23:00:00+00:00'" in exported.text and not exported.skipped


def test_history_keeps_created_fields_and_marks_uncommitted_changes(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    folder = files(repo / "schedules", s=TWO.format(a="a1", b="a2"))
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    apply_yaml(folder, revision="")
    first = ApplyRecord.objects.get()
    assert first.revision == head
    created = {c["name"]: c["fields"] for c in unpack(first.plan)["changes"]}
    assert created["a1"]["schedule"]["new"] == {"kind": "interval", "every": 60}
    (folder / "s.yaml").write_text(TWO.format(a="a1", b="a3"))
    apply_yaml(folder, revision="")
    assert ApplyRecord.objects.order_by("-id").first().revision == f"{head}-dirty"


def test_validate_green_on_column_limits_means_apply_succeeds(tmp_path: Path) -> None:
    longest = "q" * 200
    text = (f"tasks:\n  {'n' * 200}:\n    task: project.tasks.heartbeat\n    every: 2147483647\n"
            f"    expires: 2147483647\n    queue: {longest}\n    exchange: {longest}\n    routing_key: {longest}\n"
            "    start_time: \"9998-12-31T00:00:00+00:00\"\n    description: \"é \\u2028 ok\"\n")
    folder = files(tmp_path / "s", s=text)
    apply_yaml(folder)
    assert plan_yaml(folder).changes == ()
    assert registry()  # the real registry validated it


def test_a_large_import_keeps_the_first_created_fields_and_says_so_for_the_rest(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from reconciler.core.plan import FIELDS_OMITTED
    from reconciler.engine import history

    monkeypatch.setattr(history, "HISTORY_CREATED_FIELDS", 2)
    apply_yaml(files(tmp_path / "s", a=TWO.format(a="a1", b="a2"), b=TWO.format(a="b1", b="b2")))
    changes = {c["name"]: c for c in unpack(ApplyRecord.objects.get().plan)["changes"]}
    assert [name for name, c in sorted(changes.items()) if c["fields"]] == ["a1", "a2"]
    omitted = [c for n, c in changes.items() if n in ("b1", "b2")]
    assert all(FIELDS_OMITTED.words in c["reasons"] and not c["fields"] for c in omitted)
