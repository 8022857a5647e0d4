"""The apply history on a real database (SQLite and PostgreSQL): a record stores its plan packed
(format 2) and reads back equal to the plan JSON; a format 1 record stored before reads the same."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.core.plan import FieldChange, plan_from_json
from reconciler.core.plan_record import PACKED_VERSION, read_plan, unpack
from reconciler.engine import history
from reconciler.models import ApplyRecord
from tests.core.test_plan_record import large_import, old_record
from tests.support.engine import apply_yaml, interval_tasks

pytestmark = [pytest.mark.django_db, pytest.mark.db_backend]
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def by_field(change: FieldChange) -> str:
    return change.field


def test_an_apply_stores_its_plan_packed_and_reads_it_back_equal(tmp_path: Path) -> None:
    outcome = apply_yaml(tmp_path / "schedules", interval_tasks(3))
    stored = ApplyRecord.objects.get()
    assert stored.plan["format_version"] == PACKED_VERSION and stored.plan["summary"]["create"] == 3
    expected = outcome.result.plan.to_json(created_fields_limit=history.HISTORY_CREATED_FIELDS)
    assert unpack(stored.plan) == expected
    order = [list(c["fields"]) for c in expected["changes"]]
    assert [list(c["fields"]) for c in unpack(stored.plan)["changes"]] == order


def test_a_large_first_import_is_a_small_row() -> None:
    plan = plan_from_json(large_import(20_000))
    history.record("default", started_at=NOW, seconds=1.0, django_user="", revision="r", plan=plan,
                   outcome=ApplyRecord.Outcome.APPLIED)
    stored = ApplyRecord.objects.get()
    assert stored.created == 20_000 and len(stored.plan["changes"]) < 200_000  # ~10 bytes a create
    assert [c.name for c in read_plan(stored.plan).changes] == [c.name for c in plan.changes]


def test_a_format_1_record_stored_before_reads_as_it_always_did() -> None:
    old = old_record()
    ApplyRecord.objects.create(started_at=NOW, outcome=ApplyRecord.Outcome.APPLIED, plan=old)
    stored = ApplyRecord.objects.get().plan
    assert unpack(stored) == old
    # PostgreSQL's jsonb reorders a format 1 record's field keys (it always did): same changes,
    # the fields perhaps in another order. Format 2 keeps the order, inside its packed string.
    assert [(c.name, sorted(c.fields, key=by_field), c.reasons) for c in read_plan(stored).changes] == [
        (c.name, sorted(c.fields, key=by_field), c.reasons) for c in read_plan(old).changes
    ]
